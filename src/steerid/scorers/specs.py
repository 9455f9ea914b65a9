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

DEVELOPMENT_NOTES: dict[str, str] = {
    "sentiment": (
        "Test accuracy was looked at four times during development: 0.849 (embedding + style features), 0.857 "
        "(after adding the VADER lexicon feature group), then 122 further hand-written texts were added (split by "
        "the same stratified rule; the first 440 texts kept their split) and the stance group was added for "
        "agreeableness. No test text was edited or removed."
    ),
    "formality": (
        "Test accuracy was looked at four times while feature groups were added for other traits (0.974 each "
        "time). No test text was edited or removed."
    ),
    "politeness": (
        "Data written by a separate author. Test accuracy was looked at twice: 0.921 before and 0.904 after the "
        "stance feature group became a candidate."
    ),
    "agreeableness": (
        "Data written by a separate author. The first head (candidates without the stance group) scored 0.732 "
        "on the test split, below target; generic agreement/disagreement marker features (the stance group) were "
        "then added and selected by CV on the training split. Test accuracy was looked at twice."
    ),
    "sentiment_vader": "No tuning: VADER is used as published, with the fixed threshold 0.",
    "truthfulness_answer": (
        "147 cases were written first. After their 8 errors were inspected, two rule changes were made (spoken "
        "years such as 'nineteen seventy-two' → 1972; NaN instead of the embedding tie-break by default); 53 "
        "further cases (tag set:post_revision) were then written before the judge was run on them."
    ),
}
"""How each scorer's test split was used during development (copied into its card)."""
