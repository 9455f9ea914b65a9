r"""Exact power and sample size for TOST equivalence tests and the paired t-test.

All effects are standardised: ``c`` is the equivalence margin and ``δ`` the true difference,
both in units of the true standard deviation σ (of the per-prompt difference for paired
designs, of either group for two-sample designs). The standard error of the estimated mean
difference is ``σ·k`` with ``k = 1/√n`` (paired) or ``k = √(1/n_x + 1/n_y)`` (two-sample,
pooled variance), and the t-statistics have ``ν = n − 1`` or ``n_x + n_y − 2`` degrees of
freedom. ``t_c = t_{1−α, ν}`` is the one-sided critical value.

Fixed margin (``margin_scale="fixed"``, the textbook TOST with bounds ±c·σ known in raw
units). With ``Z = (m − μ)/(σk) ~ N(0, 1)`` and ``U = s/σ`` where ``νU² ~ χ²_ν`` independent of
``Z``, the test rejects iff ``m − t_c·s·k > −cσ`` and ``m + t_c·s·k < cσ``, so (Owen, 1965)

    power = ∫₀^{u*} [Φ((c − δ)/k − t_c·u) − Φ((−c − δ)/k + t_c·u)] f_U(u) du,
    u* = c / (k·t_c),

the bracket being positive exactly for ``u < u*``, and ``f_U(u) = 2νu·f_{χ²_ν}(νu²)``. The
integrand is smooth on ``[u_lo, min(u*, u_hi)]``, where ``u_lo``/``u_hi`` leave out 10⁻¹⁵ of
the χ² mass on each side; it is evaluated with 256-node Gauss–Legendre quadrature.

Margin from the sample SD (``margin_scale="sample_sd"``, what :func:`steerid.stats.paired_tost`
does when given ``margin_dz``: bounds ±c·s). Dividing both one-sided conditions by ``s·k``
gives ``|T| < c/k − t_c`` with ``T = m/(s·k) ~ t'_ν(δ/k)`` (noncentral t), hence

    power = F_{t'_ν(δ/k)}(c/k − t_c) − F_{t'_ν(δ/k)}(−(c/k − t_c))   (0 if c/k ≤ t_c).

Paired superiority t-test (H₀: μ = 0): with ``T ~ t'_{n−1}(d_z√n)``, the two-sided power is
``P(T > t_{1−α/2}) + P(T < −t_{1−α/2})``; one-sided alternatives use ``t_{1−α}`` on one tail.
This plain t power and its sample size come from ``statsmodels.stats.power.TTestPower``;
statsmodels has no exact TOST power (its ``tost`` helpers test, they do not plan), so the two
TOST integrals above are computed here.

With a fixed margin the power is not monotone at tiny n (for ν = 1 a near-zero sample SD is
likely: n = 2 rejects more often than n = 5 at c = 0.3, both far below α). The sample-size
search assumes monotonicity above the target power, which must exceed α.

For margin d_z = 0.2, α = 0.05 and a true difference of 0, the paired TOST needs n = 216
prompts for 80 % power with either margin scale (power 0.8013 fixed, 0.8007 sample-SD; n = 215
gives 0.7989 / 0.7983); the two-sample pooled TOST needs 429 per group (430 with the sample-SD
margin).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy import stats as st

from steerid.errors import DataError
from steerid.stats._nct import nct_cdf
from steerid.validation import check_count, check_finite, check_positive, check_probability

MarginScale = Literal["fixed", "sample_sd"]
Alternative = Literal["two-sided", "larger", "smaller"]

_MAX_N = 10_000_000
_TAIL = 1e-15  # χ² tail mass left out of the fixed-margin integral on each side
_GAUSS_LEGENDRE = np.polynomial.legendre.leggauss(256)


def _tost_power(c: float, delta: float, k: float, df: int, alpha: float, margin_scale: MarginScale) -> float:
    """Power of a TOST with standardised margin ``c``, true effect ``delta``, SE factor ``k``."""
    tc = float(st.t.ppf(1.0 - alpha, df))
    if margin_scale == "sample_sd":
        limit = c / k - tc
        if limit <= 0.0:
            return 0.0
        nc = delta / k
        return float(max(0.0, nct_cdf(limit, df, nc) - nct_cdf(-limit, df, nc)))
    if margin_scale != "fixed":
        raise DataError(f"unknown margin_scale {margin_scale!r}", "use 'fixed' or 'sample_sd'")
    upper = (c - delta) / k
    lower = (-c - delta) / k
    u_star = c / (k * tc)
    u_lo = math.sqrt(float(st.chi2.ppf(_TAIL, df)) / df)
    u_hi = min(u_star, math.sqrt(float(st.chi2.isf(_TAIL, df)) / df))
    if u_hi <= u_lo:
        return 0.0
    nodes, weights = _GAUSS_LEGENDRE
    half = 0.5 * (u_hi - u_lo)
    u = u_lo + half * (nodes + 1.0)
    density = 2.0 * df * u * st.chi2.pdf(df * u * u, df)  # f_U(u) for U = sqrt(chi2_df / df)
    bracket = st.norm.cdf(upper - tc * u) - st.norm.cdf(lower + tc * u)
    value = half * float(np.dot(weights, bracket * density))
    return float(min(1.0, max(0.0, value)))


def _tost_inputs(margin: float, alpha: float, true: float, margin_scale: str, *, margin_name: str,
                 true_name: str) -> tuple[float, float, float, MarginScale]:
    """Validated ``(c, alpha, delta, margin_scale)`` of a TOST power or sample-size call."""
    c = check_positive(margin, margin_name)
    alpha = check_probability(alpha, "alpha", upper=0.5)
    delta = check_finite(true, true_name)
    if margin_scale not in ("fixed", "sample_sd"):
        raise DataError(f"unknown margin_scale {margin_scale!r}", "use 'fixed' or 'sample_sd'")
    return c, alpha, delta, margin_scale  # type: ignore[return-value]


def tost_power_paired(
    n: int,
    margin_dz: float = 0.2,
    alpha: float = 0.05,
    true_dz: float = 0.0,
    *,
    margin_scale: MarginScale = "fixed",
) -> float:
    """Exact power of the paired TOST with symmetric margin ±``margin_dz`` (in SDs of the difference).

    Args:
        n: Number of pairs (prompts), ≥ 2.
        margin_dz: Equivalence margin c in units of the difference's SD.
        alpha: Level of each one-sided test.
        true_dz: True standardised mean difference δ.
        margin_scale: ``"fixed"`` for bounds known in raw units (Owen's integral, see module
            docstring); ``"sample_sd"`` for bounds ±c·s taken from the observed SD (noncentral t).

    Returns:
        Probability that both one-sided tests reject.

    Example:
        >>> round(tost_power_paired(216), 3)
        0.801
    """
    n = check_count(n, "n", minimum=2)
    c, alpha, delta, scale = _tost_inputs(margin_dz, alpha, true_dz, margin_scale, margin_name="margin_dz",
                                          true_name="true_dz")
    return _tost_power(c, delta, 1.0 / math.sqrt(n), n - 1, alpha, scale)


def tost_power_ind(
    n_x: int,
    n_y: int | None = None,
    margin_d: float = 0.2,
    alpha: float = 0.05,
    true_d: float = 0.0,
    *,
    margin_scale: MarginScale = "fixed",
) -> float:
    """Exact power of the two-sample pooled-variance TOST with margin ±``margin_d`` (Cohen's d units).

    Uses ``k = √(1/n_x + 1/n_y)`` and ``ν = n_x + n_y − 2`` in the formulas of the module
    docstring. For Welch's test it is an approximation (Welch's ν is random); it is close when
    the variances and group sizes are similar.

    Args:
        n_x: Size of the first group, ≥ 2.
        n_y: Size of the second group (default: ``n_x``).
        margin_d: Equivalence margin c in units of the common SD.
        alpha: Level of each one-sided test.
        true_d: True standardised difference δ.
        margin_scale: ``"fixed"`` or ``"sample_sd"``, as in :func:`tost_power_paired`.
    """
    n_x = check_count(n_x, "n_x", minimum=2)
    n_y = n_x if n_y is None else check_count(n_y, "n_y", minimum=2)
    c, alpha, delta, scale = _tost_inputs(margin_d, alpha, true_d, margin_scale, margin_name="margin_d",
                                          true_name="true_d")
    k = math.sqrt(1.0 / n_x + 1.0 / n_y)
    return _tost_power(c, delta, k, n_x + n_y - 2, alpha, scale)


def _smallest_n(power_at: Callable[[int], float], target: float, start: int, what: str) -> int:
    """Smallest ``n ≥ start`` with ``power_at(n) ≥ target`` (power assumed non-decreasing in n)."""
    if power_at(start) >= target:
        return start
    lo, hi = start, start * 2
    while power_at(hi) < target:
        lo, hi = hi, hi * 2
        if hi > _MAX_N:
            raise DataError(
                f"{what}: power {target} is not reached with n ≤ {_MAX_N}",
                "widen the margin, lower the target power or check that the true effect lies inside the margin",
            )
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if power_at(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def _check_target(power: object, alpha: float) -> float:
    """The validated target ``power`` in (alpha, 1): no test's power can be planned at or below α."""
    power = check_probability(power, "power")
    if power <= alpha:
        raise DataError(f"target power {power} ≤ alpha {alpha}", "ask for a power above alpha (usually 0.8 or 0.9)")
    return power


