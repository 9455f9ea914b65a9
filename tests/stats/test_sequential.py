"""Group-sequential paired TOST: boundaries, fixed-sample equivalence, error rates, power and ASN."""

from __future__ import annotations

import doctest
import importlib
import json
import math

import numpy as np
import pytest
from scipy import stats as st

from steerid.errors import DataError, SteerIdError
from steerid.stats import (
    SequentialTost,
    average_sample_number,
    paired_tost,
    planned_looks,
    sequential_paired_tost,
    sequential_plan,
    tost_power_paired,
)
from steerid.stats.sequential.operating import _simulate

OBF, POCOCK = "obrien-fleming", "pocock"


def _canonical_cov(t: tuple[float, ...]) -> np.ndarray:
    t_arr = np.asarray(t)
    return np.sqrt(np.minimum.outer(t_arr, t_arr) / np.maximum.outer(t_arr, t_arr))


# --------------------------------------------------------------------------- boundaries


def test_obrien_fleming_matches_published_values() -> None:
    # Lan–DeMets O'Brien–Fleming, K = 3 equally spaced, one-sided alpha = 0.025 (gsDesign sfLDOF)
    plan = sequential_plan((100, 200, 300), alpha=0.025)
    assert plan.z_boundaries == pytest.approx((3.7103, 2.5114, 1.9930), abs=2e-4)
    assert plan.alpha_spent[-1] == 0.025


@pytest.mark.parametrize("spending", [OBF, POCOCK])
@pytest.mark.parametrize("looks", [(48, 96, 192, 384), (30, 40, 90, 100, 200)])
def test_crossing_probabilities_match_multivariate_normal(spending: str, looks: tuple[int, ...]) -> None:
    plan = sequential_plan(looks, alpha=0.05, spending=spending)
    cov = _canonical_cov(plan.info_fractions)
    for k in range(1, plan.n_looks + 1):
        inside = st.multivariate_normal.cdf(np.asarray(plan.z_boundaries[:k]), np.zeros(k), cov[:k, :k],
                                            abseps=1e-9, releps=1e-9, maxpts=400_000,
                                            rng=np.random.default_rng(0))
        # the quasi-Monte-Carlo CDF is good to ~1e-7; the recursive integration to ~1e-9
        assert 1.0 - inside == pytest.approx(plan.alpha_spent[k - 1], abs=1e-6)
    # spending functions: α(t) increasing to exactly α; nominal levels and t bounds are consistent
    assert all(np.diff(plan.alpha_spent) > 0) and plan.alpha_spent[-1] == 0.05
    assert sum(plan.alpha_increment) == pytest.approx(0.05)
    for a, z, tb, n in zip(plan.alpha_nominal, plan.z_boundaries, plan.t_boundaries, plan.looks):
        assert a == pytest.approx(st.norm.sf(z), rel=1e-9)
        assert tb == pytest.approx(st.t.isf(a, n - 1), rel=1e-9)
        assert tb > z  # t critical values exceed the z ones (σ estimated)


def test_spending_function_formulas() -> None:
    t = (0.25, 0.5, 0.75, 1.0)
    looks = (25, 50, 75, 100)
    obf = sequential_plan(looks, alpha=0.05, spending=OBF)
    poc = sequential_plan(looks, alpha=0.05, spending=POCOCK)
    z = st.norm.isf(0.025)
    assert obf.alpha_spent == pytest.approx(tuple(2 - 2 * st.norm.cdf(z / math.sqrt(x)) for x in t), rel=1e-9)
    assert poc.alpha_spent == pytest.approx(tuple(0.05 * math.log(1 + (math.e - 1) * x) for x in t), rel=1e-12)


@pytest.mark.parametrize("looks", [(54, 108, 162, 216), (100, 200, 300), (40, 80, 120, 160, 200)])
def test_obf_boundaries_decrease_and_pocock_are_flat(looks: tuple[int, ...]) -> None:
    obf = sequential_plan(looks, spending=OBF)
    assert all(np.diff(obf.z_boundaries) < 0) and all(np.diff(obf.t_boundaries) < 0)
    assert obf.z_boundaries[0] > 1.5 * obf.z_boundaries[-1]
    poc = sequential_plan(looks, spending=POCOCK)
    z = np.asarray(poc.z_boundaries)
    assert z.max() / z.min() < 1.08  # roughly constant for equally spaced looks
    assert poc.z_boundaries[-1] > obf.z_boundaries[-1]  # Pocock pays at the end
    assert poc.z_boundaries[0] < obf.z_boundaries[0]


