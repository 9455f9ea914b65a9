"""Farthest equivalent vector: planted truths for the model-free search, and the tiny-model route."""

import json

import numpy as np
import pytest

from steerid.capture import median_token_norm
from steerid.errors import DataError, VectorError
from steerid.experiments import farthest
from steerid.experiments.base import ExperimentContext
from steerid.experiments.farthest import candidate_directions, search_farthest, split_items
from steerid.models import Site, load_model
from steerid.provenance import Provenance
from steerid.vector import SteeringVector
from steerid.stats.plan import EquivalencePlan


pytestmark = pytest.mark.usefixtures("one_thread")


def planted(d=12, k=4, n=600, sigma=0.3, kappa=5.0, seed=0):
    """Non-identifiable truth: v = v̂ (‖v‖ = 1), a planted subspace S ⟂ v (dim k), R = the rest.

    primary_i(u)   = ⟨u, v̂⟩ + σ⟨u, g_i⟩        (population mean depends on ⟨u, v̂⟩ only)
    secondary_i(u) = κ‖Rᵀu‖² + σ⟨u, h_i⟩        (blind to S and v: changes only off span(v, S))

    g_i, h_i ~ N(0, I) give item-level noise. Every u = c(cos θ v̂ + sin θ w), w ∈ S, c cos θ = 1
    is equivalent to v in the population, so the farthest has cos θ = 1/c_max.
    """
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    vhat, S, R = q[:, 0], q[:, 1:1 + k], q[:, 1 + k:]
    g, h = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    calls = []

    def measure(deltas, items):
        calls.append(np.array(items))
        return {"primary": (deltas @ vhat)[:, None] + sigma * deltas @ g[items].T,
                "secondary": kappa * ((deltas @ R) ** 2).sum(1)[:, None] + sigma * deltas @ h[items].T}

    return measure, vhat.copy(), S, calls


def identifiable(d=8, n=120, sigma=0.05, seed=0):
    """Identifiable truth: primary = ⟨a, u⟩, secondaries sec_j = ⟨b_j, u⟩ for an orthonormal basis
    {b_j} of a^⊥ (plus item noise): any rotation away from v = 2a moves some secondary's mean."""
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    a, B = q[:, 0], q[:, 1:]
    g = rng.standard_normal((d, n, d))

    def measure(deltas, items):
        out = {"primary": (deltas @ a)[:, None] + sigma * deltas @ g[0][items].T}
        for j in range(d - 1):
            out[f"sec{j}"] = (deltas @ B[:, j])[:, None] + sigma * deltas @ g[j + 1][items].T
        return out

    return measure, 2.0 * a, B


def _planted_search(seed=0, **kw):
    measure, v, S, calls = planted(seed=seed)
    cand, kinds = candidate_directions(v, n_random=2, basis=S, n_basis=3, seed=seed)
    opts = dict(candidate_kinds=kinds, items_search=np.arange(300), items_confirm=np.arange(300, 600), margin_dz=0.3,
                n_theta=4, seed=seed)
    return search_farthest(measure, v, cand, **{**opts, **kw}), v, S, calls


def test_planted_subspace_is_found_far_from_v_and_confirmed():
    result, v, S, _ = _planted_search()
    assert result.verdict == "found" and not result.failed
    assert result.cosine < 0.5 and result.theta_deg > 60
    assert result.best_candidate["kind"] == "basis"
    assert result.ladder and all(r["passed"] for r in result.ladder)
    assert set(result.confirm) == {"primary", "secondary"}
    assert all(t["equivalent_adjusted"] and t["p_adjusted"] < 0.05 for t in result.confirm.values())
    u = np.asarray(result.u)
    assert np.linalg.norm(u) / np.linalg.norm(v) == pytest.approx(result.norm_ratio, rel=1e-9)
    assert u @ v / (np.linalg.norm(u) * np.linalg.norm(v)) == pytest.approx(result.cosine, rel=1e-9)
    # u lies in span(v, S) and matches the primary: c·cos θ ≈ 1
    resid = u - v * (u @ v) - S @ (S.T @ u)
    assert np.linalg.norm(resid) < 1e-8 * np.linalg.norm(u)
    # population primary shift of u is c·cos θ = ⟨u, v̂⟩; the d_z margin (±0.3·sd(D), sd(D) ≈ σ‖u − v‖ ≈ 1.1)
    # tolerates the search items' noise that the c-solve absorbed
    assert u @ v == pytest.approx(1.0, abs=0.35)
    # random directions leave S and break the secondary almost at once
    randoms = [c for c in result.candidates if c["kind"] == "random"]
    assert all(c["theta_deg"] < 10 and c["failed_above"] == ["secondary"] for c in randoms)
    b = result.budget
    assert b["calls"] <= b["calls_bound"] and b["rows"] > 0 and b["n_searched"] == 5
    out = json.loads(json.dumps(result.to_dict()))
    assert out["verdict"] == "found" and len(out["u"]) == v.size
    assert "found" in result.summary() and "cos" in result.summary()