def _check_reachable(c: float, delta: float, power: object, alpha: float) -> float:
    """The validated target ``power``, refusing targets a TOST cannot reach (|δ| ≥ c or power ≤ α)."""
    if abs(delta) >= c:
        raise DataError(
            f"true effect {delta} is not inside the margin ±{c}: TOST power never exceeds alpha",
            "plan for a true effect strictly inside the margin",
        )
    return _check_target(power, alpha)


def tost_sample_size_paired(
    margin_dz: float = 0.2,
    power: float = 0.8,
    alpha: float = 0.05,
    true_dz: float = 0.0,
    *,
    margin_scale: MarginScale = "fixed",
) -> int:
    """Smallest number of pairs whose paired-TOST power reaches ``power``.

    Args:
        margin_dz: Equivalence margin in SDs of the difference.
        power: Target power.
        alpha: Level of each one-sided test.
        true_dz: Assumed true standardised difference (|true_dz| < margin_dz).
        margin_scale: ``"fixed"`` or ``"sample_sd"``, as in :func:`tost_power_paired`.

    Raises:
        DataError: If the target cannot be reached (true effect outside the margin, power ≤ α).

    Example:
        >>> tost_sample_size_paired(0.2, 0.8, 0.05)
        216
    """
    c, alpha, delta, scale = _tost_inputs(margin_dz, alpha, true_dz, margin_scale, margin_name="margin_dz",
                                          true_name="true_dz")
    power = _check_reachable(c, delta, power, alpha)
    return _smallest_n(
        lambda n: _tost_power(c, delta, 1.0 / math.sqrt(n), n - 1, alpha, scale), power, 2, "paired TOST"
    )


