"""Answer-first sentences from synthetic units whose truth is known."""

from __future__ import annotations

import numpy as np
import pytest

from steerid.answers import trait_answers
from steerid.experiments.conditions import ConditionRuns, e1_conditions
from steerid.experiments.existence import add_farthest
from steerid.experiments.orthogonal import E1Config, analyse, existence_record
from steerid.stats.plan import EquivalencePlan

LEGACY = EquivalencePlan(margin="dz", margin_dz=0.3, correction="none", sequential=False)


def _unit(draw_sd: float, *, steer: float = 2.0, n: int = 300, experiment: str = "likelihood", farthest=None,
          plan: EquivalencePlan | None = LEGACY, existence: bool = False, seed: int = 1, noise: float = 1.0,
          offsets=None):
    direction = np.zeros(8)
    direction[0] = 1.0
    conditions = e1_conditions(direction, 1.0, rhos=(1.0,), n_draws=8, seed=0)
    rng = np.random.default_rng(seed)
    prompt = rng.normal(0, 1, n)
    scores = []
    for c in conditions:
        effect = steer * c.sign if c.kind in ("v", "v_plus_perp") else 0.0
        if c.kind == "v_plus_perp":
            effect += draw_sd * (c.draw - 3.5) + (offsets[c.draw] * c.sign if offsets is not None else 0.0)
        scores.append(prompt + effect + rng.normal(0, noise, n))
    runs = ConditionRuns(conditions, [], {"likelihood": np.array(scores)})
    config = E1Config(rhos=(1.0,), n_draws=8, plan=plan)
    eff, families = analyse(runs, config, "likelihood")
    result = {"primary": "likelihood", "efficacy": eff, "families": families, "config": {"plan": plan.to_dict()}}
    if existence:
        result["existence"] = existence_record(runs, config, "likelihood", families, 1 if farthest else 0)
    if farthest is not None:
        result["farthest_equivalent"] = farthest
        if existence:
            add_farthest(result, plan)
    return {"experiment": experiment, "status": "ok", "trait": "sentiment", "alpha_rel": 0.1, "environment": None,
            "unit_id": "u1", "result": result}


def test_equivalent_draws_read_as_not_identifiable():
    [answer] = trait_answers([_unit(0.0)])
    assert answer["kind"] == "not identifiable"
    assert "8 of 8 random orthogonal directions" in answer["text"] and "n 300" in answer["text"]


def test_draws_all_far_from_v_read_as_identifiable_here():
    [answer] = trait_answers([_unit(3.0, n=400)])
    counts = [(f["n_equivalent"], f["n_not_equivalent"]) for f in answer["families"]]
    assert all(eq == 0 for eq, _ in counts)
    if all(not_eq == 8 for _, not_eq in counts):
        assert answer["kind"] == "identifiable here"
    else:
        assert answer["kind"] == "undecided"


def test_a_found_farthest_vector_makes_it_not_identifiable_and_is_quoted():
    [answer] = trait_answers([_unit(3.0, n=400, farthest={"verdict": "found", "cosine": 0.31, "n_confirm": 50})])
    assert answer["kind"] == "not identifiable"
    assert "cosine 0.31" in answer["text"]


def test_a_vector_that_does_not_steer_is_undecided_without_a_claim():
    [answer] = trait_answers([_unit(0.0, steer=0.0)])
    assert answer["kind"] == "undecided" and "does not steer" in answer["text"]


def test_small_samples_say_what_n_is_needed():
    [answer] = trait_answers([_unit(0.0, n=12)])
    if answer["kind"] == "undecided":
        assert "needs n ≈" in answer["text"]


def test_units_that_are_not_e1_routes_are_ignored():
    assert trait_answers([{"experiment": "e6", "status": "ok", "trait": "x", "result": {}}]) == []


def test_the_plan_with_dz_margin_and_no_correction_reproduces_the_former_verdicts():
    for draw_sd, n, seed in ((0.0, 300, 1), (3.0, 400, 2), (0.15, 60, 3), (0.3, 120, 4), (0.0, 12, 5)):
        [old] = trait_answers([_unit(draw_sd, n=n, seed=seed)])
        [new] = trait_answers([_unit(draw_sd, n=n, seed=seed, existence=True)])
        assert new["kind"] == old["kind"]
        assert [(f["n_equivalent"], f["n_not_equivalent"]) for f in new["families"]] == \
            [(f["n_equivalent"], f["n_not_equivalent"]) for f in old["families"]]


