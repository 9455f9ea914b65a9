"""Per-draw tests on both margins, the corrected decisions, the split sequential design and the power plan."""

from __future__ import annotations

import numpy as np
import pytest

from steerid.stats import paired_tost, ratio_tost_paired, sequential_plan
from steerid.stats.existence import (
    RelativePilot,
    SequentialRelativeTost,
    adjust,
    decide,
    dz_tost,
    existence_sample_size,
    fieller_interval,
    relative_tost,
    relative_try_power,
    run_relative_sequential,
)
from steerid.stats.plan import EquivalencePlan


def _pair(rng, n=60, ratio=1.0, shift=1.0, noise=0.5):
    S = shift + rng.normal(0, 1, n)
    T = ratio * S + rng.normal(0, noise, n)
    return T, S


def test_relative_tost_matches_the_ratio_tost_and_is_vectorised():
    rng = np.random.default_rng(0)
    rows = [_pair(rng, ratio=r) for r in (0.8, 1.0, 1.15, 1.4)]
    T = np.stack([t for t, _ in rows])
    S = np.stack([s for _, s in rows])
    out = relative_tost(T, S, sign=1, margin=0.2, level=0.05)
    for j, (t, s) in enumerate(rows):
        ref = ratio_tost_paired(t, s, margin=0.2, alpha=0.05)
        assert out["p_lower"][j] == pytest.approx(ref.p_lower, rel=1e-10)
        assert out["p_upper"][j] == pytest.approx(ref.p_upper, rel=1e-10)
        assert out["estimate"][j] == pytest.approx(ref.ratio)
        assert out["p_tost"][j] >= ref.p_tost * (1 - 1e-10)  # the shift test joins the intersection


def test_negative_sign_mirrors_positive():
    rng = np.random.default_rng(1)
    T, S = _pair(rng)
    pos = relative_tost(T, S, sign=1, margin=0.2, level=0.05)
    neg = relative_tost(-T, -S, sign=-1, margin=0.2, level=0.05)
    for key in ("p_lower", "p_upper", "p_shift", "p_tost", "estimate", "ci_low", "ci_high"):
        assert neg[key] == pytest.approx(pos[key])


def test_fieller_interval_inverts_the_one_sided_tests():
    """At each end r of the 1 − 2a interval, the paired t statistic of T − r·S equals ±t_{1−a}."""
    from scipy import stats as st
    rng = np.random.default_rng(2)
    T, S = _pair(rng, n=40)
    lo, hi = fieller_interval(T, S, 0.025)
    q = st.t.isf(0.025, 39)
    for r, sign in ((lo, 1), (hi, -1)):
        x = T - r * S
        assert x.mean() / (x.std(ddof=1) / np.sqrt(40)) == pytest.approx(sign * q, rel=1e-8)


def test_unbounded_fieller_interval_is_never_equivalent():
    rng = np.random.default_rng(3)
    S = rng.normal(0.0, 1.0, 30)  # v's shift not shown
    T = S + rng.normal(0, 0.01, 30)
    out = relative_tost(T, S, sign=1, margin=0.2, level=0.05)
    assert not np.isfinite(out["ci_low"]) and out["p_tost"] >= 0.05


def test_dz_tost_matches_paired_tost():
    rng = np.random.default_rng(4)
    D = rng.normal(0.05, 1.0, (3, 80))
    out = dz_tost(D, margin_dz=0.3, level=0.05)
    for j in range(3):
        ref = paired_tost(D[j], margin_dz=0.3, alpha=0.05)
        assert out["p_tost"][j] == pytest.approx(ref.p_tost, rel=1e-10)
        assert [out["ci_low"][j], out["ci_high"][j]] == pytest.approx(list(ref.ci90))


@pytest.mark.parametrize("correction", ["bonferroni", "holm", "none"])
def test_vectorised_adjustment_equals_the_plans(correction):
    rng = np.random.default_rng(5)
    p = rng.uniform(0, 0.2, (6, 9))
    p[2, 3] = np.nan
    plan = EquivalencePlan(correction=correction, sequential=False)
    out = adjust(p, correction)
    for row, ref in zip(out, p):
        np.testing.assert_allclose(row, plan.adjust(ref), equal_nan=True)


def test_decisions_under_correction():
    plan = EquivalencePlan(correction="bonferroni", sequential=False)
    out = decide(np.array([0.004, 0.02, 0.9, 0.5]), np.array([0.5, 0.5, 0.001, 0.04]), plan)
    assert out["codes"].tolist() == [1, 0, -1, 0]
    none = decide(np.array([0.004, 0.02, 0.9, 0.5]), np.array([0.5, 0.5, 0.001, 0.04]), plan.with_(correction="none"))
    assert none["codes"].tolist() == [1, 1, -1, -1]


def test_monitor_equals_the_vectorised_run():
    rng = np.random.default_rng(6)
    plan = sequential_plan((30, 60, 120), alpha=0.05 / 8)
    T = np.stack([_pair(rng, n=120, ratio=r)[0] for r in (1.0, 1.5, 0.9)])
    S = _pair(np.random.default_rng(7), n=120)[1]
    T = T - T.mean(1, keepdims=True) + np.array([[1.0], [1.5], [0.95]]) * S.mean()
    vec = run_relative_sequential(T, S, sign=1, margin=0.2, plan=plan, level=0.05)
    for j in range(3):
        mon = SequentialRelativeTost(plan, margin=0.2, sign=1, level=0.05)
        for n in plan.looks:
            if not mon.stopped:
                mon.update(T[j, :n], S[:n])
        res = mon.result
        assert res["stop_look"] == vec["stop_look"][j]
        assert res["p_adjusted"] == pytest.approx(vec["p_adjusted"][j])
        assert (res["decision"] == "equivalent") == (vec["codes"][j] == 1)
        assert (res["p_adjusted"] < 0.05) == (res["decision"] == "equivalent")


def test_power_plan_grows_with_the_tries_and_matches_its_simulation():
    plan = EquivalencePlan(margin="dz", margin_dz=0.4, sequential=False)
    n1, n8, n16 = (existence_sample_size(k, plan)["n_dz"] for k in (1, 8, 16))
    assert n1 < n8 < n16
    rng = np.random.default_rng(8)

    def sample(shape):
        S = 1.0 + rng.normal(0, 1.0, shape)
        return S + rng.normal(0, 0.5, shape), S  # true ratio 1

    T0, S0 = sample(20000)
    pilot = RelativePilot.from_data(T0, S0, sign=1, margin=0.2)
    rec = existence_sample_size(16, plan.with_(margin="relative"), pilot)
    n = rec["n_relative"]
    assert relative_try_power(n, pilot, 0.05 / 16) >= 0.8 > relative_try_power(n - 1, pilot, 0.05 / 16)
    # the simulated power of one truly equivalent draw at that n is at least the planned one (a lower bound)
    T, S = sample((4000, n))
    power = (relative_tost(T, S, sign=1, margin=0.2, level=0.05 / 16)["p_tost"] < 0.05 / 16).mean()
    assert power >= 0.8 - 3 * np.sqrt(0.16 / 4000)


def test_pilot_margin_must_match():
    pilot = RelativePilot(shift=1.0, sd_shift=1.0, sd_lower=0.5, sd_upper=0.5, n=48, margin=0.1)
    with pytest.raises(Exception, match="margin"):
        existence_sample_size(8, EquivalencePlan(), pilot)