def test_planned_looks() -> None:
    assert planned_looks(48, 384) == (48, 96, 192, 384)
    assert planned_looks(48, 200) == (48, 96, 200)  # 192 would leave a step of 8
    assert planned_looks(48, 48) == (48,)
    assert planned_looks(50, 60) == (50, 60)  # the first look is always kept
    assert planned_looks(20, 200, growth=1.5) == (20, 30, 45, 68, 102, 153, 200)
    looks = planned_looks(10, 1000, growth=3)
    assert looks[-1] == 1000 and all(b > a for a, b in zip(looks, looks[1:]))


# --------------------------------------------------------------------------- decisions


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("margin_dz", "margin_raw"), [(0.2, None), (0.5, None), (None, 0.1), (None, 0.3)])
@pytest.mark.parametrize("alpha", [0.05, 0.025])
def test_single_look_equals_fixed_paired_tost(seed: int, margin_dz, margin_raw, alpha: float) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 300))
    d = rng.normal(rng.normal(0.0, 0.1), 1.0, n) * 0.5
    fixed = paired_tost(d, margin_dz=0.2 if margin_dz is None else margin_dz, margin_raw=margin_raw, alpha=alpha)
    res = sequential_paired_tost(d, [n], margin_dz=margin_dz, margin_raw=margin_raw, alpha=alpha)
    look = res.looks[0]
    assert res.equivalent == fixed.equivalent
    assert res.decision == ("equivalent" if fixed.equivalent else "not equivalent")
    assert res.stop_look == 1 and res.stopping_n == n
    assert (res.low, res.high) == pytest.approx((fixed.low, fixed.high), rel=1e-12)
    assert (look.p_lower, look.p_upper) == pytest.approx((fixed.p_lower, fixed.p_upper), rel=1e-10, abs=1e-300)
    assert (look.t_lower, look.t_upper) == pytest.approx((fixed.t_lower, fixed.t_upper), rel=1e-12)
    assert look.ci == pytest.approx(fixed.ci90, rel=1e-10)
    assert look.alpha_nominal == alpha and look.ci_level == pytest.approx(fixed.ci_level)


@pytest.mark.parametrize(("value", "expected"), [(0.3, "equivalent"), (0.5, "not equivalent"), (0.7, "not equivalent")])
def test_single_look_zero_variance_raw(value: float, expected: str) -> None:
    res = sequential_paired_tost([value] * 6, [6], margin_raw=0.5)
    assert res.decision == expected
    assert res.equivalent == paired_tost([value] * 6, margin_raw=0.5).equivalent


def test_zero_variance_dz_margin_cannot_be_equivalent() -> None:
    res = sequential_paired_tost(np.zeros(200), (50, 100, 200), margin_dz=0.3)
    assert res.decision == "not equivalent" and res.stop_look == 1
    assert (res.low, res.high) == (0.0, 0.0)
    assert any("margin_raw" in note for note in res.notes)


def test_dz_margin_is_frozen_at_the_first_look() -> None:
    rng = np.random.default_rng(3)
    d = np.concatenate([rng.normal(0.0, 1.0, 50), rng.normal(0.0, 3.0, 350)])  # sd grows later
    res = sequential_paired_tost(d, (50, 100, 200, 400), margin_dz=0.5)
    sd1 = np.std(d[:50], ddof=1)
    assert (res.low, res.high) == pytest.approx((-0.5 * sd1, 0.5 * sd1))
    assert res.margin_source == "dz" and res.margin_dz == 0.5
    assert any("first-look" in a for a in res.assumptions)
    for look in res.looks:  # the same raw bounds at every look
        assert look.t_lower == pytest.approx((look.mean_diff - res.low) / look.se)


