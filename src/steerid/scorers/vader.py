"""VADER sentiment: the lexicon-and-rules compound score (Hutto & Gilbert, 2014).

``score(t)`` is VADER's ``compound`` value in [−1, 1]: the sum of valence scores of the words
in ``t`` (with VADER's rules for negation, intensifiers, "but", capitals and exclamation marks),
normalised by ``x / sqrt(x² + 15)``. Positive means positive sentiment. Empty text scores 0.0,
VADER's own neutral value.

Transparent and model-free, it complements the ``sentiment`` embedding head: the two fail in
different places (VADER misses sarcasm and topic-level sentiment; the head can miss lexical
negation), so experiments report both. Its card thresholds the compound at 0 (``> 0`` →
positive) and evaluates on the same sentiment test split as the head; Brier score and ECE are
not reported because the compound is not a probability.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from steerid.scorers.base import Scorer


class VaderSentimentScorer(Scorer):
    """VADER compound sentiment score in [−1, 1].

    Args:
        cards_dir: Where :meth:`card` looks for the card; the packaged ``cards/`` by default.

    Example:
        >>> scorer = VaderSentimentScorer()
        >>> bool(scorer.score(["I love it."])[0] > 0 > scorer.score(["I hate it."])[0])
        True
    """

    name = "sentiment_vader"
    trait = "sentiment"
    higher_means = "more positive sentiment"
    output_range = (-1.0, 1.0)
    empty_value = 0.0
    threshold = 0.0

    def __init__(self, cards_dir: Path | None = None) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()
        self.cards_dir = cards_dir

    def _score_nonempty(self, texts: list[str]) -> np.ndarray:
        return np.array([self._analyzer.polarity_scores(text)["compound"] for text in texts], dtype=np.float64)
