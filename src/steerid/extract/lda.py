"""Fisher linear discriminant with a Ledoit–Wolf shrunk covariance.

    v = Σ̂⁻¹ (μ₊ − μ₋)
    Σ̂ = (1 − λ) S + λ (tr S / d) I,   S = (1/n) Σᵢ (hᵢ − μ_{yᵢ})(hᵢ − μ_{yᵢ})ᵀ

S is the pooled within-class covariance (each example centred on its own class mean, n = n₊ + n₋)
and λ ∈ [0, 1] the Ledoit–Wolf shrinkage (``sklearn.covariance.LedoitWolf`` with
``assume_centered=True`` on the class-centred rows). The shrinkage keeps Σ̂ invertible when
n < d or when some directions carry no within-class variance. v is obtained with
``numpy.linalg.solve`` (an LU solve), never an explicit inverse.

What it estimates: Σ⁻¹(μ₊ − μ₋), the direction that best *separates* the classes, which is
parallel to the mean shift μ₊ − μ₋ only when the shift is an eigenvector of the within-class
covariance. When high-variance nuisance directions are orthogonal to the shift, both targets
coincide and the whitening down-weights the sampling noise that those directions put into the
mean difference, so ``lda`` recovers the shift from fewer examples than ``mean_diff``. When the
nuisance variance overlaps the shift, ``lda`` converges to Σ⁻¹(μ₊ − μ₋), tilted away from it.
v is in inverse activation units, so ``raw_norm_`` is the mean gap along the unit direction.
"""

from __future__ import annotations

import numpy as np
from sklearn.covariance import LedoitWolf

from steerid.errors import DataError
from steerid.extract.base import Extractor
from steerid.validation import check_activations


class LDA(Extractor):
    """Shrinkage linear discriminant direction (no hyper-parameters; λ is estimated).

    Attributes:
        direction_: Unit direction, shape ``(d,)``, positives projecting higher.
        raw_norm_: ``|(μ₊ − μ₋) · direction_|``.
        shrinkage_: The Ledoit–Wolf shrinkage λ used.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> pos = rng.normal(size=(40, 8)) + np.eye(8)[0] * 2
        >>> neg = rng.normal(size=(40, 8))
        >>> est = LDA().fit(pos, neg)
        >>> bool(est.direction_[0] > 0.8)
        True
    """

    method = "lda"
    _recorded = {"shrinkage": "shrinkage_"}

    shrinkage_: float

    def fit(self, pos: np.ndarray, neg: np.ndarray) -> "LDA":
        """Fit the discriminant.

        Args:
            pos: Positive activations, shape ``(n_pos, d)``.
            neg: Negative activations, shape ``(n_neg, d)``.

        Returns:
            ``self``, with ``direction_``, ``raw_norm_`` and ``shrinkage_`` set.

        Raises:
            DataError: Invalid shapes or values, no within-class variation (e.g. one example
                per class), or equal class means.
        """
        pos, neg = check_activations(pos, neg, paired=False)
        mu_pos, mu_neg = pos.mean(axis=0), neg.mean(axis=0)
        within = np.vstack([pos - mu_pos, neg - mu_neg])
        if not np.any(within):
            raise DataError(
                "lda: no variation within the classes, so no covariance to estimate",
                "give more than one distinct example per class, or use mean_diff",
            )
        cov = LedoitWolf(assume_centered=True, store_precision=False).fit(within)
        self.shrinkage_ = float(cov.shrinkage_)
        try:
            raw = np.linalg.solve(cov.covariance_, mu_pos - mu_neg)
        except np.linalg.LinAlgError as err:
            raise DataError(
                f"lda: the shrunk within-class covariance is singular ({err})",
                "add examples or use mean_diff",
            ) from err
        return self._finish(raw, pos, neg)
