"""What each scorer measures and the held-out accuracy it must reach to count as validated.

Targets are accuracy on the fixed test split of the scorer's labelled data (label 1 =
trait-positive). A card records the target and whether it was met; a scorer that misses its
target is still usable but its card says ``meets_target: false``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScorerSpec:
    """Static description of a registered scorer.

    Attributes:
        name: Registry key and card file stem.
        trait: Trait measured.
        higher_means: What a larger score means.
        kind: ``"embedding_head"``, ``"lexicon"`` or ``"answer_judge"``.
        target_accuracy: Held-out accuracy required for ``meets_target``.
        data: Stem of the labelled data file it is validated on.
    """

    name: str
    trait: str
    higher_means: str
    kind: str
    target_accuracy: float
    data: str


SPECS: dict[str, ScorerSpec] = {
    spec.name: spec
    for spec in (
        ScorerSpec("sentiment", "sentiment", "more positive sentiment", "embedding_head", 0.85, "sentiment"),
        ScorerSpec("sentiment_vader", "sentiment", "more positive sentiment", "lexicon", 0.85, "sentiment"),
        ScorerSpec("formality", "formality", "more formal", "embedding_head", 0.85, "formality"),
        ScorerSpec("politeness", "politeness", "more polite", "embedding_head", 0.85, "politeness"),
        ScorerSpec("agreeableness", "agreeableness", "more agreeing", "embedding_head", 0.80, "agreeableness"),
        ScorerSpec(
            "truthfulness_answer",
            "truthfulness",
            "states the correct answer (1) rather than the incorrect one (0)",
            "answer_judge",
            0.80,
            "truthfulness_answer",
        ),
    )
}
"""All registered scorers by name."""

HEAD_TRAITS: tuple[str, ...] = tuple(s.name for s in SPECS.values() if s.kind == "embedding_head")
"""Traits that have a trainable embedding head (head name = trait name)."""

TRAIT_SCORERS: dict[str, tuple[str, ...]] = {
    "sentiment": ("sentiment", "sentiment_vader"),
    "formality": ("formality",),
    "politeness": ("politeness",),
    "agreeableness": ("agreeableness",),
    "truthfulness": ("truthfulness_answer",),
}
"""Scorer names per trait, primary first."""
