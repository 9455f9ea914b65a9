"""Power and sample size: Monte-Carlo, asymptotic and statsmodels cross-checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st
from statsmodels.stats.power import TTestPower

from steerid.errors import DataError
from steerid.stats import (
    paired_tost,
    power_paired_t,
    sample_size_paired_t,
    tost_power_ind,
    tost_power_paired,
    tost_sample_size_ind,
    tost_sample_size_paired,
)


def _mc_paired(n: int, c: float, delta: float, alpha: float, scale: str, reps: int, seed: int) -> float:
    """Fraction of simulated N(δ, 1) samples for which both one-sided t-tests reject."""
    rng = np.random.default_rng(seed)
    d = rng.normal(delta, 1.0, size=(reps, n))
    m = d.mean(axis=1)
    s = d.std(axis=1, ddof=1)
    se = s / math.sqrt(n)
    bound = c * s if scale == "sample_sd" else c  # σ = 1
    tc = st.t.ppf(1 - alpha, n - 1)
    return float(np.mean(((m + bound) / se > tc) & ((m - bound) / se < -tc)))


@pytest.mark.parametrize(
    ("n", "c", "delta", "scale"),
    [
        (30, 0.5, 0.0, "fixed"),
        (30, 0.5, 0.2, "fixed"),
        (12, 0.8, 0.0, "fixed"),
        (30, 0.5, 0.0, "sample_sd"),
        (60, 0.4, 0.1, "sample_sd"),
    ],
)
def test_paired_power_matches_monte_carlo(n: int, c: float, delta: float, scale: str) -> None:
    exact = tost_power_paired(n, c, 0.05, delta, margin_scale=scale)
    simulated = _mc_paired(n, c, delta, 0.05, scale, reps=20_000, seed=n)
    assert abs(exact - simulated) < 0.02, (exact, simulated)
    assert 0.05 < exact < 0.95  # informative cases, not trivially 0 or 1


def test_monte_carlo_rule_is_the_tost_rule() -> None:
    # the vectorised rule used above decides like paired_tost itself
    rng = np.random.default_rng(11)
    for _ in range(50):
        d = rng.normal(0.1, 1.0, 25)
        s = d.std(ddof=1)
        se = s / 5.0
        tc = st.t.ppf(0.95, 24)
        rule = bool(((d.mean() + 0.6 * s) / se > tc) & ((d.mean() - 0.6 * s) / se < -tc))
        assert paired_tost(d, margin_dz=0.6).equivalent == rule


def test_two_sample_power_matches_monte_carlo() -> None:
    rng = np.random.default_rng(3)
    n, c, reps = 40, 0.7, 20_000
    x = rng.normal(0.0, 1.0, (reps, n))
    y = rng.normal(0.0, 1.0, (reps, n))
    m = x.mean(1) - y.mean(1)
    sp = np.sqrt((x.var(1, ddof=1) + y.var(1, ddof=1)) / 2)
    se = sp * math.sqrt(2 / n)
    tc = st.t.ppf(0.95, 2 * n - 2)
    simulated = float(np.mean(((m + c) / se > tc) & ((m - c) / se < -tc)))
    assert abs(tost_power_ind(n, n, c, 0.05, 0.0) - simulated) < 0.02


def test_sample_size_for_default_margin() -> None:
    # margin d_z = 0.2, α = 0.05, true difference 0, 80 % power → 216 pairs
    n = tost_sample_size_paired(0.2, 0.8, 0.05, 0.0)
    assert n == 216
    assert 215 <= n <= 275
    assert tost_power_paired(n, 0.2) >= 0.8 > tost_power_paired(n - 1, 0.2)
    assert tost_sample_size_paired(0.2, 0.8, 0.05, margin_scale="sample_sd") == 216
    # normal approximation n ≈ ((z_{1-α} + z_{1-β/2}) / c)² = 214.1, the t-distribution adds ~2
    z = st.norm.ppf(0.95) + st.norm.ppf(0.9)
    assert abs(n - (z / 0.2) ** 2) < 4


def test_two_sample_size_for_default_margin() -> None:
    n = tost_sample_size_ind(0.2, 0.8, 0.05)
    assert n == 429  # per group; ≈ twice the paired n, since se = σ√(2/n)
    assert tost_power_ind(n, n, 0.2) >= 0.8 > tost_power_ind(n - 1, n - 1, 0.2)


def test_large_n_normal_limit() -> None:
    n, c = 20_000, 0.02
    z = st.norm.ppf(0.95)
    approx = 2 * st.norm.cdf(c * math.sqrt(n) - z) - 1
    assert tost_power_paired(n, c) == pytest.approx(approx, abs=0.005)


def test_size_at_the_margin_is_alpha() -> None:
    # at δ = c the TOST is a level-α test (exactly α in the limit)
    assert tost_power_paired(2000, 0.2, 0.05, 0.2) == pytest.approx(0.05, abs=0.002)
    assert tost_power_paired(2000, 0.2, 0.05, 0.2) <= 0.05 + 1e-9


def test_tiny_n_power_is_not_monotone() -> None:
    # with ν = 1 a near-zero sample SD is likely, so n = 2 rejects more often than n = 5
    exact = [tost_power_paired(n, 0.3) for n in (2, 3, 5)]
    assert exact[0] > exact[1] > exact[2]
    for n, value in zip((2, 3, 5), exact):
        assert abs(value - _mc_paired(n, 0.3, 0.0, 0.05, "fixed", reps=200_000, seed=n)) < 0.001


def test_power_increases_with_n_and_margin() -> None:
    ns = [15, 20, 50, 100, 200, 400]
    powers = [tost_power_paired(n, 0.3) for n in ns]
    assert all(a <= b for a, b in zip(powers, powers[1:]))
    assert tost_power_paired(100, 0.3) < tost_power_paired(100, 0.4)
    assert tost_power_paired(100, 0.3, true_dz=0.1) < tost_power_paired(100, 0.3)


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
@pytest.mark.parametrize(("n", "dz"), [(10, 0.5), (40, 0.3), (200, -0.15), (8, 1.2)])
def test_superiority_power_matches_statsmodels(n: int, dz: float, alternative: str) -> None:
    expected = TTestPower().power(effect_size=dz, nobs=n, alpha=0.05, alternative=alternative)
    assert power_paired_t(n, dz, 0.05, alternative=alternative) == pytest.approx(expected, abs=1e-7)


def test_superiority_sample_size_matches_statsmodels() -> None:
    for dz in (0.2, 0.5, 0.8):
        solved = TTestPower().solve_power(effect_size=dz, alpha=0.05, power=0.8, alternative="two-sided")
        assert sample_size_paired_t(dz) == math.ceil(solved)


@pytest.mark.parametrize(
    "call",
    [
        lambda: tost_power_paired(1),
        lambda: tost_power_paired(10, 0.0),
        lambda: tost_power_paired(10, 0.2, alpha=0.6),
        lambda: tost_power_paired(10, 0.2, margin_scale="other"),
        lambda: tost_sample_size_paired(0.2, true_dz=0.25),
        lambda: tost_sample_size_paired(0.2, power=0.01),
        lambda: sample_size_paired_t(0.0),
        lambda: sample_size_paired_t(-0.3, alternative="larger"),
        lambda: tost_power_ind(10, 1),
    ],
)
def test_bad_arguments(call) -> None:
    with pytest.raises(DataError):
        call()
