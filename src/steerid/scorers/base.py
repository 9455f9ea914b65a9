"""The common shape of a trait scorer, and where scorer files live.

A scorer maps continuation texts (never the prompt) to one float64 number each. Every scorer
has:

- ``name``: registry key, e.g. ``"formality"`` or ``"sentiment_vader"``;
- ``trait``: the trait it measures, e.g. ``"sentiment"``;
- ``higher_means``: what a larger score means, e.g. ``"more formal"``;
- ``output_range``: the closed interval the scores lie in;
- ``empty_value``: the score given to an empty or whitespace-only text. A steered model can
  emit nothing (e.g. EOS first); such a text carries no evidence, so probability scorers give
  the uninformative ``0.5``, VADER gives its own neutral ``0.0``, and the answer judge gives
  ``NaN`` (no answer);
- ``requires``: names of extra per-text keyword arguments that :meth:`Scorer.score` needs
  (empty for ordinary scorers; ``("correct", "incorrect")`` for the answer judge);
- ``accepts``: names of optional per-text keyword arguments (``("opinion",)`` for the
  agreeableness head, which scores a reply relative to the opinion it answers; without it the
  reply is scored alone);
- ``score(texts)``: batched scoring, one float64 per text, same order;
- ``card()``: the validation card (held-out metrics) as a dict, or ``None`` when the scorer has
  never been validated.

Subclasses implement :meth:`Scorer._score_nonempty`; :meth:`Scorer.score` checks the input and
fills in ``empty_value`` for blank texts.

Example:
    >>> from steerid.scorers import get_scorer
    >>> scorer = get_scorer("sentiment_vader")
    >>> scorer.score(["What a lovely day!", "This is awful."]).round(2).tolist()
    [0.62, -0.46]
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from steerid.errors import ScorerError
from steerid.validation import check_texts as _check_texts

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
HEADS_DIR = PACKAGE_DIR / "heads"
CARDS_DIR = PACKAGE_DIR / "cards"
VALIDATION_DIR = PACKAGE_DIR / "validation"


def check_texts(texts: Sequence[str]) -> list[str]:
    """:func:`steerid.validation.check_texts` for scorer input: empty batches and blank texts are
    allowed (blank texts get ``empty_value``); a bare string or a non-string element raises
    :class:`ScorerError`."""
    return _check_texts(texts, "score() input", allow_empty=True, allow_blank=True, error=ScorerError)


def load_card(name: str, cards_dir: Path | None = None) -> dict[str, Any] | None:
    """Read a scorer's validation card.

    Args:
        name: Scorer name (the card file stem).
        cards_dir: Directory holding ``<name>.json``; the packaged ``cards/`` by default.

    Returns:
        The card as a dict, or ``None`` when no card exists.

    Raises:
        ScorerError: If the card exists but is not valid JSON.
    """
    path = (cards_dir or CARDS_DIR) / f"{name}.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScorerError(f"scorer card {path} is corrupt ({exc})", "run `steerid scorers train` to rewrite it") from exc


class Scorer(ABC):
    """Base class of all trait scorers (see the module docstring for the contract)."""

    name: str
    trait: str
    higher_means: str
    output_range: tuple[float, float] = (0.0, 1.0)
    empty_value: float = 0.5
    requires: ClassVar[tuple[str, ...]] = ()
    accepts: tuple[str, ...] = ()
    cards_dir: Path | None = None

    def score(self, texts: Sequence[str], **context: Sequence[Any]) -> np.ndarray:
        """Score a batch of continuation texts.

        Args:
            texts: Continuations only (never prompt + continuation).
            **context: Per-text side information named in ``requires`` (e.g. ``correct=`` and
                ``incorrect=`` for the answer judge) or ``accepts`` (e.g. ``opinion=`` for the
                agreeableness head), each a sequence as long as ``texts``.

        Returns:
            float64 array of shape ``(len(texts),)``; blank texts get ``empty_value``.

        Raises:
            ScorerError: On a non-sequence or non-string input, or missing, unexpected or
                wrongly sized context.
        """
        items = check_texts(texts)
        columns = self._check_context(context, len(items))
        out = np.full(len(items), self.empty_value, dtype=np.float64)
        keep = [i for i, text in enumerate(items) if text.strip()]
        if keep:
            subset = {key: [column[i] for i in keep] for key, column in columns.items()}
            values = np.asarray(self._score_nonempty([items[i] for i in keep], **subset), dtype=np.float64)
            if values.shape != (len(keep),):
                raise ScorerError(
                    f"scorer {self.name!r} returned shape {values.shape} for {len(keep)} texts",
                    "this is a bug in the scorer; report it",
                )
            out[keep] = values
        return out

    def _check_context(self, context: dict[str, Sequence[Any]], n: int) -> dict[str, list[Any]]:
        missing = [key for key in self.requires if key not in context]
        extra = [key for key in context if key not in self.requires and key not in self.accepts]
        if missing or extra:
            needs = ", ".join(f"{k}=[...]" for k in self.requires) or "only the texts"
            if self.accepts:
                needs += " (optionally " + ", ".join(f"{k}=[...]" for k in self.accepts) + ")"
            raise ScorerError(
                f"scorer {self.name!r} got unexpected {extra} / missing {missing} arguments", f"call score(texts, {needs})"
            )
        columns: dict[str, list[Any]] = {}
        for key, value in context.items():
            if isinstance(value, (str, bytes)):
                raise ScorerError(f"{key}= must be a sequence with one entry per text, got a string", f"pass {key}=[...]")
            column = list(value)
            if len(column) != n:
                raise ScorerError(f"{key}= has {len(column)} entries for {n} texts", "give one entry per text")
            columns[key] = column
        return columns

    @abstractmethod
    def _score_nonempty(self, texts: list[str], **context: list[Any]) -> np.ndarray:
        """Score texts that are known to be non-blank (context already subset to match)."""

    def card(self) -> dict[str, Any] | None:
        """Return the validation card (held-out metrics), or ``None`` if never validated."""
        return load_card(self.name, self.cards_dir)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, trait={self.trait!r}, higher_means={self.higher_means!r})"