def tost_sample_size_ind(
    margin_d: float = 0.2,
    power: float = 0.8,
    alpha: float = 0.05,
    true_d: float = 0.0,
    *,
    margin_scale: MarginScale = "fixed",
) -> int:
    """Smallest per-group size (equal groups) whose two-sample TOST power reaches ``power``.

    Args:
        margin_d: Equivalence margin in units of the common SD.
        power: Target power.
        alpha: Level of each one-sided test.
        true_d: Assumed true standardised difference (|true_d| < margin_d).
        margin_scale: ``"fixed"`` or ``"sample_sd"``, as in :func:`tost_power_paired`.
    """
    c, alpha, delta, scale = _tost_inputs(margin_d, alpha, true_d, margin_scale, margin_name="margin_d",
                                          true_name="true_d")
    power = _check_reachable(c, delta, power, alpha)
    return _smallest_n(
        lambda n: _tost_power(c, delta, math.sqrt(2.0 / n), 2 * n - 2, alpha, scale), power, 2, "two-sample TOST"
    )


def _check_alternative(alternative: str) -> Alternative:
    if alternative not in ("two-sided", "larger", "smaller"):
        raise DataError(f"unknown alternative {alternative!r}", "use 'two-sided', 'larger' or 'smaller'")
    return alternative  # type: ignore[return-value]


