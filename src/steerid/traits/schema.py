"""Data model of a trait: its description, contrastive pairs, evaluation and likelihood items.

A trait lives in one directory with up to four files (``schema_version: 1``); built-in traits
have all four, a user directory needs only ``trait.yaml`` and ``pairs.jsonl`` (the other two are
then derived from held-out pairs, see :mod:`steerid.traits.derive`):

- ``trait.yaml`` → :class:`TraitInfo` (name, description, the two pole labels);
- ``pairs.jsonl`` → :class:`ContrastivePair` per line, used to *extract* a direction: one user
  turn answered twice, once showing the trait (``positive``) and once its opposite;
- ``eval.jsonl`` → :class:`EvalPrompt` per line, neutral user turns used to *evaluate* steering
  in three environments (in-distribution, topic shift, genre shift);
- ``likelihood.jsonl`` → :class:`LikelihoodItem` per line, a prompt with a short trait-positive
  and trait-negative continuation, to measure steering by log-probability without generation.

Every record forbids unknown fields, strips surrounding whitespace and rejects empty strings,
so a typo in a field name is an error instead of a silently ignored value. Records are frozen:
built-in traits are cached and shared, so nobody may mutate them in place.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from steerid.errors import DataError
from steerid.io import sha256_texts

SCHEMA_VERSION = 1
"""The only trait-directory schema version this steerid reads."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""A non-empty string, surrounding whitespace removed."""

Slug = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
"""A lowercase identifier usable in file names and provenance records."""

Environment = Literal["in_distribution", "topic_shift", "genre_shift"]
ENVIRONMENTS: tuple[str, ...] = ("in_distribution", "topic_shift", "genre_shift")
"""Evaluation environments: the pairs' kind of situation, other subjects, other text types."""

HashPart = Literal["all", "pairs", "eval", "likelihood"]


