"""The unit's per-draw decisions and existence claim under the equivalence plan, fixed and sequential."""

from __future__ import annotations

import numpy as np
import pytest

from steerid.experiments.conditions import ConditionRuns, e1_conditions
from steerid.experiments.existence import apply_plan, n_tries, size_from_results
from steerid.experiments.orthogonal import E1Config, analyse, collect, existence_record
from steerid.stats.plan import EquivalencePlan


def _conditions(n_draws=8):
    direction = np.zeros(16)
    direction[0] = 1.0
    return e1_conditions(direction, 1.0, rhos=(1.0,), n_draws=n_draws, seed=0)


def _scores(conditions, n, *, ratios=None, steer=2.0, noise=0.3, seed=0):
    """primary: none = prompt; s·v = prompt + s·(steer + z); draw j = prompt + ratio_j·s·(steer + z) + e."""
    rng = np.random.default_rng(seed)
    prompt = rng.normal(0, 1, n)
    z = rng.normal(0, 1, n)
    rows = []
    for c in conditions:
        if c.kind == "v":
            rows.append(prompt + c.sign * (steer + z))
        elif c.kind == "v_plus_perp":
            r = 1.0 if ratios is None else ratios[c.draw]
            rows.append(prompt + r * c.sign * (steer + z) + rng.normal(0, noise, n))
        else:
            rows.append(prompt + rng.normal(0, noise, n) * (c.kind != "none"))
    return {"target": np.array(rows)}


def _block(conditions, n_total, **kwargs):
    full = _scores(conditions, n_total, **kwargs)
    return lambda part: ConditionRuns(conditions, [], {m: v[:, part] for m, v in full.items()})


def test_fixed_design_records_the_fields_and_the_claim():
    conditions = _conditions()
    runs = ConditionRuns(conditions, [], _scores(conditions, 120, ratios=[1.0] * 4 + [1.8] * 4))
    config = E1Config(rhos=(1.0,), n_draws=8, plan=EquivalencePlan(correction="holm", sequential=False))
    _, families = analyse(runs, config, "target")
    record = existence_record(runs, config, "target", families)
    assert record["family_size"] == 16 == n_tries(runs, (1, -1), (1.0,))
    assert record["verdict"] == "not identifiable" and record["evidence"]["family_size"] == 16
    for f in families:
        claim = f["claim"]
        assert claim["family_size"] == 16 and claim["correction"] == "holm" and claim["level"] == 0.05
        assert claim["n_equivalent"] == 4 and claim["n_not_equivalent"] == 4 and claim["n_undecided"] == 0
        for d in f["draws"]:
            rel = d["relative_tost"]
            # Holm: each draw's interval at its step level, level / (K − rank)
            assert 1 - 2 * 0.05 - 1e-12 <= d["ci_level"] <= 1 - 2 * 0.05 / 16 + 1e-12
            assert rel["ci_level"] == d["ci_level"]
            inside = rel["ci_low"] > 0.8 and rel["ci_high"] < 1.2
            assert inside == (d["decision"] == "equivalent")
            assert (d["p_adjusted"] < 0.05) == (d["decision"] == "equivalent")
    power = record["power_plan"]
    assert power["n_relative"] is not None and power["pilot"]["n"] == 48 and power["n_tries"] == 16


def test_a_sign_that_does_not_steer_makes_no_claim_but_stays_in_the_family():
    conditions = _conditions()
    runs = ConditionRuns(conditions, [], _scores(conditions, 120, steer=0.0, noise=0.01))
    config = E1Config(rhos=(1.0,), n_draws=8, plan=EquivalencePlan(sequential=False))
    _, families = analyse(runs, config, "target")
    record = existence_record(runs, config, "target", families)
    assert record["verdict"] == "not steering" and record["family_size"] == 16
    assert all(d["decision"] == "undecided" and d["p_adjusted"] == 1.0 for f in families for d in f["draws"])