def test_identifiable_case_finds_nothing_and_names_a_secondary():
    measure, v, B = identifiable()
    cand, kinds = candidate_directions(v, n_random=3, basis=B, n_basis=3, seed=0)
    result = search_farthest(measure, v, cand, candidate_kinds=kinds, items_search=np.arange(60),
                             items_confirm=np.arange(60, 120), margin_dz=0.3, n_theta=4, n_bisect=2)
    assert result.verdict == "none found"
    assert result.cosine == pytest.approx(1.0) and result.theta_deg == 0.0
    assert all(c["theta_deg"] == 0.0 for c in result.candidates)
    assert result.failed and result.failed[0].startswith("sec")
    assert max(result.failure_counts, key=result.failure_counts.get).startswith("sec")
    assert result.confirm == {} and result.ladder == []
    assert any("nothing to confirm" in n for n in result.notes)
    assert "none found" in result.summary()


def test_raw_margins_replace_dz_margins_for_named_measures():
    measure, v, B = identifiable()
    cand, kinds = candidate_directions(v, n_random=2, seed=0)
    wide = {f"sec{j}": 10.0 for j in range(7)}  # secondaries allowed to move by ±10: rotation becomes free
    result = search_farthest(measure, v, cand, candidate_kinds=kinds, items_search=np.arange(60),
                             items_confirm=np.arange(60, 120), margin_dz=0.5, margin_raw=wide, n_theta=4, n_bisect=2)
    assert result.verdict == "found" and result.cosine < 0.9
    assert result.confirm["sec0"]["margin_source"] == "raw" and result.confirm["primary"]["margin_source"] == "dz"
    with pytest.raises(DataError, match="unknown measures"):
        search_farthest(measure, v, cand, items_search=np.arange(60), items_confirm=np.arange(60, 120),
                        margin_raw={"nope": 1.0})


def test_confirm_items_are_disjoint_and_only_used_to_confirm():
    result, _, _, calls = _planted_search()
    search, confirm = set(result.search_items), set(result.confirm_items)
    assert not search & confirm
    assert all(set(c.tolist()) == search for c in calls[:-1])  # everything that chooses u sees search items only
    assert set(calls[-1].tolist()) == confirm and len(calls) == result.budget["calls"]
    s, c = split_items(20, 0.5, seed=3)
    assert not set(s) & set(c) and sorted([*s, *c]) == list(range(20)) and len(s) == 10
    with pytest.raises(DataError, match="overlap"):
        _planted_search(items_search=np.arange(300), items_confirm=np.arange(290, 600))


def test_deterministic_under_a_seed():
    a, *_ = _planted_search(seed=1, n_refine=2)
    b, *_ = _planted_search(seed=1, n_refine=2)
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    c, *_ = _planted_search(seed=2, n_refine=2)
    assert c.u != a.u


def test_max_calls_bounds_the_search():
    result, *_ = _planted_search(max_calls=25)
    assert result.budget["calls"] <= 25 and result.budget["n_searched"] < 5
    assert any("max_calls" in n for n in result.notes)


