"""Answer-first sentences from synthetic units whose truth is known."""

from __future__ import annotations

import numpy as np

from steerid.answers import trait_answers
from steerid.experiments.conditions import ConditionRuns, e1_conditions
from steerid.experiments.orthogonal import E1Config, analyse


def _unit(draw_sd: float, *, steer: float = 2.0, n: int = 300, experiment: str = "likelihood", farthest=None):
    direction = np.zeros(8)
    direction[0] = 1.0
    conditions = e1_conditions(direction, 1.0, rhos=(1.0,), n_draws=8, seed=0)
    rng = np.random.default_rng(1)
    prompt = rng.normal(0, 1, n)
    scores = []
    for c in conditions:
        effect = steer * c.sign if c.kind in ("v", "v_plus_perp") else 0.0
        if c.kind == "v_plus_perp":
            effect += draw_sd * (c.draw - 3.5)
        scores.append(prompt + effect + rng.normal(0, 1, n))
    runs = ConditionRuns(conditions, [], {"likelihood": np.array(scores)})
    config = E1Config(rhos=(1.0,), n_draws=8, margin_dz=0.3, margin_rel=0.2)
    eff, families = analyse(runs, config, "likelihood")
    result = {"primary": "likelihood", "efficacy": eff, "families": families, "config": {"margin_dz": 0.3}}
    if farthest is not None:
        result["farthest_equivalent"] = farthest
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