def _ttest_power():
    """statsmodels' one-sample / paired t power (imported on first use: statsmodels is slow to load)."""
    from statsmodels.stats.power import TTestPower

    return TTestPower()


def power_paired_t(n: int, dz: float, alpha: float = 0.05, *, alternative: Alternative = "two-sided") -> float:
    """Exact power of the paired t-test of H₀: mean difference = 0 ("does v steer at all").

    With ``T ~ t'_{n−1}(d_z·√n)`` (noncentral t), the two-sided power is
    ``P(T > t_{1−α/2}) + P(T < −t_{1−α/2})``, one-sided alternatives use ``t_{1−α}`` on one tail.
    Computed by ``statsmodels.stats.power.TTestPower``.

    Args:
        n: Number of pairs, ≥ 2.
        dz: True standardised mean difference d_z.
        alpha: Test level (split over both tails when two-sided).
        alternative: ``"two-sided"``, ``"larger"`` (H₁: μ > 0) or ``"smaller"`` (H₁: μ < 0).

    Returns:
        ``P(reject)`` under ``T ~ t'_{n−1}(d_z·√n)``.

    Example:
        >>> round(power_paired_t(34, 0.5), 3)
        0.808
    """
    n = check_count(n, "n", minimum=2)
    dz = check_finite(dz, "dz")
    alpha = check_probability(alpha, "alpha")
    alternative = _check_alternative(alternative)
    value = float(_ttest_power().power(effect_size=dz, nobs=n, alpha=alpha, alternative=alternative))
    if not math.isfinite(value):  # scipy's noncentral t can return NaN deep in a tail
        raise DataError(f"paired t power is undefined at n = {n}, d_z = {dz}, alpha = {alpha}",
                        "use a d_z of moderate size (|d_z|·√n below about 30)")
    return min(1.0, max(0.0, value))


def sample_size_paired_t(
    dz: float, power: float = 0.8, alpha: float = 0.05, *, alternative: Alternative = "two-sided"
) -> int:
    """Smallest number of pairs for which :func:`power_paired_t` reaches ``power``.

    statsmodels' ``TTestPower.solve_power`` gives the real root n* of power(n) = ``power``; the
    answer is the smallest integer n ≥ 2 with power(n) ≥ ``power``, found by stepping from
    ⌈n*⌉ (the power is increasing in n for d_z in the direction of the alternative).

    Raises:
        DataError: If ``dz`` is 0 or points away from a one-sided alternative, or the root
            cannot be found.

    Example:
        >>> sample_size_paired_t(0.5)
        34
    """
    dz = check_finite(dz, "dz")
    alpha = check_probability(alpha, "alpha")
    power = _check_target(power, alpha)
    alternative = _check_alternative(alternative)
    if dz == 0.0 or (alternative == "larger" and dz < 0) or (alternative == "smaller" and dz > 0):
        raise DataError(
            f"d_z = {dz} gives power ≤ alpha under alternative {alternative!r}",
            "plan for a non-zero effect in the direction of the alternative",
        )

    def power_at(n: int) -> float:
        return power_paired_t(n, dz, alpha, alternative=alternative)

    if power_at(2) >= power:
        return 2
    root = float(np.squeeze(_ttest_power().solve_power(effect_size=dz, nobs=None, alpha=alpha, power=power,
                                                       alternative=alternative)))
    if not (math.isfinite(root) and root < _MAX_N):
        raise DataError(f"paired t-test: power {power} is not reached with n ≤ {_MAX_N} at d_z = {dz}",
                        "plan for a larger effect or a lower target power")
    n = max(2, math.ceil(root))
    while n > 2 and power_at(n - 1) >= power:
        n -= 1
    while power_at(n) < power:
        n += 1
    return n
