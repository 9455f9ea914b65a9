r"""Bootstrap confidence intervals (``scipy.stats.bootstrap``), seeded and reproducible.

- :func:`bootstrap_ci`: one sample, any statistic θ̂ = s(x₁…x_n); resample n units with
  replacement B times and take the BCa (bias-corrected and accelerated), percentile or basic
  interval of θ̂*.
- :func:`paired_ratio_ci`: relative efficacy R = mean(a)/mean(b) for per-prompt paired shifts
  ``a`` (e.g. shift of v+v⊥ vs none) and ``b`` (shift of v vs none). Prompts are resampled
  jointly, (aᵢ, bᵢ) stay together, so R* = mean(a*)/mean(b*) keeps the pairing. The interval of
  mean(b) from the *same* resamples is reported; when it includes 0 the ratio is unbounded and
  the result is flagged ``unstable``.
- :func:`cluster_bootstrap_ci`: observations grouped in clusters (several samples per prompt);
  whole clusters are drawn with replacement, θ̂* = s(concatenation of the drawn clusters), and
  BCa's jackknife leaves out one cluster at a time.

BCa needs a non-degenerate jackknife (its acceleration is 0/0 on constant data). scipy signals
that with ``DegenerateDataWarning`` and NaN bounds; that warning (and only it) is caught, the
percentile interval is computed instead and the reason is stored in ``Interval.note``. NumPy's
divide/invalid floating-point warnings are silenced inside the scipy call because that
degenerate case is detected and reported this way.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from scipy import stats as st

from steerid.errors import DataError
from steerid.stats.interval import Interval, RatioInterval
from steerid.validation import as_sample, check_count, check_paired, check_probability

Method = Literal["BCa", "percentile", "basic"]
Statistic = Callable[..., Any]

_METHODS = {"bca": "BCa", "percentile": "percentile", "basic": "basic"}


def _check_method(method: str) -> str:
    key = str(method).lower()
    if key not in _METHODS:
        raise DataError(f"unknown bootstrap method {method!r}", "use 'BCa', 'percentile' or 'basic'")
    return _METHODS[key]


def _run(
    data: tuple[np.ndarray, ...],
    statistic: Statistic,
    *,
    paired: bool,
    vectorized: bool | None,
    confidence: float,
    n_resamples: int,
    seed: int,
    method: str,
) -> tuple[np.ndarray, np.ndarray, str, str]:
    """Bootstrap bounds (arrays, one entry per statistic output), method used and note."""

    def call(how: str) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return st.bootstrap(
                data,
                statistic,
                n_resamples=n_resamples,
                vectorized=vectorized,
                paired=paired,
                confidence_level=confidence,
                method=how,
                rng=np.random.default_rng(seed),
            ).confidence_interval

    note = ""
    used = method
    if method == "BCa":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", st.DegenerateDataWarning)
                ci = call("BCa")
        except st.DegenerateDataWarning as exc:
            used = "percentile"
            note = f"BCa undefined ({str(exc).split('.')[0]}); percentile interval used instead"
            ci = call("percentile")
    else:
        ci = call(method)
    return np.atleast_1d(np.asarray(ci.low, dtype=np.float64)), np.atleast_1d(
        np.asarray(ci.high, dtype=np.float64)
    ), used, note


def _check_common(confidence: float, n_resamples: int, seed: int, method: str) -> tuple[float, int, int, str]:
    confidence = check_probability(confidence, "confidence")
    n_resamples = check_count(n_resamples, "n_resamples", minimum=10)
    seed = check_count(seed, "seed", minimum=0)
    return confidence, n_resamples, seed, _check_method(method)


def _scalar(value: Any, what: str) -> float:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size != 1:
        raise DataError(f"{what} returned {arr.size} values, expected one", "pass a statistic that returns a scalar")
    return float(arr.reshape(()))


def bootstrap_ci(
    data: object,
    statistic: Statistic = np.mean,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    method: Method = "BCa",
) -> Interval:
    """Bootstrap confidence interval of a one-sample statistic.

    Args:
        data: 1-D sample (≥ 2 finite values).
        statistic: Function of the sample returning a scalar. If it accepts an ``axis``
            keyword (like ``np.mean``) scipy evaluates all resamples at once.
        confidence: Two-sided confidence level.
        n_resamples: Number of bootstrap resamples B (≥ 10).
        seed: Seed of the NumPy generator; the same seed gives the same interval.
        method: ``"BCa"`` (default), ``"percentile"`` or ``"basic"``.

    Returns:
        An :class:`Interval` with ``n = len(data)``; ``method`` is the one actually used.

    Raises:
        DataError: fewer than 2 values, NaN/inf, a bad option, or a non-scalar statistic.

    Example:
        >>> iv = bootstrap_ci([1.0, 2.0, 3.0, 4.0, 5.0], n_resamples=500)
        >>> iv.estimate
        3.0
    """
    x = as_sample(data, "data")
    confidence, n_resamples, seed, method = _check_common(confidence, n_resamples, seed, method)
    estimate = _scalar(statistic(x), "statistic")
    low, high, used, note = _run(
        (x,), statistic, paired=False, vectorized=None, confidence=confidence,
        n_resamples=n_resamples, seed=seed, method=method,
    )
    return Interval(estimate, float(low[0]), float(high[0]), confidence, used, int(x.size), note)


def _ratio_and_denominator(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    mean_b = np.mean(b, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.mean(a, axis=axis) / mean_b
    return np.stack([ratio, mean_b])


def paired_ratio_ci(
    shift_a: object,
    shift_b: object,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    method: Method = "BCa",
) -> RatioInterval:
    """Bootstrap interval of the relative efficacy mean(shift_a) / mean(shift_b).

    Args:
        shift_a: Per-prompt score shifts of the numerator condition (e.g. v+v⊥ minus none).
        shift_b: Per-prompt shifts of the denominator condition (e.g. v minus none), same
            prompt order.
        confidence: Two-sided confidence level.
        n_resamples: Number of bootstrap resamples (≥ 10).
        seed: Seed of the NumPy generator.
        method: ``"BCa"`` (default), ``"percentile"`` or ``"basic"``.

    Returns:
        A :class:`RatioInterval`; ``unstable`` is True when the denominator's interval includes
        0 or its mean is 0, in which case the ratio interval should not be interpreted.

    Raises:
        DataError: fewer than 2 prompts, NaN/inf, unequal lengths or a bad option.
    """
    a = as_sample(shift_a, "shift_a")
    b = as_sample(shift_b, "shift_b")
    check_paired(a, b)
    confidence, n_resamples, seed, method = _check_common(confidence, n_resamples, seed, method)
    mean_b = float(np.mean(b))
    estimate = float(np.mean(a)) / mean_b if mean_b != 0.0 else math.nan
    low, high, used, note = _run(
        (a, b), _ratio_and_denominator, paired=True, vectorized=True, confidence=confidence,
        n_resamples=n_resamples, seed=seed, method=method,
    )
    d_low, d_high = float(low[1]), float(high[1])
    unstable = mean_b == 0.0 or not (math.isfinite(d_low) and math.isfinite(d_high)) or d_low <= 0.0 <= d_high
    notes = [note] if note else []
    if mean_b == 0.0:
        notes.append("mean of shift_b is 0: the ratio is undefined")
    elif unstable:
        notes.append(
            f"denominator CI [{d_low:.4g}, {d_high:.4g}] includes 0: the ratio is unstable; "
            "show that the reference condition steers before reading relative efficacy"
        )
    r_low, r_high = float(low[0]), float(high[0])
    if not (math.isfinite(r_low) and math.isfinite(r_high)):
        notes.append("ratio bounds are not finite (resamples with a zero denominator)")
    return RatioInterval(
        estimate=estimate,
        low=r_low,
        high=r_high,
        confidence=confidence,
        method=used,
        n=int(a.size),
        note="; ".join(notes),
        denominator=mean_b,
        denominator_low=d_low,
        denominator_high=d_high,
        unstable=bool(unstable),
    )


def cluster_bootstrap_ci(
    values: object,
    clusters: Sequence[Any] | np.ndarray,
    statistic: Statistic = np.mean,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    method: Method = "BCa",
) -> Interval:
    """Bootstrap interval that resamples whole clusters (e.g. prompts with several samples each).

    Args:
        values: 1-D observations.
        clusters: Cluster label of each observation (any hashable labels; same length).
        statistic: Function of a 1-D array of observations returning a scalar; applied to the
            concatenation of the drawn clusters (``np.mean`` uses a fast exact path:
            Σ cluster sums / Σ cluster sizes).
        confidence: Two-sided confidence level.
        n_resamples: Number of bootstrap resamples (≥ 10).
        seed: Seed of the NumPy generator.
        method: ``"BCa"`` (default), ``"percentile"`` or ``"basic"``.

    Returns:
        An :class:`Interval` whose ``n`` is the number of clusters.

    Raises:
        DataError: fewer than 2 clusters, NaN/inf, length mismatch or a bad option.
    """
    x = as_sample(values, "values", min_n=1)
    labels = np.asarray(clusters)
    if labels.ndim != 1 or labels.shape[0] != x.shape[0]:
        raise DataError(
            f"clusters has shape {labels.shape}, values has {x.shape}",
            "give one cluster label per observation",
        )
    confidence, n_resamples, seed, method = _check_common(confidence, n_resamples, seed, method)
    _, inverse = np.unique(labels, return_inverse=True)
    n_clusters = int(inverse.max()) + 1
    if n_clusters < 2:
        raise DataError(f"only {n_clusters} cluster(s)", "a cluster bootstrap needs at least 2 clusters (prompts)")
    order = np.argsort(inverse, kind="stable")
    sizes = np.bincount(inverse, minlength=n_clusters)
    groups = np.split(x[order], np.cumsum(sizes)[:-1])
    estimate = _scalar(statistic(x), "statistic")

    if statistic is np.mean:
        sums = np.bincount(inverse, weights=x, minlength=n_clusters)

        def stat(idx: np.ndarray, axis: int = -1) -> np.ndarray:
            idx = idx.astype(np.intp)
            return np.sum(sums[idx], axis=axis) / np.sum(sizes[idx], axis=axis)

        vectorized = True
    else:

        def stat(idx: np.ndarray) -> float:
            return _scalar(statistic(np.concatenate([groups[i] for i in idx.astype(np.intp)])), "statistic")

        vectorized = False
    low, high, used, note = _run(
        (np.arange(n_clusters, dtype=np.float64),), stat, paired=False, vectorized=vectorized,
        confidence=confidence, n_resamples=n_resamples, seed=seed, method=method,
    )
    extra = f"{x.size} observations in {n_clusters} clusters"
    return Interval(estimate, float(low[0]), float(high[0]), confidence, used, n_clusters,
                    f"{note}; {extra}" if note else extra)
