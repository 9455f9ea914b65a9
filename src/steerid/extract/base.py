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

``fit`` returns ``self``. The scikit-learn contract holds (:class:`Estimator`, shared with the
recovery constraints of :mod:`steerid.recover`): hyper-parameters are set in ``__init__`` only and
validated in ``fit``; learned state ends in ``_``; ``get_params()`` / ``set_params()`` and a repr
listing the non-default parameters come from :class:`sklearn.base.BaseEstimator`, so
``sklearn.base.clone`` works. ``params()`` is the JSON-serialisable provenance record:
``get_params()`` plus chosen values learned in ``fit`` (e.g. a cross-validated regularisation
strength), ``None`` before ``fit``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from steerid.errors import DataError
from steerid.results import jsonable


def align_sign(direction: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Flip ``direction`` so that positives project higher than negatives on average."""
    gap = float(pos.mean(axis=0) @ direction - neg.mean(axis=0) @ direction)
    return -direction if gap < 0 else direction


class Estimator(BaseEstimator):
    """scikit-learn estimator with a JSON provenance record (extractors and recovery constraints).

    Subclasses take their hyper-parameters as explicit ``__init__`` arguments stored unchanged
    under the same names, and list in ``_recorded`` the fitted attributes worth recording
    (``{record key: attribute}``).

    Example:
        >>> from steerid.extract.pca import PCA
        >>> PCA(centred=True)
        PCA(centred=True)
        >>> PCA().set_params(centred=True).get_params()
        {'centred': True}
    """

    _recorded: ClassVar[dict[str, str]] = {}

    def params(self) -> dict[str, Any]:
        """JSON-safe ``get_params()`` (array parameters recorded by their shape) and the fitted
        values named in ``_recorded`` (``None`` before ``fit``)."""
        record = {name: list(np.shape(value)) if isinstance(value, np.ndarray) else jsonable(value)
                  for name, value in self.get_params(deep=False).items()}
        record.update({key: jsonable(getattr(self, attribute, None)) for key, attribute in self._recorded.items()})
        return record


class Extractor(Estimator, ABC):
    """Base class for a steering-direction estimator."""

    method: ClassVar[str]
    paired: ClassVar[bool] = False

    direction_: np.ndarray
    raw_norm_: float

    @abstractmethod
    def fit(self, pos: np.ndarray, neg: np.ndarray) -> "Extractor":
        """Estimate the direction from positive and negative activations."""

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