def test_equivalence_is_the_repeated_ci_inside_the_margin() -> None:
    rng = np.random.default_rng(11)
    for _ in range(40):
        d = rng.normal(rng.uniform(-0.3, 0.3), 1.0, 300)
        res = sequential_paired_tost(d, (60, 120, 180, 240, 300), margin_raw=0.3, spending=POCOCK)
        for look in res.looks:
            inside = res.low < look.ci[0] and look.ci[1] < res.high
            outside = look.ci[0] > res.high or look.ci[1] < res.low
            assert (look.decision == "equivalent") == inside
            if look.look < res.plan.n_looks:
                assert (look.decision == "not equivalent") == outside
            assert look.ci_level == pytest.approx(1 - 2 * look.alpha_nominal)
        assert all(lk.decision == "continue" for lk in res.looks[:-1])
        assert res.looks[-1].decision == res.decision != "continue"


def test_futility_stop_when_the_difference_is_beyond_the_margin() -> None:
    d = np.random.default_rng(4).normal(1.0, 1.0, 400)
    res = sequential_paired_tost(d, planned_looks(50, 400), margin_raw=0.2)
    assert res.decision == "not equivalent" and res.stop_look < 3 and res.stopping_n < 200
    assert res.looks[-1].ci[0] > res.high  # shown beyond the margin
    assert all(lk.decision == "continue" for lk in res.looks[:-1])
    assert any("futility" in note for note in res.notes)
    assert "NOT EQUIVALENT" in res.summary()


def test_monitor_gives_the_batch_result() -> None:
    rng = np.random.default_rng(7)
    looks = (40, 80, 160, 320)
    plan = sequential_plan(looks, spending=POCOCK)
    for trial in range(12):
        d = rng.normal(rng.uniform(-0.4, 0.4), 1.0, 320)
        batch = sequential_paired_tost(d, plan, margin_dz=0.25, alpha=0.05, spending=POCOCK)
        at_once = SequentialTost(plan, margin_dz=0.25)
        at_once.update(d)
        assert at_once.result.to_dict() == batch.to_dict()
        # look by look, as an experiment would feed it (including a call between looks)
        mon = SequentialTost(plan, margin_dz=0.25)
        assert mon.update(d[:10]) == "continue" and mon.result.looks == ()
        while not mon.stopped:
            mon.update(d[:mon.next_n])
        stepwise = mon.result
        assert stepwise.looks == batch.looks
        assert (stepwise.decision, stepwise.stop_look, stepwise.stopping_n) == (
            batch.decision, batch.stop_look, batch.stopping_n)
        assert (stepwise.low, stepwise.high) == (batch.low, batch.high)
        assert mon.next_n is None


def test_simulation_uses_the_same_decision_rule() -> None:
    rng = np.random.default_rng(8)
    plan = sequential_plan((30, 60, 90), spending=OBF)
    data = rng.normal(0.1, 1.0, size=(150, 90))
    for scale, kwargs in (("fixed", {"margin_raw": 0.35}), ("first_look_sd", {"margin_dz": 0.35})):
        stop, code = _simulate(plan, data, 0.35, scale)
        for row in range(data.shape[0]):
            res = sequential_paired_tost(data[row], plan, **kwargs)
            assert res.stop_look == stop[row] + 1
            assert res.decision == {1: "equivalent", -1: "not equivalent"}[int(code[row])]


def test_plan_or_look_sizes() -> None:
    d = np.random.default_rng(13).normal(0.0, 1.0, 300)
    plan = sequential_plan((100, 200, 300), alpha=0.025, spending=POCOCK)
    via_plan = sequential_paired_tost(d, plan, margin_raw=0.3)
    via_sizes = sequential_paired_tost(d, (100, 200, 300), margin_raw=0.3, alpha=0.025, spending="Pocock")
    assert via_plan.to_dict() == via_sizes.to_dict()
    assert sequential_paired_tost(d, plan, margin_raw=0.3, alpha=0.025, spending=POCOCK) == via_plan
    default = sequential_paired_tost(d, (100, 200, 300), margin_raw=0.3)
    assert default.plan.alpha == 0.05 and default.plan.spending == OBF


