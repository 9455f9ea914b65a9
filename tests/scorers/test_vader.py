"""VADER sentiment scorer."""

from __future__ import annotations

import numpy as np

from steerid.scorers.vader import VaderSentimentScorer


def test_order_range_and_blank():
    scorer = VaderSentimentScorer()
    s = scorer.score(["What a wonderful, happy day!", "This is awful and I hate it.", "", "The box is on the table."])
    assert s.dtype == np.float64
    assert s[0] > s[3] > s[1]
    assert s[2] == 0.0 and s[3] == 0.0
    assert np.all((s >= -1) & (s <= 1))


def test_negation_is_handled_by_vader_rules():
    scorer = VaderSentimentScorer()
    good, not_good = scorer.score(["The film was good.", "The film was not good."])
    assert good > 0 > not_good


def test_card_is_on_the_sentiment_test_split():
    card = VaderSentimentScorer().card()
    assert card is not None
    assert card["data"]["file"] == "data/sentiment.jsonl"
    assert card["metrics"]["brier"] is None and card["metrics"]["threshold"] == 0.0
