"""Common shape of extraction methods (scikit-learn style).

Hyper-parameters go in ``__init__``; ``fit(pos, neg)`` takes two float arrays of pooled site
activations, shape ``(n_pos, d)`` and ``(n_neg, d)`` (paired methods need ``n_pos == n_neg``,
row ``i`` of each from the same contrastive pair), and sets:

- ``direction_``: unit-norm float64 vector of shape ``(d,)``, signed so that positives project
  higher than negatives on average: ``mean(pos @ u) > mean(neg @ u)``;
- ``raw_norm_``: the norm of the un-normalised estimate in activation units (for mean-diff it is
  ``‖μ₊ − μ₋‖``); methods whose raw vector is not in activation units report the norm of the
  mean difference projected on ``direction_``, so ``raw_norm_ · direction_`` is always a
  displacement of the size the data show.

``fit`` returns ``self``. ``params()`` returns the JSON-serialisable hyper-parameters (and
chosen values, e.g. a cross-validated regularisation strength) recorded in the provenance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from steerid.errors import DataError


def check_activations(pos: np.ndarray, neg: np.ndarray, *, paired: bool) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert the two activation matrices to float64."""
    pos = np.asarray(pos, dtype=np.float64)
    neg = np.asarray(neg, dtype=np.float64)
    if pos.ndim != 2 or neg.ndim != 2:
        raise DataError("activations must be 2-D arrays (n, d)", "pool tokens before fitting")
    if pos.shape[0] == 0 or neg.shape[0] == 0:
        raise DataError("no positive or no negative examples to fit on", "supply at least one pair")
    if pos.shape[1] != neg.shape[1]:
        raise DataError(
            f"positive and negative activations differ in width ({pos.shape[1]} vs {neg.shape[1]})",
            "capture both at the same site",
        )
    if paired and pos.shape[0] != neg.shape[0]:
        raise DataError(
            f"paired method needs as many positives as negatives ({pos.shape[0]} vs {neg.shape[0]})",
            "give complete contrastive pairs",
        )
    if not (np.isfinite(pos).all() and np.isfinite(neg).all()):
        raise DataError("activations contain NaN or inf", "check the model dtype and the prompts")
    return pos, neg


def align_sign(direction: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Flip ``direction`` so that positives project higher than negatives on average."""
    gap = float(pos.mean(axis=0) @ direction - neg.mean(axis=0) @ direction)
    return -direction if gap < 0 else direction


class Extractor(ABC):
    """Base class for a steering-direction estimator."""

    method: ClassVar[str]
    paired: ClassVar[bool] = False

    direction_: np.ndarray
    raw_norm_: float

    @abstractmethod
    def fit(self, pos: np.ndarray, neg: np.ndarray) -> "Extractor":
        """Estimate the direction from positive and negative activations."""

    def params(self) -> dict[str, Any]:
        """Hyper-parameters and fitted choices, JSON-serialisable."""
        return {}

    def _finish(self, raw: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> "Extractor":
        norm = float(np.linalg.norm(raw))
        scale = max(float(np.abs(pos).max()), float(np.abs(neg).max()), 1e-300)
        if not np.isfinite(norm) or norm <= 1e-9 * scale * np.sqrt(raw.shape[0]):
            raise DataError(
                f"{self.method} produced a zero or non-finite direction",
                "use pairs whose positive and negative texts actually differ",
            )
        direction = align_sign(raw / norm, pos, neg)
        self.direction_ = direction
        gap = float(pos.mean(axis=0) @ direction - neg.mean(axis=0) @ direction)
        self.raw_norm_ = norm if self.method == "mean_diff" else abs(gap)
        return self
