"""Behaviour measures for a trait: the scorers applied to continuations, as E1 score functions.

The first measure is the target-trait (primary) scorer; the others are secondary measures — a
second scorer of the same trait where one exists, and an off-target scorer (sentiment for the
other traits, formality for sentiment) so that a v⊥ which keeps the target score but changes
another aspect is seen. E1 adds the continuation log-likelihood itself.

Truthfulness is judged per prompt against that prompt's known correct / incorrect answer:
1 correct, 0 incorrect; an undecidable continuation counts as 0.5 (neither), so that every
prompt contributes to the paired tests.

Agreeableness is scored relative to the opinion the user states in each prompt (the eval item's
``opinion``): a scorer that accepts an ``opinion`` context gets each continuation's opinion by
prompt index; without opinions it scores the continuation alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from steerid.errors import ScorerError
from steerid.experiments.conditions import ScoreFn
from steerid.scorers.registry import get_scorer, scorers_for_trait

OFF_TARGET = {"sentiment": "formality"}
DEFAULT_OFF_TARGET = "sentiment_vader"

log = logging.getLogger(__name__)


def _text_measure(name: str, opinions: Sequence[str | None] | None = None) -> ScoreFn:
    scorer = get_scorer(name)
    if opinions is not None and "opinion" not in getattr(scorer, "accepts", ()):
        # never drop the opinion silently: a reply's stance is only defined relative to it
        raise ScorerError(f"scorer {name!r} cannot read the prompts' opinions (its head has no opinion context)",
                          f"retrain it: `steerid scorers train --trait {name}`")

    def score(texts: list[str], prompt_index: np.ndarray) -> np.ndarray:
        if opinions is not None:
            return np.asarray(scorer.score(texts, opinion=[opinions[i] for i in prompt_index]), dtype=np.float64)
        return np.asarray(scorer.score(texts), dtype=np.float64)

    return score


def _scorer_measure(scorer) -> ScoreFn:
    """A scorer object (a custom trait's, from :func:`steerid.traits.scorer_for_trait`) as a ScoreFn."""

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
                       incorrect: Sequence[str] | None = None,
                       opinions: Sequence[str | None] | None = None, primary=None) -> dict[str, ScoreFn]:
    """Primary first, then secondary measures, keyed by scorer name.

    ``primary`` (a scorer object with ``name`` and ``score(texts)``) replaces the trait's
    registered scorers — a custom trait's auto-trained head or a user's ``hf:`` classifier —
    and is followed by the off-target measure only.

    ``opinions`` (one per prompt, agreeableness) are passed to the agreeableness scorer, which
    must read them (:class:`~steerid.errors.ScorerError` otherwise); without them, or for a
    prompt without one, a warning is logged and the reply is scored alone.
    """
    if primary is not None:
        off = OFF_TARGET.get(trait, DEFAULT_OFF_TARGET)
        return {primary.name: _scorer_measure(primary), **({} if off == primary.name else {off: _text_measure(off)})}
    names = scorers_for_trait(trait)
    if trait == "agreeableness":
        n_missing = len(opinions) - sum(1 for o in opinions if o and o.strip()) if opinions is not None else None
        if n_missing is None or n_missing:
            log.warning("agreeableness replies are scored without the user's opinion for %s prompt(s): their "
                        "stance is then judged from the reply alone", "all" if n_missing is None else n_missing)
    out: dict[str, ScoreFn] = {}
    for name in names:
        if name == "truthfulness_answer":
            if correct is None or incorrect is None:
                continue
            out[name] = _truth_measure(correct, incorrect)
        else:
            out[name] = _text_measure(name, opinions if trait == "agreeableness" else None)
    off = OFF_TARGET.get(trait, DEFAULT_OFF_TARGET)
    if off not in out:
        out[off] = _text_measure(off)
    return out


def scorer_cards(names: Sequence[str]) -> dict[str, dict | None]:
    """Validation cards (held-out accuracy, target, meets_target) of the named scorers."""
    return {name: get_scorer(name).card() for name in names if name != "loglik"}
