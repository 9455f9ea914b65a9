"""First principal component of paired differences.

    dᵢ = h₊ᵢ − h₋ᵢ,   D = [d₁ … dₙ]ᵀ ∈ ℝⁿˣᵈ
    uncentred (default):  u = argmax_{‖u‖=1} ‖D u‖²            (top right-singular vector of D)
    centred:              u = argmax_{‖u‖=1} ‖(D − 1 d̄ᵀ) u‖²,   d̄ = (1/n) Σᵢ dᵢ

The sign of u is chosen so that positives project higher than negatives on average
(``mean(d) · u > 0``), and ``explained_variance_ratio = σ₁² / Σⱼ σⱼ²`` with σⱼ the singular
values of the (centred or uncentred) difference matrix. For the uncentred variant this is the
share of the second moment Σᵢ ‖dᵢ‖² along u, not of a variance.

The uncentred component keeps the common shift: if every pair differs by s·w plus noise, u → w.
Centring removes exactly that shift, so the centred component finds w only when the *size* of
the shift varies across pairs (dᵢ = sᵢ·w + noise with Var(sᵢ) large against the noise); with a
constant shift it returns the largest-variance noise direction. In repeng 0.4.0, ``pca_diff``
(its default) runs scikit-learn's PCA, which centres, on dᵢ — our ``centred=True`` — and
``pca_center`` runs it on ±dᵢ/2 around each pair midpoint, a set with zero mean, which is our
uncentred variant; repeng then sets the sign by a majority vote over pairs rather than by the mean
gap, so signs can differ when the two disagree. Both variants are unchanged by adding one vector
to all positives and negatives, because D is.

The thin SVD of D (``numpy.linalg.svd(full_matrices=False)``) costs O(n·d·min(n, d)): with n
pairs in the hundreds or thousands it stays well under a second up to d = 8192, so no randomised
SVD is used and the result is exact and deterministic.
"""

from __future__ import annotations

import numpy as np

from steerid.errors import DataError
from steerid.extract.base import Extractor
from steerid.validation import check_activations, check_bool


class PCA(Extractor):
    """Top principal direction of the positive-minus-negative pair differences.

    Args:
        centred: Subtract the mean difference before the SVD (see the module docstring for
            when this loses the signal). Default ``False``: the uncentred component.

    Attributes:
        direction_: Unit direction, shape ``(d,)``, positives projecting higher.
        raw_norm_: ``|mean(d) · direction_|``, the mean pair displacement along the direction.
        explained_variance_ratio_: σ₁² / Σⱼ σⱼ² of the difference matrix that was decomposed.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> neg = rng.normal(size=(50, 8))
        >>> pos = neg + np.eye(8)[0] * 3 + 0.1 * rng.normal(size=(50, 8))
        >>> est = PCA().fit(pos, neg)
        >>> round(float(est.direction_[0]), 2)
        1.0
    """

    method = "pca"
    paired = True
    _recorded = {"explained_variance_ratio": "explained_variance_ratio_"}

    explained_variance_ratio_: float

    def __init__(self, centred: bool = False) -> None:
        self.centred = centred

    def fit(self, pos: np.ndarray, neg: np.ndarray) -> "PCA":
        """Fit on paired activations (row ``i`` of ``pos`` and ``neg`` from the same pair).

        Args:
            pos: Positive activations, shape ``(n, d)``.
            neg: Negative activations, shape ``(n, d)``.

        Returns:
            ``self``, with ``direction_``, ``raw_norm_`` and ``explained_variance_ratio_`` set.

        Raises:
            DataError: Invalid shapes, unpaired counts, NaN/inf, all pairs identical, or (centred)
                fewer than two pairs or all differences equal.
        """
        check_bool(self.centred, "pca 'centred'")
        pos, neg = check_activations(pos, neg, paired=True)
        diffs = pos - neg
        total = float(np.linalg.norm(diffs))
        if self.centred:
            if diffs.shape[0] < 2:
                raise DataError(
                    "centred pca needs at least two pairs", "add pairs or use centred=False"
                )
            diffs = diffs - diffs.mean(axis=0)
        _, sing, vt = np.linalg.svd(diffs, full_matrices=False)
        # Rank-style tolerance: below it the leading singular value is rounding error of the
        # centring, and its singular vector is noise, not a direction.
        tolerance = np.finfo(np.float64).eps * max(diffs.shape) * total
        if self.centred and total > 0.0 and sing[0] <= tolerance:
            raise DataError(
                "centred pca: every pair differs by the same vector, nothing is left to centre",
                "use centred=False or mean_diff",
            )
        power = float(np.sum(sing**2))
        self.explained_variance_ratio_ = float(sing[0] ** 2) / power if power > 0 else 0.0
        return self._finish(vt[0] * sing[0], pos, neg)