def test_bad_input_raises_one_line_errors():
    measure, v, S, _ = planted(n=20)
    ok = dict(items_search=np.arange(10), items_confirm=np.arange(10, 20))
    cand = np.eye(v.size)[:3]
    cases = [
        (VectorError, dict(v=np.zeros(v.size))),
        (VectorError, dict(v=np.full(v.size, np.nan))),
        (VectorError, dict(candidates=np.ones((2, v.size + 1)))),
        (VectorError, dict(candidates=np.stack([v, 2 * v]))),
        (DataError, dict(items_search=np.arange(2))),
        (DataError, dict(items_search=np.array([0, 1, 1, 2]))),
        (DataError, dict(margin_dz=0.0)),
        (DataError, dict(measure=lambda d, i: {"primary": np.zeros((1, 1))})),
        (DataError, dict(measure=lambda d, i: {"primary": np.full((d.shape[0], i.size), np.nan)})),
    ]
    for error, change in cases:
        args = {"measure": measure, "v": v, "candidates": cand, **ok, **change}
        with pytest.raises(error) as info:
            search_farthest(args.pop("measure"), args.pop("v"), args.pop("candidates"), **args)
        assert "\n" not in str(info.value) and "fix:" in str(info.value)
    with pytest.raises(VectorError):
        candidate_directions(np.zeros(4), n_random=2)
    with pytest.raises(DataError):
        split_items(5, 0.5, seed=0)


QUESTIONS = ["How is the weather?", "How was the meal?", "How is your day?", "What do you think of it?",
             "How was the film?", "How is the new job?", "How was the trip?", "What about the book?"]
POS = ["It is lovely.", "Truly great.", "Wonderful.", "I like it.", "A delight.", "Very good.", "Amazing.", "Superb."]
NEG = ["It is awful.", "Truly bad.", "Terrible.", "I hate it.", "A bore.", "Very poor.", "Dreadful.", "Awful."]
SITE = Site(1)


def _ctx(lm, **extra):
    prompts = [lm.tokenizer.apply_chat_template([{"role": "user", "content": q}], tokenize=False,
                                                add_generation_prompt=True) for q in QUESTIONS]
    v = SteeringVector.from_array(np.random.default_rng(1).standard_normal(lm.info.hidden_size),
                                  Provenance(lm.info.spec, lm.info.name, "", str(SITE), "test"))
    return ExperimentContext(lm=lm, site=SITE, vector=v, prompts=prompts, token_norm=median_token_norm(lm, prompts, SITE),
                             seed=0, batch_size=64, extra={"positives": POS, "negatives": NEG, **extra})


def test_tiny_model_end_to_end():
    lm = load_model("tiny:llama")
    off = {"prompts": [q.replace("How", "Tell me how") for q in QUESTIONS], "positives": ["Dear sir, it is fine."] * 8,
           "negatives": ["yo its fine lol"] * 8}
    ctx = _ctx(lm, off_target=off)
    cfg = farthest.FarthestConfig(alpha_rel=0.5, plan=EquivalencePlan(margin_dz=0.5), n_candidates=1, n_basis_candidates=1, fisher_basis=4,
                                  n_theta=2, n_bisect=1, n_c=4, c_steps=0, confirm_fractions=())
    result = farthest.run(cfg, ctx)
    out = json.loads(json.dumps(result.to_dict()))
    assert out["verdict"] in ("found", "none found")
    assert out["measures"] == ["likelihood", "loglik", "off_target"] and out["primary"] == "likelihood"
    assert len(out["u"]) == lm.info.hidden_size and -1 <= out["cosine"] <= 1 + 1e-9 and out["norm_ratio"] > 0
    assert len(out["search_items"]) == 4 and len(out["confirm_items"]) == 4
    assert not set(out["search_items"]) & set(out["confirm_items"])
    assert out["budget"]["calls"] <= out["budget"]["calls_bound"]
    assert [c["kind"] for c in out["candidates"]] == ["random", "basis"]
    fisher = out["extras"]["fisher"]
    assert fisher["method"] == "exact" and fisher["basis_dim"] == 4 and 0 <= fisher["u_fisher_rel"] <= 1 + 1e-9
    assert out["config"]["n_candidates"] == 1 and out["seconds"] > 0
    assert any("underpowered" in n for n in out["notes"])  # 4 items cannot show equivalence
    assert isinstance(result.summary(), str)
    with pytest.raises(DataError, match="positives"):
        farthest.run(cfg, _ctx(lm, positives=POS[:5]))
