"""Trait scorers: validated, offline measurements of a continuation's behaviour.

Every scorer maps continuation texts to float64 scores (see :mod:`steerid.scorers.base`) and
carries a card with its accuracy, AUC and calibration on two held-out sets — the project's test
split and an independent validation set written separately (``cards/<name>.json``), plus its
scoring speed. Start with
:func:`get_scorer` and :func:`scorers_for_trait`; retrain heads with
:func:`steerid.scorers.train.train_head`.

Heavy dependencies (sentence-transformers, torch, vaderSentiment) load only when a scorer that
needs them is built.
"""

from steerid.scorers.base import Scorer, load_card
from steerid.scorers.registry import get_scorer, list_scorers, scorers_for_trait

__all__ = ["Scorer", "get_scorer", "list_scorers", "load_card", "scorers_for_trait"]
