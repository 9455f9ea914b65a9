import json

import numpy as np
import pytest

from steerid.capture import median_token_norm
from steerid.experiments import logit_distance as e4
from steerid.experiments.base import ExperimentContext
from steerid.experiments.logit_distance import divergences
from steerid.engine.generation import generate, teacher_forced
from steerid.models import Site
from steerid.provenance import Provenance
from steerid.vector import SteeringVector

PROMPTS = ["hello there friend", "the quick brown fox", "a b c d e f", "steering is fun", "one two three"]
SITE = Site(1)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ctx(llama_lm):
    v = SteeringVector.from_array(np.random.default_rng(1).standard_normal(llama_lm.info.hidden_size),
                                  Provenance("tiny:llama", "tiny:llama", "", str(SITE), "test"))
    return ExperimentContext(lm=llama_lm, site=SITE, vector=v, prompts=PROMPTS,
                             token_norm=median_token_norm(llama_lm, PROMPTS, SITE), seed=0, batch_size=64)


def _reference_divergence(lm, prompt, cont, ref, other):
    """Independent path: one condition at a time, batch of one, numpy KL and JS."""
    def logprobs(delta):
        chunk = next(teacher_forced(lm, [prompt], [cont], site=SITE, deltas=delta))
        return chunk.logprobs[0, : len(cont)].double().numpy()

    lp, lq = logprobs(ref), logprobs(other)
    p, q = np.exp(lp), np.exp(lq)
    m = 0.5 * (p + q)
    kl = (p * (lp - lq)).sum(-1).mean()
    js = (0.5 * (p * (lp - np.log(m))).sum(-1) + 0.5 * (q * (lq - np.log(m))).sum(-1)).mean()
    return kl, js


def test_batched_divergences_match_one_condition_at_a_time(ctx):
    lm = ctx.lm
    v = ctx.displacement(0.3)
    conts = generate(lm, PROMPTS[:3], site=SITE, deltas=v, max_new_tokens=6).tokens
    rng = np.random.default_rng(0)
    conditions = {"none": np.zeros(48), "same": v.copy(), "other": v + rng.standard_normal(48) * 0.05}
    div = divergences(lm, SITE, PROMPTS[:3], conts, v, conditions, batch_size=5)  # 4 rows/prompt → 1 prompt/batch
    np.testing.assert_allclose(div["same"].kl, 0.0, atol=1e-7)
    for i in range(3):
        for name in ("none", "other"):
            kl, js = _reference_divergence(lm, PROMPTS[i], conts[i], v, conditions[name])
            assert div[name].kl[i] == pytest.approx(kl, rel=1e-3, abs=1e-8)
            assert div[name].js[i] == pytest.approx(js, rel=1e-3, abs=1e-8)
    assert np.all(div["none"].js <= np.log(2)) and np.all(div["none"].kl > 0)


def test_e4_run_reports_conditions_families_and_ratios(ctx):
    cfg = e4.LogitDistanceConfig(alpha_rel=0.5, rhos=(0.25, 2.0), n_draws=3, max_new_tokens=6, n_resamples=200)
    result = e4.run(cfg, ctx)
    out = json.loads(json.dumps(result.to_dict()))
    names = [c["name"] for c in out["conditions"]]
    assert names[:2] == ["none", "neg"] and len(names) == 2 + 2 * 2 * 3
    assert result.n_used == len(PROMPTS) and result.alpha_abs == pytest.approx(0.5 * ctx.token_norm)
    fam = {(s.family, s.rho): s for s in result.families}
    # a small orthogonal perturbation moves the distribution less than a large one, and less than random
    assert fam[("orth", 0.25)].kl_mean < fam[("orth", 2.0)].kl_mean
    assert fam[("orth", 0.25)].kl_mean < fam[("random", 0.25)].kl_mean
    for s in result.conditions:
        assert s.kl_ci[0] <= s.kl_mean <= s.kl_ci[1]
    ratios = {(r["rho"], r["denominator"]): r["interval"] for r in out["ratios"]}
    assert set(ratios) == {(0.25, "none"), (0.25, "random"), (2.0, "none"), (2.0, "random")}
    per = result.per_prompt["orth[0.25,0]"]["kl"]
    assert ratios[(0.25, "none")]["estimate"] == pytest.approx(
        np.mean([np.mean([result.per_prompt[f"orth[0.25,{k}]"]["kl"][i] for k in range(3)]) for i in range(len(per))])
        / np.mean(result.per_prompt["none"]["kl"]))
    again = e4.run(cfg, ctx)
    assert again.to_dict() == result.to_dict()  # deterministic under the seed
