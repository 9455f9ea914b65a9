r"""A/B multiple-choice datasets as traits: ``ab:PATH`` and ``ab:TRAIN,TEST``.

Most published steering work (Contrastive Activation Addition and the model-written evaluations
it builds on) uses multiple-choice items, one JSON object each::

    {"question": "... Choices:\n (A) Agree\n (B) Disagree",
     "answer_matching_behavior": "(B)", "answer_not_matching_behavior": "(A)"}

A file holds a JSON list of such objects (``.json``) or one per line (JSON Lines). Written
``ab:PATH`` wherever a trait directory is accepted (the prefix is required, so a stray file is
still an error), it becomes a :class:`~steerid.traits.schema.Trait` under that protocol:

* **Extraction pairs.** For item i with matching letter m and other letter o, one contrastive
  pair (prompt = question, positive = ``"(m"``, negative = ``"(o"``). With ``last`` pooling the
  activation is read at the answer letter, the CAA recipe (question + ``"(A"`` vs ``"(B"``).
* **Behaviour** (steerid's likelihood route). One likelihood item with the same two
  continuations, so the route measures

      L = ½ [log p(m | x, "(") − log p(o | x, "(")]

  when ``"("`` and the letter are separate tokens (as in the SmolLM2 and Gemma tokenizers): the
  route averages log-probabilities over a continuation's tokens and the shared ``"("`` cancels.
  The factor ½ is constant, so signs, d_z and ratios of shifts equal those of CAA's
  log p(m) − log p(o).
* **Both letter orders** (default; ``?orders=given`` turns it off). Where the question lists
  the two choices as ``(A) …`` then ``(B) …`` (the B choice running to the end of its line),
  the *swapped* item exchanges the two choice texts, so the matching letter flips. Extraction
  uses every item in both orders (the letter's position bias cancels in the mean difference);
  evaluation uses each item once, half of the swappable items (by a seeded ranking) in the
  swapped order, so the letter bias cancels in the mean shift while the items stay independent.
  Items whose question lists no swappable choices stay in their given order (counted in
  ``derived["orders"]``).
* **Split.** With one file, items are split into extraction and evaluation by the seed exactly
  as a trait directory's held-out pairs are (:func:`steerid.traits.derive.split_pairs`: grouped
  by question, ranked by ``sha256(seed, question)``, 30 % and at least 4 held out). With
  ``ab:TRAIN,TEST`` every TRAIN item extracts and every TEST item evaluates; a TEST question that
  is also a TRAIN question is an error.
* **Evaluation prompts.** The evaluation questions (in their evaluation order), all
  ``in_distribution``; experiments that need only prompts (E4, E6, E7) use them.

The trait's ``content_hash`` is the SHA-256 of the canonical items of the file(s) and the order
option; its name is the file's stem (the parent directory's name when the stem is a generic one
such as ``generate`` or ``test``), slugged.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from steerid.errors import DataError
from steerid.io import sha256_texts
from steerid.traits.derive import split_pairs
from steerid.traits.reading import _describe, read_text
from steerid.traits.schema import (
    SCHEMA_VERSION,
    ContrastivePair,
    EvalPrompt,
    LikelihoodItem,
    Text,
    Trait,
    TraitInfo,
    normalize_text,
)

PREFIX = "ab:"
"""What marks an A/B dataset where a trait is named."""
Orders = Literal["both", "given"]
GENERIC_STEMS = frozenset({"generate", "generate_dataset", "test", "test_dataset", "test_dataset_ab", "train",
                           "data", "dataset", "items", "ab"})
"""File stems that say nothing about the behaviour: the trait is named after the parent directory."""

_FIX = ('each item needs "question", "answer_matching_behavior" and "answer_not_matching_behavior" '
        '(the answers "(A)" and "(B)" or other single letters)')
_SPEC_FIX = "write ab:PATH or ab:TRAIN,TEST (optionally followed by ?orders=given)"
_LETTER = re.compile(r"^\(?\s*([A-Z])\s*\)?$")
_CHOICES = re.compile(r"^(?P<head>.*?)\(A\)(?P<a>.*?)(?P<gap>\s*)\(B\)(?P<b>[^\n]*)(?P<tail>.*)$", re.DOTALL)


class AbItem(BaseModel):
    """One multiple-choice item; the answers are single letters, written ``"(A)"``, ``"(A"`` or ``"A"``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: Text
    answer_matching_behavior: Text
    answer_not_matching_behavior: Text

    @field_validator("answer_matching_behavior", "answer_not_matching_behavior")
    @classmethod
    def _letter(cls, value: str) -> str:
        match = _LETTER.match(value)
        if match is None:
            raise ValueError(f"answer '{value}' is not a single letter such as (A)")
        return match.group(1)

    @model_validator(mode="after")
    def _differ(self) -> AbItem:
        if self.answer_matching_behavior == self.answer_not_matching_behavior:
            raise ValueError("answer_matching_behavior and answer_not_matching_behavior are the same letter")
        return self


