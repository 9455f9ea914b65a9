import json

import numpy as np
import pytest

from steerid.experiments.base import ExperimentContext
from steerid.experiments.conditions import e1_conditions
from steerid.experiments.orthogonal import E1Config, analyse, run
from steerid.experiments.conditions import ConditionRuns
from steerid.models import Site
from steerid.provenance import Provenance
from steerid.vector import SteeringVector
from steerid.stats.plan import EquivalencePlan


def _vector(lm, seed=0):
    rng = np.random.default_rng(seed)
    prov = Provenance(model_spec=lm.info.spec, model_name=lm.info.name, weights_hash=lm.info.weights_hash,
                      site="in:1", method="mean_diff")
    return SteeringVector.from_array(rng.standard_normal(lm.info.hidden_size), prov)


def test_e1_conditions_geometry():
    v = np.zeros(16)
    v[0] = 1.0
    conds = e1_conditions(v, 3.0, rhos=(0.5, 2.0), n_draws=4, seed=1)
    names = [c.name for c in conds]
    assert names[:3] == ["none", "+v", "-v"] and len(set(names)) == len(names)
    for c in conds:
        if c.kind == "v_plus_perp":
            perp = c.delta - c.sign * 3.0 * v
            assert abs(perp @ v) < 1e-9
            assert np.linalg.norm(perp) == pytest.approx(c.rho * 3.0)
        if c.kind == "random":
            assert c.norm == pytest.approx(np.sqrt(1 + c.rho**2) * 3.0)
    again = e1_conditions(v, 3.0, rhos=(0.5, 2.0), n_draws=4, seed=1)
    assert all(np.array_equal(a.delta, b.delta) for a, b in zip(conds, again))


def _runs(conditions, n, effect, rng, perp_effect=0.0):
    base = rng.normal(size=n)
    scores = []
    for c in conditions:
        shift = effect * c.sign if c.kind in ("v", "v_plus_perp") else 0.0
        if c.kind == "v_plus_perp":
            shift += perp_effect
        scores.append(base + shift + rng.normal(scale=0.05, size=n))
    texts = [["x"] * n for _ in conditions]
    return ConditionRuns(list(conditions), texts, {"trait": np.array(scores)})


def test_analysis_verdicts_equivalent_not_equivalent_not_steering():
    rng = np.random.default_rng(0)
    conds = e1_conditions(np.eye(8)[0], 1.0, rhos=(1.0,), n_draws=8)
    cfg = E1Config(rhos=(1.0,), n_draws=8)
    _, fams = analyse(_runs(conds, 300, 1.0, rng), cfg, "trait")
    assert {f["verdict"] for f in fams} == {"equivalent"}
    # positive control: v⊥ shifts the score by half the effect -> must come out not equivalent
    _, fams = analyse(_runs(conds, 300, 1.0, rng, perp_effect=0.5), cfg, "trait")
    assert {f["verdict"] for f in fams} == {"not equivalent"}
    _, fams = analyse(_runs(conds, 300, 0.0, rng), cfg, "trait")
    assert {f["verdict"] for f in fams} == {"not steering"}
    _, fams = analyse(_runs(conds, 12, 1.0, np.random.default_rng(3)), cfg, "trait")
    assert all(f["verdict"] in ("equivalent", "inconclusive (underpowered)") for f in fams)


def test_e1_runs_end_to_end_on_tiny_model(llama_lm):
    lm = llama_lm
    ctx = ExperimentContext(lm=lm, site=Site(1), vector=_vector(lm), prompts=["hello", "a cat", "the sea", "rain"],
                            token_norm=1.0, seed=0, batch_size=32)
    measures = {"length": lambda texts, idx: np.array([len(t) for t in texts], float)}
    cfg = E1Config(alpha_rel=3.0, rhos=(1.0,), n_draws=2, max_new_tokens=4)
    result = run(cfg, ctx, measures)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["n_prompts"] == 4 and data["primary"] == "length"
    assert set(data["measures"]) == {"length", "loglik"}
    assert len(data["families"]) == 2 and data["families"][0]["n_draws"] == 2
    assert data["examples"][0]["continuations"].keys() >= {"none", "+v", "-v"}
    assert result.condition_rows()
    again = run(cfg, ctx, measures).to_dict()
    assert json.dumps(again, sort_keys=True) == json.dumps(result.to_dict(), sort_keys=True)


def test_relative_margin_decides_where_the_dz_margin_cannot():
    """n = 12: the d_z TOST is underpowered whatever the data, the ratio TOST is not when effects are precise."""
    rng = np.random.default_rng(4)
    conds = e1_conditions(np.eye(8)[0], 1.0, rhos=(1.0,), n_draws=4)
    cfg = E1Config(rhos=(1.0,), n_draws=4, plan=EquivalencePlan(margin_rel=0.2, sequential=False))
    _, fams = analyse(_runs(conds, 12, 1.0, rng), cfg, "trait")
    assert {f["verdict"] for f in fams} <= {"inconclusive (underpowered)", "equivalent"}
    assert {f["verdict_relative"] for f in fams} == {"equivalent"}
    assert all(0.8 < f["tost_relative"]["ratio"] < 1.2 for f in fams)
    # positive control: v⊥ adds half of v's effect in the + direction -> ratio 1.5 (+v) / 0.5 (−v)
    _, fams = analyse(_runs(conds, 12, 1.0, rng, perp_effect=0.5), cfg, "trait")
    assert {f["verdict_relative"] for f in fams} == {"not equivalent"}
    _, fams = analyse(_runs(conds, 12, 0.0, rng), cfg, "trait")
    assert {f["verdict_relative"] for f in fams} == {"not steering"}
    assert all(f["tost_relative"] is None for f in fams)
