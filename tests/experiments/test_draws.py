"""Per-draw truth on synthetic condition runs where the truth is known, and sequential collection."""

from __future__ import annotations

import numpy as np
import pytest

from steerid.experiments.conditions import ConditionRuns, e1_conditions
from steerid.experiments.draws import extend, look_sizes, run_in_looks
from steerid.experiments.orthogonal import E1Config, analyse, collect
from steerid.stats.plan import EquivalencePlan

RHOS = (0.5, 1.0, 2.0)


def _conditions(n_draws=8, rhos=(1.0,)):
    direction = np.zeros(16)
    direction[0] = 1.0
    return e1_conditions(direction, 1.0, rhos=rhos, n_draws=n_draws, seed=0)


def _scores(conditions, n, *, draw_sd=0.0, draw_sd_per_rho=None, secondary_shift=0.0, seed=0, noise=1.0):
    """primary = prompt effect + sign·2 for ±v conditions + a per-draw systematic effect + noise."""
    rng = np.random.default_rng(seed)
    prompt = rng.normal(0, 1, n)
    effects = {}
    primary, secondary = [], []
    for c in conditions:
        effect = 0.0
        if c.kind in ("v", "v_plus_perp"):
            effect = 2.0 * c.sign
        if c.kind == "v_plus_perp":
            sd = draw_sd if draw_sd_per_rho is None else draw_sd_per_rho(c.rho)
            effects.setdefault((c.rho, c.draw), rng.normal(0, 1))
            effect += sd * effects[(c.rho, c.draw)]
        primary.append(prompt + effect + rng.normal(0, noise, n))
        shift = secondary_shift if (c.kind == "v_plus_perp" and c.draw == 0) else 0.0
        secondary.append(prompt + shift + rng.normal(0, noise, n))
    return {"target": np.array(primary), "other": np.array(secondary)}


def _runs(n=200, **kwargs):
    conditions = _conditions(rhos=kwargs.pop("rhos", (1.0,)))
    return ConditionRuns(conditions, [], _scores(conditions, n, **kwargs))


def _config(**kwargs):
    plan = EquivalencePlan(margin="dz", margin_dz=0.3, correction="none", sequential=kwargs.pop("sequential", False),
                           first_look=kwargs.pop("first_look", 48))
    return E1Config(rhos=kwargs.pop("rhos", (1.0,)), n_draws=8, plan=plan, **kwargs)


def test_homogeneous_draws_all_pass_and_show_no_heterogeneity():
    runs = _runs(n=300)
    _, families = analyse(runs, _config(), "target")
    for f in families:
        assert f["n_draws_equivalent"] == 8
        het = f["heterogeneity"]
        assert het["p_value"] > 0.01 and het["tau2"] < 0.01
        assert f["fraction_equivalent"]["share"]["estimate"] > 0.9
        assert all(d["equivalent_holm"] for d in f["draws"])
        assert all(d["relative_efficacy"] is not None for d in f["draws"])


def test_heterogeneous_draws_are_detected_and_not_all_pass():
    runs = _runs(n=300, draw_sd=0.6)
    _, families = analyse(runs, _config(), "target")
    for f in families:
        het = f["heterogeneity"]
        assert het["p_value"] < 0.01
        assert het["tau_over_se"] > 2
        assert f["n_draws_equivalent"] < 8
        # the draw-averaged test can still pass while the draws differ: both are reported
        assert "tost" in f and f["fraction_equivalent"]["share"]["estimate"] < 0.9


def test_blind_spot_flags_a_draw_equivalent_on_target_but_not_on_another_measure():
    runs = _runs(n=300, secondary_shift=1.5)
    _, families = analyse(runs, _config(), "target")
    for f in families:
        spotted = [d for d in f["draws"] if d["blind_spots"]]
        assert [d["draw"] for d in spotted] == [0]
        assert spotted[0]["blind_spots"] == ["other"]
        assert f["n_blind_spots"] == 1


def test_radius_is_found_between_the_rhos_where_draws_start_to_differ():
    from steerid.experiments.draws import radius

    conditions = _conditions(rhos=RHOS)
    scores = _scores(conditions, 300, draw_sd_per_rho=lambda rho: 0.0 if rho < 1 else 2.0)
    runs = ConditionRuns(conditions, [], scores)
    out = radius(runs, conditions, "target", (1, -1), RHOS, margin_dz=0.3, level=0.05, seed=0)
    for sign in ("+v", "-v"):
        estimate = out[sign]["radius"]
        assert 0.5 <= estimate <= 1.0 + 1e-9
    assert radius(runs, conditions, "target", (1,), (1.0,), margin_dz=0.3, level=0.05, seed=0) is None


def _block_factory(conditions, n_total, **kwargs):
    full = _scores(conditions, n_total, **kwargs)
    calls = []

    def block(part: slice) -> ConditionRuns:
        calls.append((part.start, part.stop))
        return ConditionRuns(conditions, [], {m: v[:, part] for m, v in full.items()})

    return block, calls, full


def test_sequential_collection_stops_early_when_every_draw_is_decided():
    conditions = _conditions()
    block, calls, _ = _block_factory(conditions, 400, noise=0.2)
    looks = look_sizes(400, 48, 384)
    assert looks == (48, 96, 192, 384)
    runs, record, monitors = run_in_looks(block, conditions, "target", (1, -1), (1.0,), looks, margin_dz=1.0, level=0.05)
    assert record["stopped_early"] and record["stopping_n"] < 384
    assert all(m.stopped for m in monitors.values())
    assert runs.scores["target"].shape[1] == record["stopping_n"]
    assert calls[0] == (0, 48) and all(a == b for (_, b), (a, _) in zip(calls, calls[1:]))


def test_sequential_result_is_identical_to_a_rerun_and_reports_per_draw_decisions():
    conditions = _conditions()
    config = _config(sequential=True, first_look=48)
    outs = []
    for _ in range(2):
        block, _, _ = _block_factory(conditions, 260, draw_sd=0.5)
        runs, record, monitors = collect(block, 260, conditions, "target", config)
        _, families = analyse(runs, config, "target", monitors=monitors)
        outs.append((record, [[d["sequential"] for d in f["draws"]] for f in families]))
    assert outs[0] == outs[1]
    record, decisions = outs[0]
    assert record["looks"][-1] <= 260 and record["n_available"] == 260
    assert {d["decision"] for row in decisions for d in row} <= {"equivalent", "not equivalent", "continue"}


def test_extend_concatenates_prompts():
    conditions = _conditions(n_draws=2)
    a = ConditionRuns(conditions, [["x"]] * len(conditions), {"m": np.zeros((len(conditions), 1))})
    b = ConditionRuns(conditions, [["y"]] * len(conditions), {"m": np.ones((len(conditions), 2))})
    both = extend(a, b)
    assert both.texts[0] == ["x", "y"] and both.scores["m"].shape == (len(conditions), 3)
    assert extend(None, a) is a


@pytest.mark.parametrize("n,first,top,expected", [(30, 48, None, (30,)), (100, 48, 60, (48, 60)), (500, 48, 200, (48, 96, 200))])
def test_look_sizes(n, first, top, expected):
    assert look_sizes(n, first, top) == expected
