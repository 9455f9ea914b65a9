"""The paper's six claims read from synthetic units whose truth is known."""

from __future__ import annotations

import numpy as np

from steerid.answers import trait_answers
from steerid.claims import paper_claims
from steerid.experiments.conditions import ConditionRuns, e1_conditions
from steerid.experiments.orthogonal import E1Config, analyse, existence_record
from steerid.stats.plan import EquivalencePlan

PLAN = EquivalencePlan(sequential=False)


def _unit(ratio: float = 1.0, *, n: int = 200, experiment: str = "likelihood", env=None, alpha=0.1, seed=0,
          secondary_shift: float = 0.0, noise: float = 0.05):
    direction = np.zeros(8)
    direction[0] = 1.0
    conditions = e1_conditions(direction, 1.0, rhos=(1.0,), n_draws=4, seed=0)
    rng = np.random.default_rng(seed)
    S = 2.0 + rng.normal(0, 0.3, n)
    primary, other = [], []
    for c in conditions:
        base = rng.normal(0, 0.01, n)
        if c.kind == "none":
            primary.append(np.zeros(n))
        elif c.kind == "v":
            primary.append(c.sign * S)
        elif c.kind == "v_plus_perp":
            primary.append(c.sign * ratio * S + rng.normal(0, noise, n))
        else:
            primary.append(rng.normal(0, 1, n))
        other.append(base + (secondary_shift if c.kind == "v_plus_perp" and c.draw == 0 else 0.0))
    scores = {"target": np.array(primary)}
    if experiment == "e1":
        scores["other"] = np.array(other)
    runs = ConditionRuns(conditions, [], scores)
    config = E1Config(rhos=(1.0,), n_draws=4, plan=PLAN)
    eff, families = analyse(runs, config, "target")
    result = {"primary": "target", "efficacy": eff, "families": families, "n_prompts": n,
              "existence": existence_record(runs, config, "target", families), "config": {"plan": PLAN.to_dict()}}
    return {"experiment": experiment, "status": "ok", "trait": "sentiment", "alpha_rel": alpha, "environment": env,
            "unit_id": f"{experiment}{env}{alpha}", "result": result}


def _results(units, scorers=None):
    return {"units": units, "answers": trait_answers(units), "scorers": scorers or {},
            "equivalence_plan": PLAN.to_dict(), "config": {}}


def _get(claims, cid, route=None):
    return [c for c in claims if c["claim_id"] == cid and (route is None or c["route"] == route)]


def test_efficacy_and_effect_size_hold_when_every_draw_tracks_v():
    claims = paper_claims(_results([_unit(1.0, n=600)]))  # ±0.2 d_z over 8 tries needs n ≈ 400
    [c1] = _get(claims, 1)
    assert c1["verdict"] == "holds" and abs(c1["effect"] - 1.0) < 0.01 and c1["ci"][0] >= 0.95 and c1["n"] == 600
    [c2] = _get(claims, 2)
    assert c2["verdict"] == "holds"
    assert {"claim_id", "claim", "trait", "route", "verdict", "reason", "test", "effect", "ci", "n",
            "config_key"} <= set(c1)


def test_efficacy_does_not_hold_when_draws_reach_70_percent():
    claims = paper_claims(_results([_unit(0.7)]))
    assert _get(claims, 1)[0]["verdict"] == "does not hold"
    assert _get(claims, 2)[0]["verdict"] == "does not hold"


def test_blind_spot_on_a_secondary_measure_and_the_scorer_gate():
    units = [_unit(1.0, experiment="e1", env="in_distribution", secondary_shift=0.5)]
    [c3] = _get(paper_claims(_results(units)), 3, "generation")
    assert c3["verdict"] == "does not hold" and "blind spots" in c3["reason"]
    ok = [_unit(1.0, experiment="e1", env="in_distribution", n=600)]
    [c3] = _get(paper_claims(_results(ok)), 3, "generation")
    assert c3["verdict"] == "holds"
    weak = {"sentiment": {"name": "sentiment", "accuracy": 0.7, "target": 0.88, "meets_target": False}}
    claims = paper_claims(_results(ok, weak))
    for cid in (1, 2, 3):
        [c] = _get(claims, cid, "generation")
        assert c["verdict"] == "undecided" and "below its accuracy target" in c["reason"]


def test_persistence_needs_two_units_and_names_the_key_otherwise():
    claims = paper_claims(_results([_unit(1.0)]))
    [c5] = _get(claims, 5)
    assert c5["verdict"] == "not tested" and "alphas_rel" in c5["config_key"]
    two = [_unit(1.0, alpha=0.1), _unit(1.0, alpha=0.2, seed=1)]
    [c5] = _get(paper_claims(_results(two)), 5)
    assert c5["verdict"] == "holds" and c5["n"] == 2


def _e6(fraction: float, kind: str):
    return {"experiment": "e6", "status": "ok", "trait": "sentiment", "result": {
        "covariance": {"d": 64, "n": 300, "effective_rank_fraction": {"0.99": 0.4}, "rank_bounded_by_n": False},
        "fisher": {"d": 64, "k": 8, "n_positions": 24, "null_space": [
            {"tolerance": t, "fraction": fraction, "dimension": int(64 * fraction), "kind": kind}
            for t in (1e-2, 1e-3, 1e-4)]}}}


def test_null_space_claim_reads_the_fisher_with_its_threshold():
    for frac, kind, verdict in ((0.7, "determined", "holds"), (0.98, "upper_bound", "undecided"),
                                (0.3, "determined", "does not hold")):
        [c4] = _get(paper_claims(_results([_e6(frac, kind)])), 4)
        assert c4["verdict"] == verdict and c4["effect"] == frac
    [c4] = _get(paper_claims(_results([_unit()])), 4)
    assert c4["verdict"] == "not tested" and "e6" in c4["config_key"]


def test_recovery_claim():
    rec = {"experiment": "recovery", "status": "ok", "trait": "sentiment", "result": {"stability": {"stability": [
        {"method": "mean_diff", "median": 0.99, "p05": 0.97, "stable": True, "min_cosine": 0.95, "n_bootstrap": 100},
        {"method": "pca", "median": 0.8, "p05": 0.5, "stable": False, "min_cosine": 0.95, "n_bootstrap": 100}]}}}
    [c6] = _get(paper_claims(_results([rec])), 6)
    assert c6["verdict"] == "holds" and c6["effect"] == 0.99 and "not measured" in c6["reason"]
    rec["result"]["stability"]["stability"][0]["stable"] = False
    assert _get(paper_claims(_results([rec])), 6)[0]["verdict"] == "does not hold"
    assert _get(paper_claims(_results([])), 6)[0]["verdict"] == "not tested"
