"""Build the items a user trait directory leaves out, from pairs held out of extraction.

A user directory may hold only ``trait.yaml`` and ``pairs.jsonl``. Steering is then still
measured on text the vector was not extracted from:

1. **Split.** Pairs are grouped by their normalised prompt (:func:`~steerid.traits.schema.normalize_text`),
   so two pairs answering the same prompt never straddle the split. Each group is ranked by
   ``sha256(f"{seed}\\x00{prompt key}")`` and groups are taken in rank order until at least
   ``max(MIN_HELD_OUT, ceil(HOLD_OUT_FRACTION · n))`` pairs are held out. The ranking depends
   only on the seed and the prompts — not on file order — so the same files and seed always
   give the same split, and adding a pair moves at most that pair's group.
2. **Likelihood items** (when ``likelihood.jsonl`` is missing): each held-out pair becomes one
   item, its prompt with its two replies as the trait-positive and trait-negative continuation.
3. **Evaluation prompts** (when ``eval.jsonl`` is missing): the held-out pairs' prompts, one per
   group, all in the ``in_distribution`` environment (the pairs say nothing about other topics
   or genres, so ``topic_shift`` and ``genre_shift`` stay empty).

The held-out pairs are removed from the extraction pairs; :class:`~steerid.traits.schema.Trait`
refuses a trait whose held-out and extraction pairs share an id or a prompt. Too few pairs (or
distinct prompts) to leave ``MIN_EXTRACTION`` for extraction after holding out ``MIN_HELD_OUT``,
or pairs without a prompt, raise :class:`~steerid.errors.DataError` with the fix.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from steerid.errors import DataError
from steerid.traits.schema import ContrastivePair, EvalPrompt, LikelihoodItem, normalize_text

HOLD_OUT_FRACTION = 0.3
"""Share of the pairs held out of extraction when items must be derived."""
MIN_HELD_OUT = 4
"""Fewest pairs held out (likelihood items / evaluation prompts built from them)."""
MIN_EXTRACTION = 8
"""Fewest pairs that must stay for extraction."""
MIN_PAIRS = MIN_HELD_OUT + MIN_EXTRACTION
"""Fewest pairs a directory without ``likelihood.jsonl`` or ``eval.jsonl`` may hold."""


@dataclass(frozen=True)
class Derivation:
    """Result of :func:`derive_items`.

    Attributes:
        extraction: Pairs left for extraction, in file order.
        held_out: Pairs held out, in file order.
        likelihood: Items built from ``held_out`` (empty unless asked for).
        eval: Evaluation prompts built from ``held_out`` (empty unless asked for).
        derived: ``{"likelihood_items": ..., "eval_prompts": ...}`` in words, for the report.
    """

    extraction: tuple[ContrastivePair, ...]
    held_out: tuple[ContrastivePair, ...]
    likelihood: tuple[LikelihoodItem, ...] = ()
    eval: tuple[EvalPrompt, ...] = ()
    derived: dict[str, str] = field(default_factory=dict)


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{int(seed)}\x00{key}".encode()).hexdigest()


def split_pairs(
    pairs: tuple[ContrastivePair, ...], seed: int, *, display: str = "pairs.jsonl", needs: str = "likelihood.jsonl"
) -> tuple[tuple[ContrastivePair, ...], tuple[ContrastivePair, ...]]:
    """Split pairs into (extraction, held out), grouped by prompt, deterministic under ``seed``.

    Args:
        pairs: All pairs, in file order; every pair needs a prompt.
        seed: Split seed.
        display: File name used in error messages.
        needs: The missing file(s) the split stands in for (named in the fix).

    Raises:
        DataError: a pair without a prompt, or too few pairs / distinct prompts.
    """
    unprompted = next((i for i, pair in enumerate(pairs, start=1) if pair.prompt is None), None)
    if unprompted is not None:
        raise DataError(
            f"{display}: pair {unprompted} has no prompt, so no {needs} items can be derived from held-out pairs",
            f"give every pair a \"prompt\", or write {needs}",
        )
    groups: dict[str, list[int]] = {}
    for index, pair in enumerate(pairs):
        groups.setdefault(normalize_text(pair.prompt or ""), []).append(index)
    n = len(pairs)
    target = max(MIN_HELD_OUT, math.ceil(HOLD_OUT_FRACTION * n))
    held: set[int] = set()
    for key in sorted(groups, key=lambda k: _rank(seed, k)):
        if len(held) >= target:
            break
        held.update(groups[key])
    if n - len(held) < MIN_EXTRACTION or len(groups) < 2:
        raise DataError(
            f"{display}: {n} pairs ({len(groups)} distinct prompts) are too few to hold some out for {needs}"
            f" (need at least {MIN_PAIRS}: {MIN_EXTRACTION} for extraction and {MIN_HELD_OUT} held out)",
            f"add pairs with different prompts, or write {needs}",
        )
    extraction = tuple(pair for i, pair in enumerate(pairs) if i not in held)
    held_out = tuple(pair for i, pair in enumerate(pairs) if i in held)
    _check_disjoint(extraction, held_out)
    return extraction, held_out


def _check_disjoint(extraction: tuple[ContrastivePair, ...], held_out: tuple[ContrastivePair, ...]) -> None:
    """Invariant of the split (a bug if it fails, never a user error)."""
    ids = {p.id for p in extraction} & {p.id for p in held_out}
    prompts = {normalize_text(p.prompt or "") for p in extraction} & {normalize_text(p.prompt or "") for p in held_out}
    if ids or prompts or not held_out or not extraction:
        raise AssertionError(f"held-out split overlaps extraction (ids {sorted(ids)}, prompts {sorted(prompts)})")


def derive_items(
    pairs: tuple[ContrastivePair, ...],
    seed: int,
    *,
    likelihood: bool,
    eval_prompts: bool,
    display: str = "pairs.jsonl",
) -> Derivation:
    """Hold pairs out of extraction and build the missing likelihood items / evaluation prompts.

    Args:
        pairs: All pairs of the directory, in file order.
        seed: Split seed (the run's seed).
        likelihood: Build likelihood items (``likelihood.jsonl`` is missing).
        eval_prompts: Build evaluation prompts (``eval.jsonl`` is missing).
        display: ``pairs.jsonl`` path for error messages.

    Returns:
        The split and the built items; with neither flag set, every pair stays for extraction.

    Raises:
        DataError: see :func:`split_pairs`.
    """
    if not (likelihood or eval_prompts):
        return Derivation(extraction=tuple(pairs), held_out=())
    needs = " and ".join(name for name, on in (("likelihood.jsonl", likelihood), ("eval.jsonl", eval_prompts)) if on)
    extraction, held_out = split_pairs(tuple(pairs), seed, display=display, needs=needs)
    derived: dict[str, str] = {}
    lik: tuple[LikelihoodItem, ...] = ()
    evals: tuple[EvalPrompt, ...] = ()
    where = f"{len(held_out)} pairs held out of extraction (seed {seed}; {len(extraction)} left for extraction)"
    if likelihood:
        lik = tuple(
            LikelihoodItem(id=f"{pair.id}-lik", prompt=pair.prompt or "", positive=pair.positive, negative=pair.negative)
            for pair in held_out
        )
        derived["likelihood_items"] = f"from {where}"
    if eval_prompts:
        seen: set[str] = set()
        items: list[EvalPrompt] = []
        for pair in held_out:
            key = normalize_text(pair.prompt or "")
            if key not in seen:
                seen.add(key)
                items.append(EvalPrompt(id=f"{pair.id}-eval", environment="in_distribution", prompt=pair.prompt or ""))
        evals = tuple(items)
        derived["eval_prompts"] = (
            f"from the prompts of {where}: {len(evals)} in_distribution prompts, none for topic_shift or genre_shift"
        )
    return Derivation(extraction=extraction, held_out=held_out, likelihood=lik, eval=evals, derived=derived)
