r"""Stability of any extraction method under resampling of its contrastive pairs.

A method "recovers" a direction only if it returns the same vector when the pairs it was
given are resampled. For an extractor f and pairs (h₊ᵢ, h₋ᵢ), i = 1…n:

    v̂ = f(all pairs),     v̂*_b = f(pairs drawn with replacement, b = 1…B),
    c_b = cos(v̂*_b, v̂),

and the summary is the median and the 5th percentile of {c_b} (``stable_``: the 5th percentile
reaches ``min_cosine``, default 0.95, the recovery criterion of the design). Pairs are
resampled jointly (row i of pos and neg together) when ``paired``; otherwise each class is
resampled on its own. The bootstrap measures sampling variability only: a method can be
perfectly stable and still stably wrong (e.g. tilted by anisotropic noise), which is what the
planted benchmark checks.

:func:`compare_methods` fits several methods on the same data and reports the pairwise cosines
of their full-data directions plus each one's stability: methods that agree with each other and
are each stable support the direction; stable but mutually disagreeing methods mean they
estimate different targets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from steerid.errors import DataError
from steerid.extract.base import Extractor
from steerid.extract.registry import make_extractor
from steerid.results import ResultMixin
from steerid.validation import check_activations, check_fraction, check_int, check_seed

MethodSpec = str | Callable[[], Extractor]


def _factory(method: MethodSpec, params: Mapping[str, Any] | None) -> tuple[str, Callable[[], Extractor]]:
    if isinstance(method, str):
        make_extractor(method, **dict(params or {}))  # validate name and parameters once, up front
        return method, lambda: make_extractor(method, **dict(params or {}))
    if callable(method):
        if params:
            raise DataError("params are only used with a method name", "put the parameters into the factory")
        return getattr(method, "__name__", "custom"), method
    raise DataError(f"method must be a name or a zero-argument factory, got {method!r}", "use e.g. 'mean_diff'")


class Stability(BaseEstimator):
    """Bootstrap cosine distribution of one extraction method.

    Args:
        method: A registry name (``mean_diff``, ``pca``, ``probe``, ``lda``) or a zero-argument
            callable returning a fresh :class:`Extractor`.
        params: Hyper-parameters for a named method.
        n_bootstrap: Resamples B.
        paired: Resample pairs jointly (needs n₊ = n₋).
        min_cosine: 5th percentile needed for ``stable_``.
        seed: Seed of the resampling.

    Attributes:
        direction_: v̂, the method's unit direction on all pairs.
        cosines_: c_b, shape (B,).
        median_ / p05_: Median and 5th percentile of ``cosines_``.
        stable_: ``p05_ ≥ min_cosine``.
        method_name_: The method's name.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> neg = rng.normal(size=(60, 8)); pos = neg + np.eye(8)[0] * 3 + 0.3 * rng.normal(size=(60, 8))
        >>> Stability("mean_diff", n_bootstrap=50).fit(pos, neg).stable_
        True
    """

    direction_: np.ndarray
    cosines_: np.ndarray
    median_: float
    p05_: float
    stable_: bool
    method_name_: str

    def __init__(self, method: MethodSpec = "mean_diff", params: Mapping[str, Any] | None = None,
                 n_bootstrap: int = 200, paired: bool = True, min_cosine: float = 0.95, seed: int = 0) -> None:
        self.method = method
        self.params = params
        self.n_bootstrap = n_bootstrap
        self.paired = paired
        self.min_cosine = min_cosine
        self.seed = seed

    def fit(self, pos: np.ndarray, neg: np.ndarray) -> "Stability":
        """Fit on all pairs, then on B resamples, and summarise the cosines.

        Raises:
            DataError: Bad hyper-parameters or data; any error of the method on a resample is
                raised as is (e.g. a class left with one example).
        """
        name, factory = _factory(self.method, self.params)
        check_int(self.n_bootstrap, "n_bootstrap", minimum=2)
        check_fraction(self.min_cosine, "min_cosine", low=-1.0)
        rng = np.random.default_rng(check_seed(self.seed))
        pos, neg = check_activations(pos, neg, paired=self.paired, min_rows=2)
        reference = factory().fit(pos, neg).direction_
        cosines = np.empty(self.n_bootstrap)
        for b in range(self.n_bootstrap):
            if self.paired:
                rows = rng.integers(0, pos.shape[0], size=pos.shape[0])
                boot_pos, boot_neg = pos[rows], neg[rows]
            else:
                boot_pos = pos[rng.integers(0, pos.shape[0], size=pos.shape[0])]
                boot_neg = neg[rng.integers(0, neg.shape[0], size=neg.shape[0])]
            cosines[b] = float(factory().fit(boot_pos, boot_neg).direction_ @ reference)
        self.method_name_ = name
        self.direction_ = reference
        self.cosines_ = cosines
        self.median_ = float(np.median(cosines))
        self.p05_ = float(np.quantile(cosines, 0.05))
        self.stable_ = bool(self.p05_ >= self.min_cosine)
        return self

    def diagnostics(self) -> dict[str, Any]:
        """JSON-safe diagnostics (a dict of numbers, not a printed summary)."""
        return {"method": self.method_name_, "n_bootstrap": int(self.n_bootstrap), "median": self.median_,
                "p05": self.p05_, "stable": self.stable_, "min_cosine": float(self.min_cosine)}


@dataclass(repr=False)
class MethodComparison(ResultMixin):
    """Directions of several methods on the same data.

    Attributes:
        methods: Method names, in order.
        cosines: Pairwise cosines of the full-data directions, shape (m, m).
        stability: Per method, its :meth:`Stability.diagnostics`.
    """

    methods: list[str]
    cosines: np.ndarray
    stability: list[dict[str, Any]] = field(default_factory=list)

    @property
    def min_agreement(self) -> float:
        """Smallest pairwise cosine between methods."""
        off = self.cosines[~np.eye(len(self.methods), dtype=bool)]
        return float(off.min()) if off.size else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"methods": list(self.methods), "cosines": self.cosines.tolist(), "stability": self.stability,
                "min_agreement": self.min_agreement}


def compare_methods(pos: np.ndarray, neg: np.ndarray, methods: Sequence[str] = ("mean_diff", "pca", "lda"), *,
                    params: Mapping[str, Mapping[str, Any]] | None = None, n_bootstrap: int = 100,
                    paired: bool = True, min_cosine: float = 0.95, seed: int = 0) -> MethodComparison:
    """Fit each method, compare their directions and bootstrap each one's stability.

    Args:
        pos, neg: Activations (n, d), paired rows when ``paired``.
        methods: Registry names (at least one).
        params: ``{method: hyper-parameters}``.
        n_bootstrap, paired, min_cosine, seed: As for :class:`Stability` (the same seed for each
            method, so all see the same resamples when paired).

    Raises:
        DataError: No methods, a repeated method, or what :class:`Stability` raises.
    """
    names = list(methods)
    if not names or len(set(names)) != len(names):
        raise DataError(f"methods must be distinct names, got {names!r}", "use e.g. ('mean_diff', 'pca', 'lda')")
    params = params or {}
    fits = [Stability(m, params.get(m), n_bootstrap=n_bootstrap, paired=paired, min_cosine=min_cosine,
                      seed=seed).fit(pos, neg) for m in names]
    directions = np.array([f.direction_ for f in fits])
    return MethodComparison(methods=names, cosines=directions @ directions.T, stability=[f.diagnostics() for f in fits])