def test_batch_with_too_little_data_continues() -> None:
    d = np.random.default_rng(9).normal(0.0, 1.0, 120)
    res = sequential_paired_tost(d, (50, 100, 200), margin_raw=0.1)
    assert res.decision == "continue" and res.stop_look is None and res.stopping_n is None
    assert len(res.looks) == 2 and not res.equivalent
    assert any("next look is at n = 200" in note for note in res.notes)
    assert "continue to n = 200" in res.summary()


def test_results_are_json_and_readable() -> None:
    d = np.random.default_rng(10).normal(0.0, 1.0, 384)
    res = sequential_paired_tost(d, planned_looks(48, 384), margin_dz=0.2)
    back = json.loads(json.dumps(res.to_dict()))
    assert back["plan"]["looks"] == [48, 96, 192, 384] and isinstance(back["looks"], list)
    assert back["looks"][0]["decision"] in ("continue", "equivalent", "not equivalent")
    text = res.summary()
    for piece in ("Group-sequential paired TOST", "repeated CI", "obrien-fleming", "assumptions:", "frozen"):
        assert piece in text
    plan_text = res.plan.summary()
    assert "z bound" in plan_text and "384" in plan_text
    json.dumps(res.plan.to_dict())


# --------------------------------------------------------------------------- operating characteristics


def _se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("spending", [OBF, POCOCK])
@pytest.mark.parametrize("looks", [(50, 100, 150), (48, 96, 192, 384)])
@pytest.mark.parametrize("margin", [0.2, 0.5])
def test_type_one_error_at_the_margin(spending: str, looks: tuple[int, ...], margin: float) -> None:
    plan = sequential_plan(looks, alpha=0.05, spending=spending)
    n_sims = 4000
    for true in (margin, -margin):  # true mean on either bound, raw (fixed) margin
        oc = average_sample_number(plan, true, margin_dz=margin, margin_scale="fixed", n_sims=n_sims, seed=21)
        assert oc.p_equivalent <= 0.05 + 3 * _se(0.05, n_sims)


@pytest.mark.parametrize("looks", [(54, 108, 162, 216), (72, 144, 216), (48, 96, 192, 384)])
def test_obf_power_at_zero_is_close_to_the_fixed_design(looks: tuple[int, ...]) -> None:
    plan = sequential_plan(looks, spending=OBF)
    n_sims = 4000
    oc = average_sample_number(plan, 0.0, margin_dz=0.2, n_sims=n_sims, seed=5)
    fixed = tost_power_paired(plan.n_max, 0.2, 0.05)
    assert oc.fixed_power_at_zero == pytest.approx(fixed) and oc.power_at_zero == oc.p_equivalent
    assert oc.power_at_zero > fixed - 0.04  # not far below
    assert oc.power_at_zero < fixed + 3 * _se(fixed, n_sims)  # and cannot beat it by much


def test_pocock_power_is_bounded_by_its_final_level() -> None:
    # Pocock spends alpha early, so at equal n_max it loses power; it keeps at least the power of a
    # fixed test at its final nominal level and never exceeds the fixed design at level alpha.
    plan = sequential_plan((54, 108, 162, 216), spending=POCOCK)
    n_sims = 4000
    oc = average_sample_number(plan, 0.0, margin_dz=0.2, n_sims=n_sims, seed=6)
    floor = tost_power_paired(216, 0.2, plan.alpha_nominal[-1])
    assert floor - 3 * _se(floor, n_sims) < oc.power_at_zero < oc.fixed_power_at_zero


@pytest.mark.parametrize("spending", [OBF, POCOCK])
def test_average_sample_number_is_below_n_max(spending: str) -> None:
    plan = sequential_plan(planned_looks(48, 384), spending=spending)
    at_zero = average_sample_number(plan, 0.0, margin_dz=0.2, n_sims=4000, seed=3)
    far = average_sample_number(plan, 0.6, margin_dz=0.2, n_sims=4000, seed=3)
    assert at_zero.asn < plan.n_max - 10 * at_zero.asn_se
    assert at_zero.asn < (0.95 if spending == OBF else 0.8) * plan.n_max
    assert far.asn < 0.5 * plan.n_max and far.p_equivalent == 0.0
    assert far.p_stop_futility > 0.9
    assert sum(at_zero.p_stop) == pytest.approx(1.0)
    assert far.power_at_zero == pytest.approx(at_zero.p_equivalent)  # same seed, same trials
    assert "ASN" in far.summary()
    json.dumps(far.to_dict())


