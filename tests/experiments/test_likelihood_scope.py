"""The likelihood route's steering scope: ``all`` (default) or ``generated``, from the audit config down."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from steerid.audit.config import LikelihoodSettings
from steerid.engine.generation import continuation_logprobs
from steerid.experiments.base import ExperimentContext
from steerid.experiments.conditions import e1_conditions
from steerid.experiments.likelihood import likelihood_scores
from steerid.experiments.orthogonal import OrthogonalConfig
from steerid.models import Site

PROMPTS = ["Say something about rain.", "Describe your morning.", "What is a cat?"]
POS, NEG = [" lovely", " great fun", " a friend"], [" awful", " a chore", " a pest"]


@pytest.mark.parametrize("scope", ["all", "generated"])
def test_scores_use_the_scope(llama_lm, scope):
    lm = llama_lm
    rng = np.random.default_rng(0)
    direction = rng.standard_normal(lm.info.hidden_size)
    conditions = e1_conditions(direction / np.linalg.norm(direction), 3.0, rhos=[1.0], n_draws=2, seed=0)
    ctx = ExperimentContext(lm=lm, site=Site(1), vector=None, prompts=PROMPTS, token_norm=1.0, batch_size=7)
    scores = likelihood_scores(ctx, conditions, POS, NEG, scope=scope)
    rows = [p for p in PROMPTS for _ in conditions]
    deltas = np.stack([c.delta for _ in PROMPTS for c in conditions])
    both = continuation_logprobs(lm, rows, [(POS[i], NEG[i]) for i in range(3) for _ in conditions], site=Site(1),
                                 deltas=deltas, scope=scope, reduce="mean", batch_size=7)
    np.testing.assert_allclose(scores, (both[:, 0] - both[:, 1]).reshape(3, -1).T, atol=1e-6)
    other = likelihood_scores(ctx, conditions, POS, NEG, scope="generated" if scope == "all" else "all")
    assert np.abs(other[1:] - scores[1:]).max() > 1e-4  # the scopes measure different things (none row aside)
    np.testing.assert_allclose(other[0], scores[0], atol=1e-6)  # the unsteered row is the same under both


def test_scope_setting_defaults_to_all_and_is_validated():
    assert LikelihoodSettings().scope == "all" and OrthogonalConfig().likelihood_scope == "all"
    assert LikelihoodSettings(scope="generated").scope == "generated"
    with pytest.raises(ValidationError):
        LikelihoodSettings(scope="prompt")
