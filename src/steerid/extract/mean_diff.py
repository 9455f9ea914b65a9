"""Mean difference (contrastive activation addition).

    v = μ₊ − μ₋,   μ± = (1/n±) Σᵢ h±ᵢ

with h the pooled site activation of each positive / negative example. The stored direction is
v/‖v‖ and ``raw_norm_ = ‖v‖``. Under a linear-Gaussian model h = μ + y·w + ε (y ∈ {0, 1},
isotropic ε) this is the maximum-likelihood estimate of w; with anisotropic noise it is biased
toward high-variance directions (see ``lda``).
"""

from __future__ import annotations

import numpy as np

from steerid.extract.base import Extractor
from steerid.validation import check_activations


class MeanDiff(Extractor):
    """Difference of class means (no hyper-parameters).

    Attributes:
        direction_: Unit direction ``(μ₊ − μ₋) / ‖μ₊ − μ₋‖``, shape ``(d,)``.
        raw_norm_: ``‖μ₊ − μ₋‖``.
    """

    method = "mean_diff"

    def fit(self, pos: np.ndarray, neg: np.ndarray) -> "MeanDiff":
        pos, neg = check_activations(pos, neg, paired=False)
        return self._finish(pos.mean(axis=0) - neg.mean(axis=0), pos, neg)