def test_simulation_is_seeded() -> None:
    plan = sequential_plan((30, 60, 90))
    a = average_sample_number(plan, 0.1, margin_dz=0.4, n_sims=500, seed=4)
    b = average_sample_number(plan, 0.1, margin_dz=0.4, n_sims=500, seed=4)
    c = average_sample_number(plan, 0.1, margin_dz=0.4, n_sims=500, seed=5)
    assert a == b and a.asn != c.asn


# --------------------------------------------------------------------------- bad input


def _plan() -> object:
    return sequential_plan((20, 40))


@pytest.mark.parametrize(
    "call",
    [
        lambda: sequential_plan((50, 50, 100)),
        lambda: sequential_plan((100, 50)),
        lambda: sequential_plan((2, 10)),
        lambda: sequential_plan(()),
        lambda: sequential_plan((10.5, 20)),
        lambda: sequential_plan("100"),
        lambda: sequential_plan((10, 20), alpha=0.5),
        lambda: sequential_plan((10, 20), alpha=0.0),
        lambda: sequential_plan((10, 20), spending="haybittle"),
        lambda: planned_looks(100, 50),
        lambda: planned_looks(10, 100, growth=1.0),
        lambda: planned_looks(2, 100),
        lambda: sequential_paired_tost(np.zeros(40), (20, 40)),
        lambda: sequential_paired_tost(np.ones(40), (20, 40), margin_dz=0.2, margin_raw=0.2),
        lambda: sequential_paired_tost(np.ones(40), (20, 40), margin_raw=-0.2),
        lambda: sequential_paired_tost(np.ones(40), (20, 40), margin_dz=0.0),
        lambda: sequential_paired_tost([1.0, float("nan")] * 20, (20, 40), margin_raw=0.2),
        lambda: sequential_paired_tost(np.ones((20, 2)), (20, 40), margin_raw=0.2),
        lambda: sequential_paired_tost(np.ones(10), (20, 40), margin_raw=0.2),
        lambda: sequential_paired_tost(np.ones(40), _plan(), margin_raw=0.2, alpha=0.025),
        lambda: sequential_paired_tost(np.ones(40), _plan(), margin_raw=0.2, spending="pocock"),
        lambda: SequentialTost((20, 40), margin_raw=0.2),
        lambda: SequentialTost(_plan()),
        lambda: average_sample_number((20, 40), 0.0),
        lambda: average_sample_number(_plan(), float("nan")),
        lambda: average_sample_number(_plan(), 0.0, margin_scale="sample"),
        lambda: average_sample_number(_plan(), 0.0, n_sims=10),
        lambda: average_sample_number(_plan(), 0.0, margin_dz=-1.0),
    ],
)
def test_bad_input_raises_data_error(call) -> None:
    with pytest.raises(DataError) as info:
        call()
    assert isinstance(info.value, SteerIdError)
    assert "fix:" in str(info.value) and "\n" not in str(info.value)


def test_monitor_misuse() -> None:
    d = np.random.default_rng(12).normal(0.0, 1.0, 100)
    mon = SequentialTost(sequential_plan((30, 60, 100)), margin_raw=0.05)
    mon.update(d[:30])
    changed = d[:60].copy()
    changed[0] += 1.0
    with pytest.raises(DataError, match="changed"):
        mon.update(changed)
    with pytest.raises(DataError, match="fewer"):
        mon.update(d[:20])
    mon.update(d)
    assert mon.stopped
    with pytest.raises(DataError, match="already stopped"):
        mon.update(d)


@pytest.mark.parametrize("name", ["boundaries", "plan", "decision", "result", "monitor", "operating"])
def test_docstring_examples(name: str) -> None:
    seq_module = importlib.import_module(f"steerid.stats.sequential.{name}")
    assert doctest.testmod(seq_module, optionflags=doctest.ELLIPSIS).failed == 0
