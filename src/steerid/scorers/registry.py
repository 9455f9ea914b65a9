"""Look up scorers by name and by trait.

Names: ``"sentiment"`` (embedding head), ``"sentiment_vader"`` (VADER compound),
``"formality"``, ``"politeness"``, ``"agreeableness"`` (embedding heads; agreeableness also
accepts ``opinion=``, the opinion each reply answers) and ``"truthfulness_answer"`` (answer
judge; needs ``correct=``/``incorrect=``). Heads are read from
the packaged ``heads/`` directory; a missing head raises :class:`~steerid.errors.ScorerError`
telling the user to run ``steerid scorers train``. Hugging Face classifiers are not registered
by name (they need an explicit label map): build them with
:class:`~steerid.scorers.hf_pipeline.HFPipelineScorer`.

Example:
    >>> from steerid.scorers.registry import get_scorer, scorers_for_trait
    >>> scorers_for_trait("sentiment")
    ['sentiment', 'sentiment_vader']
    >>> get_scorer("sentiment_vader").higher_means
    'more positive sentiment'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from steerid.errors import ScorerError
from steerid.scorers.base import Scorer
from steerid.scorers.specs import SPECS, TRAIT_SCORERS


def list_scorers() -> list[str]:
    """All registered scorer names."""
    return list(SPECS)


def get_scorer(name: str, *, heads_dir: Path | None = None, **kwargs: Any) -> Scorer:
    """Build a registered scorer.

    Args:
        name: A name from :func:`list_scorers`.
        heads_dir: Where embedding heads are read from; the packaged ``heads/`` by default.
        **kwargs: Passed to the scorer's constructor (e.g. ``tie_break="nan"`` for the answer
            judge, ``backend=`` for embedding scorers).

    Returns:
        The scorer.

    Raises:
        ScorerError: Unknown name (the message lists the known ones) or untrained head.
    """
    if not isinstance(name, str) or name not in SPECS:
        raise ScorerError(f"unknown scorer {name!r}; known scorers: {', '.join(SPECS)}", "use one of the known names")
    kind = SPECS[name].kind
    if kind == "embedding_head":
        from steerid.scorers.head import EmbeddingHeadScorer

        return EmbeddingHeadScorer.load(name, heads_dir, **kwargs)
    if kind == "lexicon":
        from steerid.scorers.vader import VaderSentimentScorer

        return VaderSentimentScorer(**kwargs)
    from steerid.scorers.truth import TruthAnswerJudge

    return TruthAnswerJudge(**kwargs)


def scorers_for_trait(trait: str) -> list[str]:
    """Scorer names that measure ``trait``, primary first.

    Raises:
        ScorerError: If no scorer measures ``trait`` (the message lists the known traits).
    """
    if trait not in TRAIT_SCORERS:
        raise ScorerError(f"no scorer for trait {trait!r}; known traits: {', '.join(TRAIT_SCORERS)}", "use a known trait")
    return list(TRAIT_SCORERS[trait])