@dataclass(frozen=True)
class AbSpec:
    """A parsed ``ab:`` trait spec."""

    train: Path
    test: Path | None
    orders: Orders

    def source(self) -> str:
        """The spec with absolute paths (what a config records and resolves again)."""
        files = ",".join(str(p.expanduser().resolve()) for p in (self.train, self.test) if p is not None)
        return f"{PREFIX}{files}" + ("" if self.orders == "both" else "?orders=given")


def is_ab_spec(text: str) -> bool:
    """Whether a trait name is an A/B dataset spec (starts with ``ab:``)."""
    return text.strip().startswith(PREFIX)


def parse_ab_spec(text: str) -> AbSpec:
    """Parse ``ab:PATH[,TEST][?orders=both|given]``.

    Raises:
        DataError: no file, more than two files, or an unknown option.
    """
    body = text.strip()[len(PREFIX):]
    orders: Orders = "both"
    if "?" in body:
        body, option = body.rsplit("?", 1)
        if option not in ("orders=both", "orders=given"):
            raise DataError(f"unknown option '?{option}' in trait '{text}'", "use ?orders=both or ?orders=given")
        orders = "given" if option == "orders=given" else "both"
    files = [part.strip() for part in body.split(",")]
    if not 1 <= len(files) <= 2 or not all(files):
        raise DataError(f"trait '{text}' names {len(files)} files", _SPEC_FIX)
    paths = [Path(f).expanduser() for f in files]
    for path in paths:
        if not path.is_file():
            raise DataError(f"{path}: no such A/B file", "check the path (" + _SPEC_FIX + ")")
    return AbSpec(paths[0], paths[1] if len(paths) == 2 else None, orders)


def read_ab_items(path: Path) -> list[tuple[int, AbItem]]:
    """Items of a JSON list or JSON Lines file, with their 1-based item numbers.

    Raises:
        DataError: unreadable file, invalid JSON, not objects, a missing or unknown field, an
            answer that is not a letter, or the same question twice (both item numbers).
    """
    display = str(path)
    text = read_text(path, display)
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{display}: invalid JSON ({exc.msg} at line {exc.lineno})", "fix the JSON syntax") from exc
        where = "item"
    else:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{display} line {number}: invalid JSON ({exc.msg})",
                                "write a JSON list, or one JSON object per line (JSON Lines)") from exc
        where = "record"
    if not records:
        raise DataError(f"{display}: no items", _FIX)
    rows: list[tuple[int, AbItem]] = []
    seen: dict[str, int] = {}
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise DataError(f"{display} {where} {number}: expected a JSON object, got {type(record).__name__}", _FIX)
        try:
            item = AbItem.model_validate(record)
        except ValidationError as exc:
            raise DataError(f"{display} {where} {number}: {_describe(exc, AbItem)}", _FIX) from exc
        key = normalize_text(item.question)
        if key in seen:
            raise DataError(f"{display} {where} {number}: same question as {where} {seen[key]}",
                            "remove or reword one of the two items")
        seen[key] = number
        rows.append((number, item))
    return rows


def swapped(item: AbItem) -> AbItem | None:
    """The item with its two listed choices exchanged (matching letter flipped), or None.

    Swappable: the letters are A and B, the question holds ``(A)`` and ``(B)`` once each, (A)
    first; the A choice runs up to the (B) marker, the B choice to the end of its line.
    """
    q = item.question
    if {item.answer_matching_behavior, item.answer_not_matching_behavior} != {"A", "B"}:
        return None
    if q.count("(A)") != 1 or q.count("(B)") != 1:
        return None
    m = _CHOICES.match(q)
    if m is None:
        return None
    a, b = m["a"], m["b"]
    lead_a, lead_b = a[: len(a) - len(a.lstrip())], b[: len(b) - len(b.lstrip())]
    if not a.strip() or not b.strip():
        return None
    question = f"{m['head']}(A){lead_a}{b.strip()}{m['gap']}(B){lead_b}{a.strip()}{m['tail']}"
    flip = {"A": "B", "B": "A"}
    return AbItem(question=question, answer_matching_behavior=flip[item.answer_matching_behavior],
                  answer_not_matching_behavior=flip[item.answer_not_matching_behavior])


def _pair(item: AbItem, item_id: str) -> ContrastivePair:
    return ContrastivePair(id=item_id, prompt=item.question, positive=f"({item.answer_matching_behavior}",
                           negative=f"({item.answer_not_matching_behavior}")


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"ab-order\x00{int(seed)}\x00{key}".encode()).hexdigest()


