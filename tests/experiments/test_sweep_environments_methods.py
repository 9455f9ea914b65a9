import numpy as np
import pytest

from steerid.experiments import environments, methods, sweep
from steerid.experiments.base import ExperimentContext
from steerid.experiments.orthogonal import E1Config
from steerid.models import Site
from steerid.provenance import Provenance
from steerid.vector import SteeringVector

LENGTH = {"length": lambda texts, idx: np.array([len(t) for t in texts], float)}


def _vec(lm, seed):
    prov = Provenance(model_spec=lm.info.spec, model_name=lm.info.name, weights_hash=lm.info.weights_hash,
                      site="in:1", method=f"m{seed}")
    return SteeringVector.from_array(np.random.default_rng(seed).standard_normal(lm.info.hidden_size), prov)


@pytest.fixture
def ctx(llama_lm):
    return ExperimentContext(lm=llama_lm, site=Site(1), vector=_vec(llama_lm, 0), prompts=["hi", "a dog", "rain"],
                             token_norm=1.0, seed=0, batch_size=32)


def test_sweep_dose_response_includes_zero_alpha_control(ctx):
    cfg = sweep.SweepConfig(alphas_rel=(0.0, 2.0), e1=E1Config(rhos=(1.0,), n_draws=2, max_new_tokens=3))
    result = sweep.run(cfg, ctx, LENGTH).to_dict()
    assert [p["alpha_rel"] for p in result["points"]] == [0.0, 2.0]
    plus = result["curves"]["+v"]
    assert plus[0]["alpha_rel"] == 0.0 and plus[0]["mean_shift"] == 0.0  # α = 0 adds nothing
    assert "+v+v⊥[ρ=1] relative" in result["curves"]


def test_environments_run_each_with_joint_holm(ctx):
    cfg = E1Config(alpha_rel=2.0, rhos=(1.0,), n_draws=2, max_new_tokens=3)
    envs = {"in_distribution": ["hi", "a dog", "rain"], "topic_shift": ["sun", "code", "tea"]}
    result = environments.run(cfg, ctx, envs, {e: LENGTH for e in envs}).to_dict()
    assert set(result["per_environment"]) == set(envs)
    raw = [f["tost"]["p_tost"] for r in result["per_environment"].values() for f in r["families"]]
    adj = [p for ps in result["holm_p"].values() for p in ps]
    assert len(adj) == len(raw) == 4 and all(a >= r - 1e-12 for a, r in zip(adj, raw))


def test_methods_cosine_matrix_and_comparisons(ctx, llama_lm):
    vecs = {"a": _vec(llama_lm, 1), "b": _vec(llama_lm, 2), "a_again": _vec(llama_lm, 1)}
    cos = methods.cosine_matrix(vecs)
    np.testing.assert_allclose(np.diag(cos), 1.0)
    assert cos[0, 2] == pytest.approx(1.0) and abs(cos[0, 1]) < 0.5
    result = methods.run(methods.E5Config(alpha_rel=2.0, max_new_tokens=3), ctx, vecs, LENGTH).to_dict()
    assert result["methods"] == ["a", "b", "a_again"]
    assert len(result["comparisons"]) == 4
    same = [c for c in result["comparisons"] if c["method"] == "a_again"]
    # an identical vector gives identical continuations: zero difference on every prompt
    assert all(c["tost"]["mean_diff"] == 0.0 for c in same)
