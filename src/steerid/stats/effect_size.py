r"""Standardised effect sizes with confidence intervals.

Paired (per-prompt differences ``dᵢ``, i = 1…n):

    d_z = mean(d) / sd(d),   sd with ddof = 1,   t = d_z·√n ~ t'_{n−1}(δ_z·√n).

Two independent samples:

    d = (mean(x) − mean(y)) / s_p,   s_p² = ((n_x−1)s_x² + (n_y−1)s_y²) / (n_x + n_y − 2),
    t = d / k ~ t'_{n_x+n_y−2}(δ/k),   k = √(1/n_x + 1/n_y).

Confidence intervals (``ci_method``):

- ``"noncentral_t"`` (default, exact under normality): invert the noncentral t in its
  noncentrality λ. With ``a = 1 − confidence``, solve ``F_{t'_ν(λ_L)}(t) = 1 − a/2`` and
  ``F_{t'_ν(λ_U)}(t) = a/2`` by Brent's method (``F`` decreases in λ) and return
  ``(λ_L·k, λ_U·k)`` with ``k = 1/√n`` (paired) or ``√(1/n_x + 1/n_y)``.
- ``"hedges_olkin"``: ``value ± t_{1−a/2, ν}·SE`` with the Hedges–Olkin (1985) large-sample
  SE, ``SE² = 1/n + d_z²/(2n)`` (paired) or ``(n_x+n_y)/(n_x n_y) + d²/(2(n_x+n_y))``; this is
  what pingouin's ``compute_esci`` returns.

No small-sample (Hedges g) correction is applied to the point estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

from scipy import optimize
from scipy import stats as st

from steerid.errors import DataError
from steerid.results import ResultMixin
from steerid.stats._nct import nct_cdf
from steerid.stats._summary import mean_sd
from steerid.validation import as_sample, check_probability

CiMethod = Literal["noncentral_t", "hedges_olkin"]


@dataclass(frozen=True, repr=False)
class EffectSize(ResultMixin):
    """A standardised effect size with its confidence interval.

    Attributes:
        value: Point estimate (d_z or Cohen's d).
        ci_low: Lower confidence bound.
        ci_high: Upper confidence bound.
        n: Number of pairs (d_z) or total number of observations n_x + n_y (d).
        kind: ``"cohen_dz"`` or ``"cohen_d"``.
        confidence: Two-sided confidence level of the interval.
        ci_method: ``"noncentral_t"`` or ``"hedges_olkin"``.
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("kind", "value", "ci_low", "ci_high", "n")
    _title: ClassVar[str] = "Standardised effect size"

    value: float
    ci_low: float
    ci_high: float
    n: int
    kind: str
    confidence: float
    ci_method: str



def noncentrality_ci(t: float, df: float, confidence: float) -> tuple[float, float]:
    """Confidence interval for the noncentrality λ of a noncentral t from one observed ``t``.

    Args:
        t: Observed t-statistic.
        df: Degrees of freedom ν > 0.
        confidence: Two-sided level, e.g. 0.95.

    Returns:
        ``(λ_L, λ_U)`` with ``F_{t'_ν(λ_L)}(t) = 1 − a/2`` and ``F_{t'_ν(λ_U)}(t) = a/2``.
    """
    a = 1.0 - confidence

    def solve(target: float) -> float:
        def f(lam: float) -> float:
            return nct_cdf(t, df, lam) - target

        # λ̂ ≈ t with sd ≈ √(1 + t²/(2ν)); start from a few of those sds and widen if needed
        width = 1.0 + 4.0 * math.sqrt(1.0 + t * t / (2.0 * df))
        lo, hi = t - width, t + width
        for _ in range(60):
            if f(lo) > 0.0 > f(hi):
                return float(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-12, maxiter=500))
            width *= 2.0
            lo, hi = t - width, t + width
        raise DataError(
            f"could not bracket the noncentral-t confidence bound for t = {t}, df = {df}",
            "use ci_method='hedges_olkin' for this extreme effect",
        )

    return solve(1.0 - a / 2.0), solve(a / 2.0)