def normalize_text(text: str) -> str:
    """Key used to detect duplicates: NFKC, case-folded, punctuation and symbols removed.

    Whitespace runs collapse to one space, so ``"Tell me about Mondays."`` and
    ``"tell me  about mondays"`` share a key.

    Example:
        >>> normalize_text("  Tell me about MONDAYS! ")
        'tell me about mondays'
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in folded)
    return " ".join(kept.split())


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TraitInfo(_Record):
    """Contents of ``trait.yaml``.

    Args:
        name: lowercase identifier, equal to the directory name for built-in traits.
        description: one or two sentences saying what the trait is.
        positive_label: name of the pole the ``positive`` texts show (e.g. ``"formal"``).
        negative_label: name of the opposite pole (e.g. ``"informal"``).
        schema_version: always ``1``.
    """

    name: Slug
    description: Text
    positive_label: Text
    negative_label: Text
    schema_version: Literal[1]

    @model_validator(mode="after")
    def _labels_differ(self) -> TraitInfo:
        if normalize_text(self.positive_label) == normalize_text(self.negative_label):
            raise ValueError("positive_label and negative_label are the same")
        return self


class ContrastivePair(_Record):
    """One user turn answered with the trait (``positive``) and with its opposite (``negative``).

    ``prompt`` is ``None`` only for pairs read from a bare user pairs file that gives none; the
    two texts are then used on their own, without a chat turn around them.
    """

    id: Text
    prompt: Text | None = None
    positive: Text
    negative: Text

    @model_validator(mode="after")
    def _texts_differ(self) -> ContrastivePair:
        if normalize_text(self.positive) == normalize_text(self.negative):
            raise ValueError("positive and negative are the same text")
        return self


class EvalPrompt(_Record):
    """A neutral user turn used to evaluate steering in one environment.

    ``correct``/``incorrect`` (given together: short right and wrong answers, used by the
    truthfulness trait) and ``opinion`` (the opinion the user states, used by agreeableness)
    are optional.
    """

    id: Text
    environment: Environment
    prompt: Text
    correct: Text | None = None
    incorrect: Text | None = None
    opinion: Text | None = None

    @model_validator(mode="after")
    def _answers_paired(self) -> EvalPrompt:
        if (self.correct is None) != (self.incorrect is None):
            raise ValueError("'correct' and 'incorrect' must be given together")
        if self.correct is not None and normalize_text(self.correct) == normalize_text(self.incorrect or ""):
            raise ValueError("'correct' and 'incorrect' are the same answer")
        return self


class LikelihoodItem(_Record):
    """A prompt with a short trait-positive and trait-negative continuation of similar length."""

    id: Text
    prompt: Text
    positive: Text
    negative: Text

    @model_validator(mode="after")
    def _texts_differ(self) -> LikelihoodItem:
        if normalize_text(self.positive) == normalize_text(self.negative):
            raise ValueError("positive and negative are the same text")
        return self


def hash_pairs(pairs: Iterable[ContrastivePair]) -> str:
    """Order-sensitive SHA-256 of the pairs' texts (prompt, positive, negative per pair).

    Use it for a vector's provenance when only a subset of a trait's pairs was used.
    A missing prompt hashes as the empty string (a present prompt is never empty).
    """
    return sha256_texts(text for pair in pairs for text in (pair.prompt or "", pair.positive, pair.negative))


def hash_eval(items: Iterable[EvalPrompt]) -> str:
    """Order-sensitive SHA-256 of evaluation items (environment, prompt and optional fields)."""
    return sha256_texts(
        text
        for item in items
        for text in (
            item.environment,
            item.prompt,
            item.correct or "",
            item.incorrect or "",
            item.opinion or "",
        )
    )


def hash_likelihood(items: Iterable[LikelihoodItem]) -> str:
    """Order-sensitive SHA-256 of likelihood items (prompt, positive, negative per item)."""
    return sha256_texts(text for item in items for text in (item.prompt, item.positive, item.negative))


def canonical_record(record: BaseModel) -> str:
    """One record as canonical JSON: fields as validated (stripped), sorted keys, no ``None``s.

    Two files that differ only in key order, JSON spacing, blank lines, YAML layout or comments,
    or whitespace around values give the same canonical records.
    """
    return json.dumps(record.model_dump(exclude_none=True), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash_of(info: TraitInfo, parts: Mapping[str, Sequence[BaseModel]]) -> str:
    """SHA-256 of a trait's canonicalised files (see :func:`canonical_record`).

    Args:
        info: The parsed ``trait.yaml``.
        parts: ``{"pairs.jsonl": records, "eval.jsonl": ..., "likelihood.jsonl": ...}`` for the
            files that exist, records in file order; empty parts are left out, so an in-memory
            trait without likelihood items hashes like a directory without ``likelihood.jsonl``.

    Returns:
        Hex digest; order-sensitive within a file, independent of formatting.
    """
    texts = ["trait.yaml", canonical_record(info)]
    for name in ("pairs.jsonl", "eval.jsonl", "likelihood.jsonl"):
        records = parts.get(name) or ()
        if records:
            texts += [name, str(len(records)), *(canonical_record(record) for record in records)]
    return sha256_texts(texts)


class Trait(_Record):
    """A loaded trait: its info, the three item lists and where it was read from.

    The lists are tuples so a cached built-in trait cannot be changed by one caller under
    another's feet; index and slice them like lists.

    A user directory may omit ``eval.jsonl`` and ``likelihood.jsonl``; the loader then holds
    some pairs out of extraction (a deterministic split under a seed, see
    :mod:`steerid.traits.derive`) and builds the missing items from them. ``pairs`` are then the
    extraction pairs only, ``held_out`` the pairs set aside, ``derived`` says in words what was
    built (``{"likelihood_items": "...", "eval_prompts": "..."}``, empty when nothing was) and
    ``seed`` the split's seed. :attr:`content_hash` identifies the files the trait was read from.

    Example:
        >>> from steerid.traits import load_trait
        >>> trait = load_trait("sentiment")
        >>> trait.counts()["pairs"] >= 80
        True
        >>> len(trait.eval_prompts("genre_shift")) >= 100
        True
    """

    info: TraitInfo
    pairs: tuple[ContrastivePair, ...]
    eval: tuple[EvalPrompt, ...] = ()
    likelihood: tuple[LikelihoodItem, ...] = ()
    source: Text
    held_out: tuple[ContrastivePair, ...] = ()
    derived: dict[str, str] = Field(default_factory=dict)
    seed: int | None = None
    files_hash: str | None = None

    @model_validator(mode="after")
    def _held_out_disjoint(self) -> Trait:
        ids = {pair.id for pair in self.pairs} & {pair.id for pair in self.held_out}
        prompts = {normalize_text(p.prompt) for p in self.pairs if p.prompt} & {
            normalize_text(p.prompt) for p in self.held_out if p.prompt
        }
        if ids or prompts:
            raise ValueError(f"held-out pairs overlap the extraction pairs (ids {sorted(ids)[:3]}, {len(prompts)} prompts)")
        return self

    @property
    def content_hash(self) -> str:
        """SHA-256 of the trait's canonicalised files (:func:`content_hash_of`).

        Set by the loader from the files as read (before any derivation); for a trait built in
        memory it is computed from its records. Record it in provenance together with ``seed``
        and ``derived``: the same hash and seed give the same extraction pairs and items.
        """
        if self.files_hash is not None:
            return self.files_hash
        parts = {"pairs.jsonl": self.pairs, "eval.jsonl": self.eval, "likelihood.jsonl": self.likelihood}
        return content_hash_of(self.info, parts)

    def provenance(self) -> dict[str, object]:
        """What a run should record about the trait (JSON-serialisable).

        Keys: ``name``, ``source``, ``content_hash``, ``seed`` (of the held-out split, ``None``
        when nothing was derived), ``derived``, ``held_out_ids`` and ``counts``.
        """
        return {
            "name": self.name,
            "source": self.source,
            "content_hash": self.content_hash,
            "seed": self.seed,
            "derived": dict(self.derived),
            "held_out_ids": [pair.id for pair in self.held_out],
            "counts": self.counts(),
        }

    @property
    def all_pairs(self) -> tuple[ContrastivePair, ...]:
        """Extraction pairs followed by held-out pairs (every pair the files hold)."""
        return self.pairs + self.held_out

    @property
    def name(self) -> str:
        """The trait's name (``info.name``)."""
        return self.info.name

    def eval_prompts(self, environment: str | None = None) -> list[EvalPrompt]:
        """Evaluation items, all of them or those of one environment, in file order.

        Raises:
            DataError: ``environment`` is not one of :data:`ENVIRONMENTS`.
        """
        if environment is None:
            return list(self.eval)
        if environment not in ENVIRONMENTS:
            raise DataError(
                f"unknown evaluation environment '{environment}'",
                f"use one of {', '.join(ENVIRONMENTS)}",
            )
        return [item for item in self.eval if item.environment == environment]

    def counts(self) -> dict[str, int]:
        """Item counts: ``pairs``, ``likelihood``, ``eval`` (total) and ``eval_<environment>``."""
        counts = {"pairs": len(self.pairs), "likelihood": len(self.likelihood), "eval": len(self.eval)}
        for environment in ENVIRONMENTS:
            counts[f"eval_{environment}"] = sum(item.environment == environment for item in self.eval)
        return counts

    def prompts_hash(self, part: HashPart = "all") -> str:
        """Order-sensitive SHA-256 (via :func:`steerid.io.sha256_texts`) of the trait's texts.

        Args:
            part: ``"pairs"`` (what extraction sees — the hash to record in a vector's
                provenance), ``"eval"``, ``"likelihood"``, or ``"all"`` (the three part hashes,
                each labelled, hashed together).

        Raises:
            DataError: unknown ``part``.
        """
        parts = {
            "pairs": lambda: hash_pairs(self.pairs),
            "eval": lambda: hash_eval(self.eval),
            "likelihood": lambda: hash_likelihood(self.likelihood),
        }
        if part == "all":
            return sha256_texts(text for key, make in parts.items() for text in (key, make()))
        if part not in parts:
            raise DataError(f"unknown prompts_hash part '{part}'", "use all, pairs, eval or likelihood")
        return parts[part]()