def _marginal_unit(plan: EquivalencePlan, n: int = 40):
    """16 draws: +v's draw 0 tracks v with noise tuned so its relative p_tost is 0.02; the rest move 1.6× v."""
    from scipy.optimize import brentq

    from steerid.stats.existence import relative_tost

    direction = np.zeros(8)
    direction[0] = 1.0
    conditions = e1_conditions(direction, 1.0, rhos=(1.0,), n_draws=8, seed=0)
    rng = np.random.default_rng(0)
    S = 2.0 + rng.normal(0, 1, n)
    e = rng.normal(0, 1, n)
    e -= e.mean()
    k = brentq(lambda k: relative_tost(S + k * e, S, sign=1, margin=0.2, level=0.05)["p_tost"] - 0.02, 1e-3, 10)
    rows = []
    for c in conditions:
        if c.kind == "none":
            rows.append(np.zeros(n))
        elif c.kind == "v":
            rows.append(c.sign * S)
        elif c.kind == "v_plus_perp":
            rows.append(S + k * e if (c.sign > 0 and c.draw == 0) else c.sign * 1.6 * S + rng.normal(0, 0.3, n))
        else:
            rows.append(rng.normal(0, 1, n))
    runs = ConditionRuns(conditions, [], {"likelihood": np.array(rows)})
    config = E1Config(rhos=(1.0,), n_draws=8, plan=plan)
    eff, families = analyse(runs, config, "likelihood")
    result = {"primary": "likelihood", "efficacy": eff, "families": families, "config": {"plan": plan.to_dict()},
              "existence": existence_record(runs, config, "likelihood", families)}
    return {"experiment": "likelihood", "status": "ok", "trait": "agreeableness", "alpha_rel": 0.1,
            "environment": None, "unit_id": "u2", "result": result}


def test_one_marginal_draw_of_sixteen_does_not_survive_the_correction():
    """One draw of 16 equivalent at p 0.02 uncorrected: 'not identifiable' without correction, not with it."""
    corrected = _marginal_unit(EquivalencePlan(correction="bonferroni", sequential=False))
    [answer] = trait_answers([corrected])
    assert answer["kind"] == "undecided" and answer["evidence"] is None
    ex = corrected["result"]["existence"]
    assert ex["family_size"] == 16 and ex["n_equivalent"] == 0
    [loose] = trait_answers([_marginal_unit(EquivalencePlan(correction="none", sequential=False))])
    assert loose["kind"] == "not identifiable"
    assert loose["evidence"]["p"] == pytest.approx(0.02) and loose["evidence"]["family_size"] == 16


def test_evidence_names_the_try_its_adjusted_p_and_the_family():
    plan = EquivalencePlan(margin="relative", correction="holm", sequential=False)
    unit = _unit(0.0, n=300, plan=plan, existence=True)
    [answer] = trait_answers([unit])
    ev = answer["evidence"]
    assert answer["kind"] == "not identifiable"
    assert ev["family_size"] == 16 and ev["p_adjusted"] < 0.05 and ev["p"] <= ev["p_adjusted"]
    assert ev["sign"] in ("+v", "-v") and ev["condition"].startswith(("+v", "-v")) and "Holm" in ev["method"]
    draw = unit["result"]["families"][0]["draws"][0]
    for key in ("relative_tost", "decision", "p_adjusted", "ci_level"):
        assert key in draw
    assert {"estimate", "ci_low", "ci_high", "p_lower", "p_upper", "p_tost", "margin"} <= set(draw["relative_tost"])
    assert answer["margin_rel"] == 0.2 and answer["power"] is not None and answer["share"] is not None
    assert "adjusted" in answer["text"]


def test_identifiable_here_carries_no_evidence():
    plan = EquivalencePlan(margin="relative", correction="bonferroni", sequential=False)
    [answer] = trait_answers([_unit(3.0, n=400, plan=plan, existence=True)])
    assert answer["evidence"] is None and answer["kind"] in ("identifiable here", "undecided")


def test_the_farthest_candidate_is_one_more_try():
    plan = EquivalencePlan(margin="relative", correction="bonferroni", sequential=False)
    far = {"verdict": "found", "cosine": 0.31, "n_confirm": 50, "ladder": [{"p": 0.001, "passed": True}]}
    [answer] = trait_answers([_unit(3.0, n=400, plan=plan, existence=True, farthest=far)])
    assert answer["kind"] == "not identifiable" and answer["evidence"]["condition"] == "farthest"
    assert answer["evidence"]["family_size"] == 17 and answer["evidence"]["p_adjusted"] == 0.017
    weak = {**far, "ladder": [{"p": 0.01, "passed": True}]}
    [answer] = trait_answers([_unit(3.0, n=400, plan=plan, existence=True, farthest=weak)])
    assert answer["kind"] != "not identifiable"