def _name(path: Path) -> str:
    stem = path.stem
    if stem.lower() in GENERIC_STEMS and path.expanduser().resolve().parent.name:
        stem = path.expanduser().resolve().parent.name
    slug = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_")
    return slug or "ab"


def _canonical(item: AbItem) -> str:
    return json.dumps(item.model_dump(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def ab_content_hash(train: list[AbItem], test: list[AbItem], orders: Orders) -> str:
    """SHA-256 of the canonical items of both files and the order option (formatting-independent)."""
    texts = ["ab", orders, "train", str(len(train)), *map(_canonical, train)]
    if test:
        texts += ["test", str(len(test)), *map(_canonical, test)]
    return sha256_texts(texts)


def load_ab_trait(spec: str, seed: int = 0) -> Trait:
    """The trait of an ``ab:`` spec (see the module docstring for the protocol).

    Args:
        spec: ``ab:PATH``, ``ab:TRAIN,TEST``, optionally followed by ``?orders=given``.
        seed: seed of the extraction/evaluation split (one file) and of which evaluation items
            are shown in the swapped order.

    Raises:
        DataError: bad spec, unreadable or invalid file, too few items to split, or a TEST
            question that is also a TRAIN question.
    """
    parsed = parse_ab_spec(spec)
    train_rows = read_ab_items(parsed.train)
    stem = _name(parsed.train)
    ids = {f"{stem}-{number:04d}": item for number, item in train_rows}
    derived: dict[str, str] = {}
    if parsed.test is None:
        pairs = tuple(_pair(item, item_id) for item_id, item in ids.items())
        extraction, held = split_pairs(pairs, seed, display=str(parsed.train), needs="evaluation items")
        train_items = [(p.id, ids[p.id]) for p in extraction]
        eval_items = [(p.id, ids[p.id]) for p in held]
        test_list: list[AbItem] = []
        derived["split"] = (f"{len(held)} of {len(pairs)} items held out for evaluation (seed {seed}; "
                            f"{len(extraction)} left for extraction)")
    else:
        test_rows = read_ab_items(parsed.test)
        train_keys = {normalize_text(item.question): number for number, item in train_rows}
        for number, item in test_rows:
            if normalize_text(item.question) in train_keys:
                raise DataError(f"{parsed.test} item {number}: question also in {parsed.train} item "
                                f"{train_keys[normalize_text(item.question)]}",
                                "evaluation items must differ from extraction items; remove one")
        train_items = list(ids.items())
        eval_items = [(f"{stem}-test-{number:04d}", item) for number, item in test_rows]
        test_list = [item for _, item in test_rows]
    extraction_pairs: list[ContrastivePair] = []
    n_swappable = 0
    for item_id, item in train_items:
        extraction_pairs.append(_pair(item, item_id))
        other = swapped(item) if parsed.orders == "both" else None
        if other is not None:
            n_swappable += 1
            extraction_pairs.append(_pair(other, f"{item_id}-swapped"))
    chosen: list[tuple[str, AbItem]] = []
    swappable_eval = sorted((i for i, (_, item) in enumerate(eval_items) if parsed.orders == "both"
                             and swapped(item) is not None), key=lambda i: _rank(seed, eval_items[i][0]))
    flip = set(swappable_eval[1::2])
    for i, (item_id, item) in enumerate(eval_items):
        chosen.append((f"{item_id}-swapped", swapped(item)) if i in flip else (item_id, item))  # type: ignore[arg-type]
    likelihood = tuple(LikelihoodItem(id=f"{item_id}-lik", prompt=item.question, positive=f"({item.answer_matching_behavior}",
                                      negative=f"({item.answer_not_matching_behavior}") for item_id, item in chosen)
    evals = tuple(EvalPrompt(id=f"{item_id}-eval", environment="in_distribution", prompt=item.question)
                  for item_id, item in chosen)
    if parsed.orders == "both":
        derived["orders"] = (f"extraction: {n_swappable} of {len(train_items)} items also in the swapped order; "
                             f"evaluation: {len(flip)} of {len(swappable_eval)} swappable items in the swapped order "
                             f"(seed {seed}), {len(eval_items) - len(swappable_eval)} not swappable")
    info = TraitInfo(name=stem, description=f"A/B multiple-choice items read from {parsed.train.name}"
                     + (f" and {parsed.test.name}" if parsed.test else ""),
                     positive_label="matching behaviour", negative_label="not matching behaviour",
                     schema_version=SCHEMA_VERSION)
    uses_seed = parsed.test is None or bool(flip)
    held_out = tuple(_pair(item, item_id) for item_id, item in eval_items) if parsed.test is None else ()
    return Trait(info=info, pairs=tuple(extraction_pairs), eval=evals, likelihood=likelihood, source=parsed.source(),
                 held_out=held_out, derived=derived, seed=int(seed) if uses_seed else None,
                 files_hash=ab_content_hash([item for _, item in train_rows], test_list, parsed.orders))
