"""Read trait files: text (UTF-8, BOM tolerated), ``trait.yaml`` and JSON Lines records.

Every problem raises :class:`~steerid.errors.DataError` with one line naming the file, the line
number and the field where they apply (validation clauses come from
:func:`steerid.config_errors.describe_record_error`, which adds "did you mean" suggestions),
plus a fix. Used by :mod:`steerid.traits.loader`; not part of the public API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from steerid.config_errors import describe_record_error as _describe
from steerid.config_errors import json_type as _json_type
from steerid.errors import DataError
from steerid.traits.schema import SCHEMA_VERSION, TraitInfo

_Model = TypeVar("_Model", bound=BaseModel)


def read_info(resource: Traversable | Path, display: str) -> TraitInfo:
    text = read_text(resource, display)
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


def read_text(resource: Traversable | Path, display: str) -> str:
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


def read_jsonl(
    resource: Traversable | Path,
    display: str,
    model: type[_Model],
    prepare: Callable[[dict[str, Any], int], dict[str, Any]] | None = None,
    fix: str | None = None,
) -> list[tuple[int, _Model]]:
    """Parse and validate one record per non-blank line; returns ``(line number, record)``."""
    text = read_text(resource, display)
    fix = fix or _fields_fix(model, derived_id=prepare is not None)
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


def _fields_fix(model: type[BaseModel], derived_id: bool = False) -> str:
    """The fix listing a record's fields; ``derived_id``: ``id`` is optional (filled in by ``prepare``)."""

    def optional_field(name: str) -> bool:
        return not model.model_fields[name].is_required() or (derived_id and name == "id")

    required = [name for name in model.model_fields if not optional_field(name)]
    optional = [name for name in model.model_fields if optional_field(name)]
    fix = "each line needs a JSON object with " + ", ".join(required)
    return fix + (f" (optional: {', '.join(optional)})" if optional else "")
