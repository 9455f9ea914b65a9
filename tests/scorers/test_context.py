"""Agreeableness is scored relative to the opinion a reply answers (and alone without one)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from steerid.errors import ScorerError
from steerid.scorers import get_scorer
from steerid.scorers.context import CONTEXT_FEATURES, context_features

# (reply, opinion it agrees with, opposite opinion); none of these is in the data files.
FLIPS = [
    ("They save us hours of travel and we sort everything out in twenty minutes.",
     "Remote meetings are a great use of time.", "Remote meetings are a waste of time."),
    ("Honestly, it's dull, slow and I nodded off halfway through.",
     "That film is boring.", "That film is thrilling."),
    ("It has made my mornings calmer and I sleep much better now.",
     "Giving up caffeine is good for you.", "Giving up caffeine is bad for you."),
]


@pytest.fixture(scope="module")
def agree():
    return get_scorer("agreeableness")


def test_agreeableness_accepts_an_opinion_and_others_do_not(agree):
    assert agree.accepts == ("opinion",) and agree.context["field"] == "opinion"
    assert agree.context["features"] == list(CONTEXT_FEATURES)
    formality = get_scorer("formality")
    assert formality.accepts == ()
    with pytest.raises(ScorerError, match="unexpected"):
        formality.score(["Hello."], opinion=["x"])


@pytest.mark.parametrize(("reply", "agrees_with", "opposite"), FLIPS)
def test_the_same_reply_flips_with_the_opinion(agree, reply, agrees_with, opposite):
    s = agree.score([reply, reply], opinion=[agrees_with, opposite])
    assert s[0] > s[1], s


def test_explicit_stance_holds_under_any_opinion(agree):
    opinions = ["Tea is better than coffee.", "Summer is the best season."]
    for opinion in opinions:
        s = agree.score(["You're absolutely right, I completely agree.", "No, I completely disagree with that."],
                        opinion=[opinion, opinion])
        assert s[0] > 0.5 > s[1], (opinion, s)


def test_missing_opinions_mean_text_alone(agree):
    texts = ["Good point, that makes sense.", "That makes no sense at all.", ""]
    alone = agree.score(texts)
    np.testing.assert_allclose(agree.score(texts, opinion=[None, "", "Tea is best."]), alone, atol=1e-12)
    assert alone[2] == 0.5
    with_op = agree.score(texts[:2], opinion=["Cats are great.", "Cats are great."])
    assert not np.allclose(with_op, alone[:2])
    with pytest.raises(ScorerError, match="not str"):
        agree.score(["Yes."], opinion=[3])
    with pytest.raises(ScorerError, match="entries"):
        agree.score(["Yes.", "No."], opinion=["only one"])


def test_context_features_by_hand():
    # a toy 2-d "encoder": the features follow their definitions
    vec = {"r": [1.0, 0.0], "o": [0.6, 0.8], "It is not true that o": [0.0, 1.0],
           "I agree. o": [0.8, 0.6], "I disagree. o": [-0.8, 0.6]}
    encode = lambda items: np.array([vec[i] for i in items])  # noqa: E731
    x = context_features(["r", "r"], ["o", None], list(CONTEXT_FEATURES), encode, {"coef": [6.0, 0.0], "intercept": 0.0})
    assert x[1].tolist() == [0.0] * len(CONTEXT_FEATURES)
    has, sprod, sim, neg, stance = x[0]
    assert has == 1.0 and sim == pytest.approx(0.6) and neg == pytest.approx(0.6) and stance == pytest.approx(1.6)
    assert sprod == pytest.approx((3.6 / 6) * (6.0 / 6))


def test_audit_measure_passes_each_prompts_opinion(agree):
    from steerid.experiments.measures import measures_for_trait

    reply, pro, con = FLIPS[0]
    measures = measures_for_trait("agreeableness", opinions=[pro, con])
    primary = next(iter(measures))
    assert primary == "agreeableness"
    got = measures[primary]([reply, reply, reply], np.array([0, 1, 0]))
    np.testing.assert_allclose(got, agree.score([reply] * 3, opinion=[pro, con, pro]), atol=1e-9)
    assert got[0] > got[1]
    alone = measures_for_trait("agreeableness")[primary]([reply], np.array([0]))
    np.testing.assert_allclose(alone, agree.score([reply]), atol=1e-9)


def test_a_head_without_opinion_context_is_refused_not_silently_used(monkeypatch):
    from steerid.experiments import measures as measures_module

    formality = get_scorer("formality")  # a head that cannot read an opinion
    monkeypatch.setattr(measures_module, "get_scorer", lambda name: formality)
    with pytest.raises(ScorerError, match="cannot read the prompts' opinions"):
        measures_module.measures_for_trait("agreeableness", opinions=["Tea is best.", "Tea is worst."])


def test_the_audit_scores_every_agreeableness_reply_against_its_prompts_opinion(agree):
    """The audit's worker route: each eval prompt carries the user's opinion, and the primary
    measure it builds scores a reply with that prompt's opinion (fails if the context is dropped)."""
    from steerid.audit.worker import Worker
    from steerid.traits.loader import load_trait

    items = load_trait("agreeableness").eval_prompts()
    assert items and all(item.opinion and item.opinion.strip() for item in items)
    worker = Worker.__new__(Worker)  # no model: only the measure cache and the built-in-scorer route
    worker._measures, worker._scorers = {}, {}
    worker.config = SimpleNamespace(custom_traits=(), scorer=None)
    pair = [items[0], next(i for i in items if i.opinion != items[0].opinion)]
    primary = next(iter(worker.measures("agreeableness", pair).values()))
    reply = "You're right about that, it's exactly how I see it too."
    got = primary([reply, reply], np.array([1, 0]))
    np.testing.assert_allclose(got, agree.score([reply, reply], opinion=[pair[1].opinion, pair[0].opinion]), atol=1e-12)
    assert not np.allclose(got, agree.score([reply, reply]))  # the opinion changed the score
