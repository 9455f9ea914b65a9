"""Find and load traits: built-in ones shipped as package data, user directories, pairs files.

``load_trait`` accepts, in this order:

1. a built-in trait name (see :func:`list_traits`) — read through ``importlib.resources`` and
   cached, so every caller gets the same frozen :class:`~steerid.traits.schema.Trait`;
2. a directory in the built-in schema (``trait.yaml``, ``pairs.jsonl``, ``eval.jsonl``,
   ``likelihood.jsonl``) — read afresh on every call;
3. a single JSON Lines pairs file (``{"positive", "negative"[, "prompt"][, "id"]}`` per line,
   what the CLI's ``--pairs FILE`` takes) — a trait with pairs only.

A built-in name wins over a same-named directory in the working directory; write
``./sentiment`` to load the local one.

Every problem a user can cause raises :class:`~steerid.errors.DataError` with one line that
names the file, the line number and the field where they apply, and says how to fix it:
missing, empty or non-UTF-8 files, invalid JSON or YAML, schema violations, duplicate records
or ids inside a file (both line numbers), and evaluation prompts that also occur as pair prompts
(a trait's evaluation must not reuse its extraction prompts).
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from collections.abc import Callable, Iterable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from steerid.errors import DataError
from steerid.traits.schema import (
    SCHEMA_VERSION,
    ContrastivePair,
    EvalPrompt,
    LikelihoodItem,
    Trait,
    TraitInfo,
    normalize_text,
)

TRAIT_FILES: tuple[str, ...] = ("trait.yaml", "pairs.jsonl", "eval.jsonl", "likelihood.jsonl")
"""Files every trait directory must contain."""

_DIR_FIX = "a trait directory needs " + ", ".join(TRAIT_FILES)
_PAIRS_FILE_FIX = 'each line needs a JSON object {"positive": ..., "negative": ...} (optional: "prompt", "id")'
_Model = TypeVar("_Model", bound=BaseModel)


def _data_root() -> Traversable:
    return resources.files("steerid.traits").joinpath("data")


def list_traits() -> list[str]:
    """Names of the built-in traits (directories with a ``trait.yaml``), sorted."""
    root = _data_root()
    if not root.is_dir():
        return []
    return sorted(entry.name for entry in root.iterdir() if entry.is_dir() and entry.joinpath("trait.yaml").is_file())


def load_trait(name_or_path: str | os.PathLike[str]) -> Trait:
    """Load a built-in trait by name, a trait directory, or a JSON Lines pairs file.

    Args:
        name_or_path: a name from :func:`list_traits`, a directory path, or a ``.jsonl`` path.

    Returns:
        The validated trait. Built-in traits are cached (the same object on every call).

    Raises:
        DataError: unknown name, missing path, or any problem in the files (see module doc).

    Example:
        >>> trait = load_trait("formality")
        >>> trait.info.positive_label, trait.info.negative_label
        ('formal', 'informal')
    """
    text = os.fspath(name_or_path)
    if not text.strip():
        raise DataError("no trait given (empty name)", f"use one of: {', '.join(list_traits()) or 'none'}")
    known = list_traits()
    if text in known:
        return _load_builtin(text)
    path = Path(text).expanduser()
    if _is_dir(path):
        return load_trait_dir(path)
    if _is_file(path):
        return _trait_from_pairs_file(path)
    if os.sep in text or "/" in text or path.suffix:
        raise DataError(
            f"no such trait file or directory: {text}",
            f"check the path, or name a built-in trait ({', '.join(known) or 'none installed'})",
        )
    raise DataError(
        f"unknown trait '{text}' (built-in: {', '.join(known) or 'none'})",
        "use one of those names, or give the path of a trait directory or pairs .jsonl file",
    )


def clear_cache() -> None:
    """Forget cached built-in traits (after editing package data in a development checkout)."""
    _load_builtin.cache_clear()


@functools.lru_cache(maxsize=None)
def _load_builtin(name: str) -> Trait:
    directory = _data_root().joinpath(name)
    trait = _load_directory(directory, display=str(directory))
    if trait.info.name != name:
        raise DataError(
            f"{directory.joinpath('trait.yaml')}: name '{trait.info.name}' differs from its directory '{name}'",
            "make the name in trait.yaml equal to the directory name",
        )
    return trait


def load_trait_dir(path: str | os.PathLike[str]) -> Trait:
    """Load a trait directory in the built-in schema (not cached: user files may change)."""
    directory = Path(path).expanduser()
    if not _is_dir(directory):
        raise DataError(f"{directory}: not a directory", _DIR_FIX)
    return _load_directory(directory, display=str(directory))


def load_pairs_file(path: str | os.PathLike[str]) -> list[ContrastivePair]:
    """Read a JSON Lines file of contrastive pairs (the CLI's ``--pairs FILE``).

    Each non-blank line is an object with ``positive`` and ``negative`` texts and optionally a
    ``prompt`` (the user turn both texts answer) and an ``id``; missing ids become
    ``<file stem>-pair-<n>``.

    Raises:
        DataError: missing/empty/non-UTF-8 file, invalid JSON, unknown or missing fields,
            duplicate lines or ids (message names the file and line).
    """
    file = Path(path).expanduser()
    stem = _slug(file.stem)

    def add_id(obj: dict[str, Any], index: int) -> dict[str, Any]:
        return obj if "id" in obj else {"id": f"{stem}-pair-{index:03d}", **obj}

    rows = _read_jsonl(file, str(file), ContrastivePair, prepare=add_id, fix=_PAIRS_FILE_FIX)
    _check_unique(rows, str(file), _pair_key, "the same prompt, positive and negative")
    return [pair for _, pair in rows]


# --------------------------------------------------------------------------------------------
# directory loading


def _load_directory(directory: Traversable | Path, *, display: str) -> Trait:
    missing = [name for name in TRAIT_FILES if not directory.joinpath(name).is_file()]
    if missing:
        raise DataError(f"{_join(display, missing[0])}: file is missing", _DIR_FIX)
    info = _read_info(directory.joinpath("trait.yaml"), _join(display, "trait.yaml"))
    pairs_name = _join(display, "pairs.jsonl")
    eval_name = _join(display, "eval.jsonl")
    lik_name = _join(display, "likelihood.jsonl")
    pairs = _read_jsonl(directory.joinpath("pairs.jsonl"), pairs_name, ContrastivePair)
    evals = _read_jsonl(directory.joinpath("eval.jsonl"), eval_name, EvalPrompt)
    likelihood = _read_jsonl(directory.joinpath("likelihood.jsonl"), lik_name, LikelihoodItem)

    _check_unique(pairs, pairs_name, _pair_key, "the same prompt, positive and negative")
    _check_unique(evals, eval_name, lambda item: normalize_text(item.prompt), "the same prompt")
    _check_unique(likelihood, lik_name, _pair_key, "the same prompt, positive and negative")
    _check_no_overlap(evals, eval_name, pairs, pairs_name)

    return Trait(
        info=info,
        pairs=tuple(pair for _, pair in pairs),
        eval=tuple(item for _, item in evals),
        likelihood=tuple(item for _, item in likelihood),
        source=display,
    )


def _trait_from_pairs_file(path: Path) -> Trait:
    pairs = load_pairs_file(path)
    info = TraitInfo(
        name=_slug(path.stem),
        description=f"contrastive pairs read from {path.name}",
        positive_label="positive",
        negative_label="negative",
        schema_version=SCHEMA_VERSION,
    )
    return Trait(info=info, pairs=tuple(pairs), source=str(path))


def _read_info(resource: Traversable | Path, display: str) -> TraitInfo:
    text = _read_text(resource, display)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise DataError(f"{display}{where}: invalid YAML ({problem})", "fix the YAML syntax") from exc
    if data is None:
        raise DataError(f"{display}: file is empty", _info_fix())
    if not isinstance(data, dict):
        raise DataError(f"{display}: expected a mapping of fields, got {type(data).__name__}", _info_fix())
    version = data.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise DataError(
            f"{display}: schema_version {version} is newer than this steerid reads ({SCHEMA_VERSION})",
            "upgrade steerid or convert the trait to schema_version 1",
        )
    try:
        return TraitInfo.model_validate(data)
    except ValidationError as exc:
        raise DataError(f"{display}: {_describe(exc, TraitInfo)}", _info_fix()) from exc


def _info_fix() -> str:
    return "trait.yaml needs name, description, positive_label, negative_label and schema_version: 1"


# --------------------------------------------------------------------------------------------
# file reading


def _read_text(resource: Traversable | Path, display: str) -> str:
    try:
        data = resource.read_bytes()
    except FileNotFoundError as exc:
        raise DataError(f"{display}: file is missing", "check the path") from exc
    except IsADirectoryError as exc:
        raise DataError(f"{display}: is a directory, not a file", "give the path of a file") from exc
    except OSError as exc:
        raise DataError(f"{display}: cannot read ({exc.strerror or exc})", "check the file's permissions") from exc
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(
            f"{display} line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x})",
            "save the file as UTF-8",
        ) from exc


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKeyError(key)
        obj[key] = value
    return obj


def _read_jsonl(
    resource: Traversable | Path,
    display: str,
    model: type[_Model],
    prepare: Callable[[dict[str, Any], int], dict[str, Any]] | None = None,
    fix: str | None = None,
) -> list[tuple[int, _Model]]:
    """Parse and validate one record per non-blank line; returns ``(line number, record)``."""
    text = _read_text(resource, display)
    fix = fix or _fields_fix(model)
    rows: list[tuple[int, _Model]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{display} line {number}: invalid JSON ({exc.msg} at column {exc.colno})",
                "write exactly one JSON object per line (JSON Lines)",
            ) from exc
        except _DuplicateKeyError as exc:
            raise DataError(f"{display} line {number}: field '{exc}' appears twice", "keep one of them") from exc
        if not isinstance(obj, dict):
            raise DataError(f"{display} line {number}: expected a JSON object, got {_json_type(obj)}", fix)
        if prepare is not None:
            obj = prepare(obj, len(rows) + 1)
        try:
            rows.append((number, model.model_validate(obj)))
        except ValidationError as exc:
            raise DataError(f"{display} line {number}: {_describe(exc, model)}", fix) from exc
    if not rows:
        raise DataError(f"{display}: file is empty", fix)
    return rows


def _fields_fix(model: type[BaseModel]) -> str:
    required = [name for name, field in model.model_fields.items() if field.is_required()]
    optional = [name for name, field in model.model_fields.items() if not field.is_required()]
    fix = "each line needs a JSON object with " + ", ".join(required)
    return fix + (f" (optional: {', '.join(optional)})" if optional else "")


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "null"
    )


def _describe(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    """One clause for the most telling validation problem, naming the field.

    An unknown field is reported before a missing one: ``"negatve"`` is usually the reason
    ``"negative"`` is missing, and naming the typo (with a suggestion) is the useful fix.
    """
    errors = sorted(exc.errors(), key=lambda err: err["type"] != "extra_forbidden")
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"])
    kind = first["type"]
    value = first.get("input")
    if kind == "missing":
        text = f"field '{field}' is missing"
    elif kind == "extra_forbidden":
        text = f"unknown field '{field}'"
        known = list(model.model_fields) if model is not None else []
        close = difflib.get_close_matches(field, known, n=1)
        if close:
            text += f" (did you mean '{close[0]}'?)"
    elif kind == "string_too_short":
        text = f"field '{field}' is empty"
    elif kind == "string_type":
        text = f"field '{field}' must be a string, got {_json_type(value)}"
    elif kind == "string_pattern_mismatch":
        text = f"field '{field}' must use lowercase letters, digits, '-' or '_' (got {_short(value)})"
    elif kind == "literal_error":
        expected = first.get("ctx", {}).get("expected", "")
        text = f"field '{field}' must be {expected} (got {_short(value)})"
    elif not field:
        text = str(first["msg"]).removeprefix("Value error, ")
    else:
        text = f"field '{field}': {first['msg']}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''} on this line)"
    return text


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------------------
# cross-record checks


def _pair_key(item: ContrastivePair | LikelihoodItem) -> str:
    return "\x00".join(normalize_text(text) for text in (item.prompt or "", item.positive, item.negative))


def _check_unique(
    rows: list[tuple[int, Any]], display: str, key: Callable[[Any], str], what: str
) -> None:
    """Raise on the first record that repeats an earlier one (by key) or an earlier id."""
    seen_keys: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for number, record in rows:
        if record.id in seen_ids:
            raise DataError(
                f"{display} line {number}: id '{record.id}' is already used on line {seen_ids[record.id]}",
                "give every line its own id",
            )
        seen_ids[record.id] = number
        record_key = key(record)
        if record_key in seen_keys:
            raise DataError(
                f"{display} line {number}: duplicate of line {seen_keys[record_key]} ({what}, "
                "ignoring case, spacing and punctuation)",
                "remove or reword one of the two lines",
            )
        seen_keys[record_key] = number


def _check_no_overlap(
    evals: Iterable[tuple[int, EvalPrompt]],
    eval_name: str,
    pairs: Iterable[tuple[int, ContrastivePair]],
    pairs_name: str,
) -> None:
    pair_lines = {normalize_text(pair.prompt): number for number, pair in pairs if pair.prompt is not None}
    for number, item in evals:
        other = pair_lines.get(normalize_text(item.prompt))
        if other is not None:
            raise DataError(
                f"{eval_name} line {number}: prompt also appears in {pairs_name} line {other}",
                "evaluation prompts must differ from extraction prompts; reword or remove one",
            )


# --------------------------------------------------------------------------------------------
# small helpers


def _join(display: str, name: str) -> str:
    return f"{display.rstrip('/')}/{name}"


def _slug(stem: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_")
    return slug or "pairs"


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError as exc:  # e.g. a name longer than the OS allows
        raise DataError(f"cannot inspect {path} ({exc.strerror or exc})", "check the path") from exc


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError as exc:
        raise DataError(f"cannot inspect {path} ({exc.strerror or exc})", "check the path") from exc