def test_sequential_relative_design_splits_the_level_and_decides_every_draw():
    conditions = _conditions()
    plan = EquivalencePlan(correction="bonferroni", sequential=True, first_look=48)
    config = E1Config(rhos=(1.0,), n_draws=8, plan=plan)
    block = _block(conditions, 200, ratios=[1.0] * 6 + [2.0] * 2)
    runs, record, monitors = collect(block, 200, conditions, "target", config)
    assert record["try_level"] == pytest.approx(0.05 / 16) and record["n_tries"] == 16
    _, families = analyse(runs, config, "target", monitors=monitors)
    ex = existence_record(runs, config, "target", families)
    decisions = [d["decision"] for f in families for d in f["draws"]]
    assert decisions.count("equivalent") == 12 and decisions.count("not equivalent") == 4
    assert ex["verdict"] == "not identifiable" and "sequential" in ex["method"]
    for f in families:
        for d in f["draws"]:
            assert (d["p_adjusted"] < 0.05) == (d["decision"] == "equivalent")
            assert d["sequential"]["alpha_nominal"] <= 0.05 / 16
            rel = d["relative_tost"]  # the interval the sequential decision rested on
            assert rel["ci_level"] == d["ci_level"] and rel["n"] == d["sequential"]["stopping_n"]
            if d["decision"] == "equivalent":
                assert 0.8 < rel["ci_low"] and rel["ci_high"] < 1.2


def test_sequential_dz_without_correction_reproduces_the_former_monitors():
    conditions = _conditions()
    plan = EquivalencePlan(margin="dz", margin_dz=1.0, correction="none", sequential=True, first_look=48)
    config = E1Config(rhos=(1.0,), n_draws=8, plan=plan)
    runs, record, monitors = collect(_block(conditions, 400, noise=0.2), 400, conditions, "target", config)
    assert record["try_level"] == 0.05
    _, families = analyse(runs, config, "target", monitors=monitors)
    existence_record(runs, config, "target", families)
    for f in families:
        for d in f["draws"]:
            former = "equivalent" if d["sequential"]["decision"] == "equivalent" else (
                "not equivalent" if d["sequential"]["shown_different"] else "undecided")
            assert d["decision"] == former


def test_apply_plan_reserves_the_farthest_try():
    conditions = _conditions()
    runs = ConditionRuns(conditions, [], _scores(conditions, 80))
    config = E1Config(rhos=(1.0,), n_draws=8, plan=EquivalencePlan(sequential=False))
    _, families = analyse(runs, config, "target")
    rec = apply_plan(families, runs, "target", config.plan, n_tries_total=17)
    assert rec["family_size"] == 17 and rec["evidence"]["family_size"] == 17


def test_size_from_results_uses_each_units_pilot():
    conditions = _conditions()
    runs = ConditionRuns(conditions, [], _scores(conditions, 80))
    config = E1Config(rhos=(1.0,), n_draws=8, plan=EquivalencePlan(sequential=False))
    _, families = analyse(runs, config, "target")
    ex = existence_record(runs, config, "target", families)
    results = {"units": [{"status": "ok", "trait": "t", "experiment": "likelihood", "result": {"existence": ex}}]}
    small, large = (size_from_results(results, config.plan, k)[0]["n_needed"] for k in (2, 32))
    assert small < large
    assert size_from_results(results, config.plan, 16)[0]["n_needed"] == ex["power_plan"]["n_needed"]


def test_bonferroni_draws_every_interval_at_the_try_level():
    conditions = _conditions()
    runs = ConditionRuns(conditions, [], _scores(conditions, 120, ratios=[1.0] * 4 + [1.8] * 4))
    config = E1Config(rhos=(1.0,), n_draws=8, plan=EquivalencePlan(correction="bonferroni", sequential=False))
    _, families = analyse(runs, config, "target")
    existence_record(runs, config, "target", families)
    for d in (d for f in families for d in f["draws"]):
        assert d["ci_level"] == pytest.approx(1 - 2 * 0.05 / 16) == d["relative_tost"]["ci_level"]
        assert (d["p_adjusted"] < 0.05) == (d["decision"] == "equivalent")
