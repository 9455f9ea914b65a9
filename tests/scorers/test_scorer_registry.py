"""Registry: names, traits and user errors."""

from __future__ import annotations

import pytest

from steerid.errors import ScorerError
from steerid.scorers import get_scorer, list_scorers, scorers_for_trait
from steerid.scorers.head import EmbeddingHeadScorer
from steerid.scorers.truth import TruthAnswerJudge
from steerid.scorers.vader import VaderSentimentScorer

from _scorer_helpers import shipped_heads


def test_known_names():
    assert list_scorers() == [
        "sentiment",
        "sentiment_vader",
        "formality",
        "politeness",
        "agreeableness",
        "truthfulness_answer",
    ]


def test_scorers_for_trait_primary_first():
    assert scorers_for_trait("sentiment") == ["sentiment", "sentiment_vader"]
    assert scorers_for_trait("formality") == ["formality"]
    assert scorers_for_trait("truthfulness") == ["truthfulness_answer"]
    for trait in ("sentiment", "formality", "politeness", "agreeableness", "truthfulness"):
        for name in scorers_for_trait(trait):
            assert name in list_scorers()


def test_unknown_name_lists_known_ones():
    with pytest.raises(ScorerError, match="known scorers: sentiment, sentiment_vader, formality"):
        get_scorer("sentimentt")


def test_unknown_trait_lists_known_ones():
    with pytest.raises(ScorerError, match="known traits: sentiment"):
        scorers_for_trait("humour")


def test_missing_head_tells_user_to_train(tmp_path):
    with pytest.raises(ScorerError, match="run `steerid scorers train`"):
        get_scorer("politeness", heads_dir=tmp_path)


def test_builds_each_kind(backend):
    assert isinstance(get_scorer("sentiment_vader"), VaderSentimentScorer)
    judge = get_scorer("truthfulness_answer")
    assert isinstance(judge, TruthAnswerJudge) and judge.requires == ("correct", "incorrect")
    for trait in shipped_heads():
        scorer = get_scorer(trait, backend=backend)
        assert isinstance(scorer, EmbeddingHeadScorer)
        assert scorer.name == trait and scorer.trait == trait and scorer.higher_means.startswith("more")
        assert scorer.card() is not None


def test_every_scorer_documents_its_direction():
    for name in list_scorers():
        if name in ("sentiment", "formality", "politeness", "agreeableness") and name not in shipped_heads():
            continue
        scorer = get_scorer(name)
        assert scorer.higher_means and scorer.trait and scorer.name == name
        low, high = scorer.output_range
        assert low < high