def _interval(value: float, k: float, df: int, se: float, confidence: float, ci_method: str) -> tuple[float, float]:
    if ci_method == "noncentral_t":
        lam_lo, lam_hi = noncentrality_ci(value / k, df, confidence)
        return lam_lo * k, lam_hi * k
    if ci_method == "hedges_olkin":
        crit = float(st.t.ppf(1.0 - (1.0 - confidence) / 2.0, df))
        return value - crit * se, value + crit * se
    raise DataError(f"unknown ci_method {ci_method!r}", "use 'noncentral_t' or 'hedges_olkin'")


def cohens_dz(
    diff: object, y: object | None = None, *, confidence: float = 0.95, ci_method: CiMethod = "noncentral_t"
) -> EffectSize:
    """Cohen's d_z of paired data, ``mean(d)/sd(d)``, with a confidence interval.

    Args:
        diff: Per-prompt differences, or the first paired sample when ``y`` is given.
        y: Optional second paired sample; then ``d = diff − y``.
        confidence: Two-sided confidence level.
        ci_method: ``"noncentral_t"`` (exact inversion) or ``"hedges_olkin"`` (normal-theory SE).

    Raises:
        DataError: n < 2, NaN/inf, unequal lengths, or all differences identical (sd = 0).

    Example:
        >>> es = cohens_dz([0.1, 0.3, -0.2, 0.4, 0.0])
        >>> round(es.value, 4)
        0.5026
    """
    d = as_sample(diff, "diff")
    if y is not None:
        other = as_sample(y, "y")
        if other.shape != d.shape:
            raise DataError(
                f"paired samples differ in length ({d.size} vs {other.size})", "pass one value per prompt in both"
            )
        d = d - other
    confidence = check_probability(confidence, "confidence")
    n = d.size
    mean, sd = mean_sd(d)
    if sd == 0.0:
        raise DataError(
            "all paired differences are identical (sd = 0), so d_z is undefined",
            "report the raw mean difference instead",
        )
    value = mean / sd
    k = 1.0 / math.sqrt(n)
    se = math.sqrt(1.0 / n + value**2 / (2.0 * n))
    low, high = _interval(value, k, n - 1, se, confidence, ci_method)
    return EffectSize(value, low, high, n, "cohen_dz", confidence, ci_method)


def cohens_d(
    x: object, y: object, *, confidence: float = 0.95, ci_method: CiMethod = "noncentral_t"
) -> EffectSize:
    """Cohen's d of two independent samples with pooled SD, with a confidence interval.

    Args:
        x: First sample (≥ 2 values).
        y: Second sample (≥ 2 values).
        confidence: Two-sided confidence level.
        ci_method: ``"noncentral_t"`` (exact inversion) or ``"hedges_olkin"`` (normal-theory SE).

    Raises:
        DataError: a sample with < 2 values, NaN/inf, or zero pooled SD.
    """
    a = as_sample(x, "x")
    b = as_sample(y, "y")
    confidence = check_probability(confidence, "confidence")
    n_x, n_y = a.size, b.size
    df = n_x + n_y - 2
    (m_x, s_x), (m_y, s_y) = mean_sd(a), mean_sd(b)
    sp = math.sqrt(((n_x - 1) * s_x**2 + (n_y - 1) * s_y**2) / df)
    if sp == 0.0:
        raise DataError("both samples are constant (pooled sd = 0), so d is undefined", "report the raw difference")
    value = (m_x - m_y) / sp
    k = math.sqrt(1.0 / n_x + 1.0 / n_y)
    se = math.sqrt((n_x + n_y) / (n_x * n_y) + value**2 / (2.0 * (n_x + n_y)))
    low, high = _interval(value, k, df, se, confidence, ci_method)
    return EffectSize(value, low, high, n_x + n_y, "cohen_d", confidence, ci_method)
