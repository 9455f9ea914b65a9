import json

import numpy as np
import pytest

from steerid.capture import median_token_norm
from steerid.errors import DataError
from steerid.experiments import spanning as e7
from steerid.experiments.base import ExperimentContext
from steerid.experiments.fisher import FisherSpectrum, null_space_dimension
from steerid.experiments.spanning import fisher_subspaces
from steerid.models import Site, load_model
from steerid.provenance import Provenance
from steerid.vector import SteeringVector

PROMPTS = ["hello there friend", "the quick brown fox", "a b c d e f", "steering is fun", "one two three",
           "what is this", "good morning", "seven eight nine"]
SITE = Site(1)


pytestmark = pytest.mark.usefixtures("one_thread")


def _ctx(lm, **extra):
    v = SteeringVector.from_array(np.random.default_rng(1).standard_normal(lm.info.hidden_size),
                                  Provenance(lm.info.spec, lm.info.name, "", str(SITE), "test"))
    return ExperimentContext(lm=lm, site=SITE, vector=v, prompts=PROMPTS,
                             token_norm=median_token_norm(lm, PROMPTS, SITE), seed=0, batch_size=64, extra=extra)


def _spectrum(eigs, d, vecs):
    return FisherSpectrum("fisher", "dense" if len(eigs) == d else "lanczos", np.asarray(eigs, float), d, len(eigs),
                          1, 1, 1, null_space_dimension(eigs, d=d), 0, 0.0, "", vecs)


def test_subspaces_split_the_space_and_say_what_is_certified():
    d = 6
    q = np.linalg.qr(np.random.default_rng(0).standard_normal((d, d)))[0]
    full = fisher_subspaces(_spectrum([9, 4, 1, 1e-4, 1e-5, 0], d, q), 1e-3)
    assert full.range_basis.shape == (d, 3) and full.null_basis.shape == (d, 3) and full.certified
    np.testing.assert_allclose(np.hstack([full.range_basis, full.null_basis]).T @ np.hstack(
        [full.range_basis, full.null_basis]), np.eye(d), atol=1e-10)
    np.testing.assert_allclose(full.null_basis @ full.null_basis.T, q[:, 3:] @ q[:, 3:].T, atol=1e-10)  # same span
    top = fisher_subspaces(_spectrum([9, 4, 1e-4], d, q[:, :3]), 1e-3)
    assert top.certified and top.null_basis.shape == (d, 4)
    loose = fisher_subspaces(_spectrum([9, 4, 1], d, q[:, :3]), 1e-3)
    assert not loose.certified and loose.null_max_eigenvalue == 1 and "not certified" in loose.note
    with pytest.raises(DataError, match="null space is empty"):
        fisher_subspaces(_spectrum([9, 4, 1], 3, q[:3, :3]), 1e-3)
    assert fisher_subspaces(_spectrum([9, 4, 1, 1e-4, 1e-5, 0], d, q), 1e-3, range_dim=1).range_basis.shape == (d, 1)


def test_positive_control_top_fisher_direction_changes_behaviour_far_more():
    """Perturbations along the top Fisher eigenvector vs from the low-Fisher subspace (equal norm).

    If the eigenvectors were mis-ordered, mis-signed in their role, or F were not the metric of
    the next-token distribution, the ratio would be near or below 1 and this test would fail.
    """
    lm = load_model("tiny:gpt2")
    cfg = e7.SpanningConfig(alpha_rel=0.1, rho=1.0, n_draws=4, tolerance=0.1, range_dim=1, max_new_tokens=8,
                    fisher_positions=3, n_resamples=300)
    result = e7.run(cfg, _ctx(lm))
    out = json.loads(json.dumps(result.to_dict()))
    assert out["subspaces"]["certified"] and out["subspaces"]["range_dim"] == 1
    draws = result.draws
    assert all(d["fisher_rel"] < 0.1 for d in draws if d["family"] == "null")
    assert all(d["fisher_rel"] == pytest.approx(1.0, rel=1e-6) for d in draws if d["family"] == "range")
    kl = result.kl
    assert kl["ratio_range_over_null"]["estimate"] > 5
    assert kl["ratio_range_over_null"]["low"] > 2
    assert kl["wilcoxon_p"] < 0.05 and kl["null_less_than_range"]
    assert result.score is None


def test_score_fn_measure_runs_tost_and_counts_passing_draws(llama_lm):
    calls = []

    def score_fn(texts, prompt_indices):
        assert len(prompt_indices) == len(texts) and set(prompt_indices) <= set(range(len(PROMPTS)))
        calls.append(len(texts))
        return np.array([sum(t.encode()) / (1 + len(t)) for t in texts], dtype=float)

    cfg = e7.SpanningConfig(alpha_rel=0.5, rho=2.0, n_draws=3, tolerance=0.3, max_new_tokens=6, fisher_positions=2,
                    n_resamples=200, margin_raw=5.0)
    result = e7.run(cfg, _ctx(llama_lm, score_fn=score_fn))
    score = json.loads(json.dumps(result.to_dict()))["score"]
    assert calls == [len(PROMPTS), len(PROMPTS) * 2 * 3]
    assert {"tost_null", "tost_range", "null_draws_passing_tost", "wilcoxon_p", "ratio_range_over_null"} <= set(score)
    assert score["null_draws_passing_tost"]["n"] == 3
    assert score["tost_null"]["low"] == -5.0 and score["tost_null"]["high"] == 5.0


def test_empty_null_space_is_a_user_error(llama_lm):
    with pytest.raises(DataError, match="raise the tolerance"):
        e7.run(e7.SpanningConfig(n_draws=2, tolerance=1e-6, max_new_tokens=4, fisher_positions=2), _ctx(llama_lm))
