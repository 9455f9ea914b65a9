"""Labelled scorer data: ``scorers/data/<trait>.jsonl``.

One JSON object per line::

    {"text": "...", "label": 1, "split": "train", "tags": ["hard:negation"]}

``label`` 1 means trait-positive (formal, polite, positive sentiment, agreeing); ``split`` is
``"train"`` or ``"test"`` and is fixed in the file (stratified by label, about 25 % test), so
every retraining and every validation uses the same held-out texts. ``tags`` name hard-case
families (``hard:negation``, ``hard:sarcasm`` …) and register/topic notes; per-tag accuracy is
reported on the test split.

The answer-judge file (``truthfulness_answer.jsonl``) has two more string fields per line,
``correct`` and ``incorrect``. Agreeableness lines may carry the ``opinion`` the reply answers
(a reply's stance is only defined relative to it); lines without one are scored as bare text.

Loading checks every line and raises :class:`~steerid.errors.DataError` with the line number on
malformed input, and refuses files where a text (compared case- and whitespace-insensitively,
together with its ``opinion`` where there is one) occurs twice. A reply may appear under two
opposite opinions with opposite labels; such lines share one split, so the test split never
shares a text with the training split.

Independent validation sets (``scorers/validation/<trait>.jsonl``, written separately from the
training data and never trained on) are read by :func:`load_validation`: one object per line
with ``id``, ``text``, ``label`` and ``register`` (plus ``opinion`` for agreeableness and
``question``/``correct``/``incorrect`` for truthfulness); their split is ``"validation"`` and
their tags are ``register:<register>``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from steerid.errors import DataError
from steerid.scorers.base import DATA_DIR, VALIDATION_DIR

SPLITS = ("train", "test")
VALIDATION_SPLIT = "validation"


@dataclass(frozen=True)
class Example:
    """One labelled text.

    Attributes:
        text: The text (a model-continuation-like string).
        label: 1 = trait-positive, 0 = trait-negative.
        split: ``"train"`` or ``"test"``.
        tags: Hard-case and register tags.
        extra: Other string fields (``correct``/``incorrect`` for the answer judge).
        line: 1-based line number in the file.
    """

    text: str
    label: int
    split: str
    tags: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True)
class LabelledSet:
    """A loaded data file.

    Attributes:
        name: File stem (trait or scorer name).
        path: Where it was read from.
        sha256: SHA-256 of the file bytes (recorded in heads and cards).
        examples: All examples in file order.
    """

    name: str
    path: Path
    sha256: str
    examples: tuple[Example, ...]

    def split(self, which: str) -> list[Example]:
        """Return the examples of one split, in file order."""
        if which not in (*SPLITS, VALIDATION_SPLIT):
            raise DataError(f"unknown split {which!r}", f"use one of {', '.join(SPLITS)}")
        return [ex for ex in self.examples if ex.split == which]

    @property
    def train(self) -> list[Example]:
        """Training examples."""
        return self.split("train")

    @property
    def test(self) -> list[Example]:
        """Held-out test examples."""
        return self.split("test")


def data_path(name: str, data_dir: Path | None = None) -> Path:
    """Path of the labelled data file for ``name`` (in the packaged ``data/`` by default)."""
    return (data_dir or DATA_DIR) / f"{name}.jsonl"


def _norm_key(text: str) -> str:
    return " ".join(text.lower().split())


def _example_key(example: Example) -> str:
    opinion = example.extra.get("opinion", "")
    return f"{_norm_key(opinion)}\x1f{_norm_key(example.text)}" if opinion.strip() else _norm_key(example.text)


def _read_utf8(file: Path) -> tuple[bytes, str]:
    """The bytes of ``file`` (hashed into the set's sha256) and their UTF-8 text, else DataError."""
    raw = file.read_bytes()
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{file} is not UTF-8 ({exc.reason} at byte {exc.start})", "re-save it as UTF-8") from exc


def _json_lines(content: str, fname: str) -> Iterator[tuple[int, object]]:
    """``(line number, parsed JSON)`` for each non-blank line, lazily (earlier lines are checked
    before a later line's JSON error is raised); invalid JSON raises DataError naming the line."""
    for lineno, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{fname}:{lineno} is not valid JSON ({exc.msg})", "fix that line") from exc
        yield lineno, obj


def load_labelled(
    name: str, data_dir: Path | None = None, *, path: Path | None = None, require_train: bool = True
) -> LabelledSet:
    """Load and validate a labelled data file.

    Args:
        name: Trait or scorer name (file stem).
        data_dir: Directory holding ``<name>.jsonl``; the packaged ``data/`` by default.
        path: Explicit file path (overrides ``data_dir``).
        require_train: Whether the train split must exist with both labels (False for data
            that only validates a rule-based scorer).

    Returns:
        The validated :class:`LabelledSet`.

    Raises:
        DataError: Missing, empty, non-UTF-8 or malformed file, duplicate texts, or a split that
            lacks one of the two labels.
    """
    file = Path(path) if path is not None else data_path(name, data_dir)
    if not file.exists():
        raise DataError(f"no labelled data for {name!r} at {file}", f"write {file.name} (see steerid.scorers.labelled)")
    raw, content = _read_utf8(file)
    examples: list[Example] = []
    seen: dict[str, int] = {}
    for lineno, obj in _json_lines(content, file.name):
        examples.append(_parse(obj, file.name, lineno))
        key = _example_key(examples[-1])
        if key in seen:
            raise DataError(
                f"{file.name}:{lineno} repeats the text of line {seen[key]}",
                "remove the duplicate so train and test stay disjoint",
            )
        seen[key] = lineno
    if not examples:
        raise DataError(f"{file} has no examples", "add labelled lines")
    for which in SPLITS if require_train else ("test",):
        labels = {ex.label for ex in examples if ex.split == which}
        if labels != {0, 1}:
            raise DataError(
                f"{file.name}: the {which} split has labels {sorted(labels)}, needs both 0 and 1",
                "rebalance the split",
            )
    return LabelledSet(name=name, path=file, sha256=hashlib.sha256(raw).hexdigest(), examples=tuple(examples))


def _parse(obj: object, fname: str, lineno: int) -> Example:
    where = f"{fname}:{lineno}"
    if not isinstance(obj, dict):
        raise DataError(f"{where} is not a JSON object", 'write {"text": ..., "label": ..., "split": ...}')
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{where}: 'text' must be a non-empty string", "fix that line")
    label = obj.get("label")
    if isinstance(label, bool) or label not in (0, 1):
        raise DataError(f"{where}: 'label' must be 0 or 1, got {label!r}", "fix that line")
    split = obj.get("split")
    if split not in SPLITS:
        raise DataError(f"{where}: 'split' must be 'train' or 'test', got {split!r}", "fix that line")
    tags = obj.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise DataError(f"{where}: 'tags' must be a list of strings", "fix that line")
    # Other string fields are kept (the answer judge needs ``correct``/``incorrect``); other
    # fields (ids, notes of other types) are not used by scorers.
    extra = {k: v for k, v in obj.items() if k not in ("text", "label", "split", "tags") and isinstance(v, str)}
    return Example(text=text, label=int(label), split=split, tags=tuple(tags), extra=extra, line=lineno)


def validation_path(name: str, validation_dir: Path | None = None) -> Path:
    """Path of the independent validation file for ``name`` (packaged ``validation/`` by default)."""
    return (validation_dir or VALIDATION_DIR) / f"{name}.jsonl"


def load_validation(name: str, validation_dir: Path | None = None, *, path: Path | None = None) -> LabelledSet:
    """Load an independent validation set (never used for training; see the module docstring).

    Args:
        name: Trait name (file stem): ``sentiment``, ``formality``, ``politeness``,
            ``agreeableness`` or ``truthfulness``.
        validation_dir: Directory holding ``<name>.jsonl``; the packaged ``validation/`` by default.
        path: Explicit file path (overrides ``validation_dir``).

    Returns:
        A :class:`LabelledSet` whose examples all have split ``"validation"``.

    Raises:
        DataError: Missing, empty, non-UTF-8 or malformed file, repeated ids, or one label only.
    """
    file = Path(path) if path is not None else validation_path(name, validation_dir)
    if not file.exists():
        raise DataError(f"no validation set for {name!r} at {file}", "restore the packaged scorers/validation/ files")
    raw, content = _read_utf8(file)
    examples: list[Example] = []
    ids: dict[str, int] = {}
    for lineno, obj in _json_lines(content, file.name):
        where = f"{file.name}:{lineno}"
        if not isinstance(obj, dict):
            raise DataError(f"{where} is not a JSON object", 'write {"id": ..., "text": ..., "label": ..., "register": ...}')
        ident, text, label, register = obj.get("id"), obj.get("text"), obj.get("label"), obj.get("register")
        if not isinstance(ident, str) or not ident:
            raise DataError(f"{where}: 'id' must be a non-empty string", "fix that line")
        if ident in ids:
            raise DataError(f"{where} repeats the id of line {ids[ident]}", "give every line its own id")
        ids[ident] = lineno
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where}: 'text' must be a non-empty string", "fix that line")
        if isinstance(label, bool) or label not in (0, 1):
            raise DataError(f"{where}: 'label' must be 0 or 1, got {label!r}", "fix that line")
        if not isinstance(register, str) or not register:
            raise DataError(f"{where}: 'register' must be a non-empty string", "fix that line")
        extra = {k: v for k, v in obj.items() if k not in ("text", "label", "register") and isinstance(v, str)}
        examples.append(
            Example(text=text, label=int(label), split=VALIDATION_SPLIT, tags=(f"register:{register}",), extra=extra, line=lineno)
        )
    if not examples:
        raise DataError(f"{file} has no examples", "add labelled lines")
    if {ex.label for ex in examples} != {0, 1}:
        raise DataError(f"{file.name} needs both labels 0 and 1", "rebalance the validation set")
    return LabelledSet(name=name, path=file, sha256=hashlib.sha256(raw).hexdigest(), examples=tuple(examples))
