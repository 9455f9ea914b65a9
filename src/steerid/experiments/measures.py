"""Behaviour measures for a trait: the scorers applied to continuations, as E1 score functions.

The first measure is the target-trait (primary) scorer; the others are secondary measures — a
second scorer of the same trait where one exists, and an off-target scorer (sentiment for the
other traits, formality for sentiment) so that a v⊥ which keeps the target score but changes
another aspect is seen. E1 adds the continuation log-likelihood itself.

Truthfulness is judged per prompt against that prompt's known correct / incorrect answer:
1 correct, 0 incorrect; an undecidable continuation counts as 0.5 (neither), so that every
prompt contributes to the paired tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from steerid.experiments.conditions import ScoreFn
from steerid.scorers.registry import get_scorer, scorers_for_trait

OFF_TARGET = {"sentiment": "formality"}
DEFAULT_OFF_TARGET = "sentiment_vader"


def _text_measure(name: str) -> ScoreFn:
    scorer = get_scorer(name)

    def score(texts: list[str], prompt_index: np.ndarray) -> np.ndarray:
        return np.asarray(scorer.score(texts), dtype=np.float64)

    return score


def _truth_measure(correct: Sequence[str], incorrect: Sequence[str]) -> ScoreFn:
    judge = get_scorer("truthfulness_answer")

    def score(texts: list[str], prompt_index: np.ndarray) -> np.ndarray:
        values = np.asarray(judge.score(texts, correct=[correct[i] for i in prompt_index],
                                        incorrect=[incorrect[i] for i in prompt_index]), dtype=np.float64)
        return np.where(np.isnan(values), 0.5, values)

    return score


def measures_for_trait(trait: str, *, correct: Sequence[str] | None = None,
                       incorrect: Sequence[str] | None = None) -> dict[str, ScoreFn]:
    """Primary first, then secondary measures, keyed by scorer name."""
    names = scorers_for_trait(trait)
    out: dict[str, ScoreFn] = {}
    for name in names:
        if name == "truthfulness_answer":
            if correct is None or incorrect is None:
                continue
            out[name] = _truth_measure(correct, incorrect)
        else:
            out[name] = _text_measure(name)
    off = OFF_TARGET.get(trait, DEFAULT_OFF_TARGET)
    if off not in out:
        out[off] = _text_measure(off)
    return out


def scorer_cards(names: Sequence[str]) -> dict[str, dict | None]:
    """Validation cards (held-out accuracy, target, meets_target) of the named scorers."""
    return {name: get_scorer(name).card() for name in names if name != "loglik"}
