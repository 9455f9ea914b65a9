"""Samplers of v⊥ on a tiny model with a planted null space N at the last block's output.

Planting: the final norm is the identity and the readout's columns in N are zero, so the logits
provably do not depend on the residual's N-coordinates (the Fisher null space is N); the
embedding and every block's writes into N are zero, so the residual has no variance in N (the
covariance null space is N too). Draws from N ∩ v⊥ therefore change nothing (share of equivalent
directions = the test's power), draws from the Fisher range change the outputs.
"""

import numpy as np
import pytest
import torch

from steerid.capture import median_token_norm
from steerid.errors import ConfigError
from steerid.experiments.base import ExperimentContext
from steerid.experiments.likelihood import likelihood_scores
from steerid.experiments.orthogonal import OrthogonalConfig
from steerid.experiments.samplers import (
    build_bases,
    check_samplers,
    complement_within,
    run_samplers,
    sampler_conditions,
)
from steerid.models import Site, load_model
from steerid.stats.plan import EquivalencePlan
from steerid.provenance import Provenance
from steerid.vector import SteeringVector

pytestmark = pytest.mark.usefixtures("one_thread")

NULL = np.arange(40, 48)  # the planted null coordinates
SITE = Site(2, "out")
WORDS = ["good", "bad", "fine", "awful", "great", "poor", "nice", "grim", "kind", "cold", "warm", "dull"]


def planted_model():
    lm = load_model("tiny:llama", seed=5)
    model = lm.model
    with torch.no_grad():
        model.model.norm = torch.nn.Identity()
        model.lm_head.weight[:, NULL] = 0
        model.model.embed_tokens.weight[:, NULL] = 0
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight[NULL, :] = 0
            layer.mlp.down_proj.weight[NULL, :] = 0
    return lm


@pytest.fixture(scope="module")
def planted():
    lm = planted_model()
    prompts = [f"the {a} and the {b} were" for a in WORDS for b in WORDS[:5]][:60]
    direction = np.random.default_rng(3).standard_normal(lm.info.hidden_size)
    vector = SteeringVector.from_array(direction, Provenance("tiny:llama", "tiny:llama", "", str(SITE), "test"))
    ctx = ExperimentContext(lm=lm, site=SITE, vector=vector, prompts=prompts,
                            token_norm=median_token_norm(lm, prompts, SITE), seed=0, batch_size=60)
    return lm, ctx


def _angles_ok(basis, target):
    """span(basis) == span(target) (both orthonormal)."""
    s = np.linalg.svd(basis.T @ target, compute_uv=False)
    return basis.shape[1] == target.shape[1] and np.allclose(s, 1, atol=1e-6)


def test_the_planted_subspace_does_not_change_the_logits(planted):
    lm, ctx = planted
    delta = np.zeros(lm.info.hidden_size)
    delta[NULL] = 5.0
    from steerid.experiments.conditions import Condition

    conds = [Condition("none", "none", 0, None, None, np.zeros_like(delta)),
             Condition("n", "perp", 0, None, None, delta)]
    scores = likelihood_scores(ctx, conds, [" yes"] * 60, [" no"] * 60)
    np.testing.assert_allclose(scores[0], scores[1], atol=1e-5)


def test_samplers_recover_the_planted_null_space_and_its_shares(planted):
    lm, ctx = planted
    u = ctx.vector.direction
    bases = build_bases(ctx, ["isotropic", "covariance_null", "fisher_null", "fisher_range"], alpha_rel=1.0,
                        signs=(1,), tolerance=1e-6, variance=1.0, fisher_prompts=12, positions=4, max_new_tokens=4,
                        tail=0.0, max_tokens=10**6)
    planted_perp = complement_within(np.eye(lm.info.hidden_size)[:, NULL], u)
    assert _angles_ok(bases.bases["fisher_null"][1], planted_perp)
    assert _angles_ok(bases.bases["covariance_null"][1], planted_perp)
    rng = bases.bases["fisher_range"][1]
    assert rng.shape[1] == len(NULL) - 1 and np.abs(rng.T @ planted_perp).max() < 1e-6
    for basis in (bases.bases["fisher_null"][1], rng):
        assert np.abs(basis.T @ u).max() < 1e-10  # every draw is ⟂ v

    noise = np.random.default_rng(11)
    positives, negatives = [" yes"] * 60, [" no"] * 60

    def score(conditions):  # the model's L(Δ) plus per-(condition, item) measurement noise
        exact = likelihood_scores(ctx, conditions, positives, negatives)
        return exact + 1e-4 * noise.standard_normal(exact.shape)

    config = OrthogonalConfig(alpha_rel=1.0, rhos=(1.0, 3.0), n_draws=6, signs=(1,), plan=EquivalencePlan(margin_dz=0.5))
    out = run_samplers(config, ctx, bases, score)
    table = {(r["sampler"], r["rho"]): r for r in out["table"]}
    assert set(out["samplers"]) == {"isotropic", "covariance_null", "fisher_null", "fisher_range"}
    for name in ("fisher_null", "covariance_null"):
        for rho in (1.0, 3.0):
            assert table[(name, rho)]["share"] >= 4 / 6  # null draws change nothing: share = the TOST's power
    assert table[("fisher_range", 3.0)]["share"] == 0
    assert table[("fisher_range", 3.0)]["share"] <= table[("isotropic", 3.0)]["share"] <= table[("fisher_null", 3.0)]["share"]
    assert out["bases"]["fisher"]["per_sign"]["+1"]["null_dim"] == len(NULL)


def test_sampler_conditions_and_names(planted):
    lm, ctx = planted
    with pytest.raises(ConfigError):
        check_samplers(["isotropic", "nonsense"])
    basis = complement_within(np.eye(lm.info.hidden_size)[:, NULL], ctx.vector.direction)
    from steerid.experiments.samplers import SamplerBases

    bases = SamplerBases({"fisher_null": {1: basis, -1: basis}})
    conds = sampler_conditions(ctx.vector.direction, 2.0, bases, "fisher_null", rhos=(0.5,), n_draws=3, signs=(1, -1),
                               seed=0)
    perps = [c for c in conds if c.kind == "v_plus_perp"]
    assert len(perps) == 6 and len({c.name for c in conds}) == len(conds)
    for c in perps:
        perp = c.delta - c.sign * 2.0 * ctx.vector.direction
        assert np.linalg.norm(perp) == pytest.approx(0.5 * 2.0)
        assert abs(perp @ ctx.vector.direction) < 1e-9 and np.abs(np.delete(perp, NULL)).max() < 1e-12
