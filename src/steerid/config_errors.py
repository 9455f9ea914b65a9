"""One-line messages for pydantic validation errors, with "did you mean" suggestions.

Both user-written file kinds steerid validates with pydantic — audit configs (YAML, nested
sections) and trait data (``trait.yaml``, JSONL records) — report the *first telling* problem
of a :class:`pydantic.ValidationError` as one clause that names the key, and, for an unknown
key, the closest valid one (``difflib`` ratio ≥ 0.6, the stdlib default)::

    >>> from pydantic import BaseModel, ConfigDict, ValidationError
    >>> class M(BaseModel):
    ...     model_config = ConfigDict(extra="forbid")
    ...     negative: str
    >>> try:
    ...     M.model_validate({"negatve": "x"})
    ... except ValidationError as exc:
    ...     print(describe_record_error(exc, M))
    unknown field 'negatve' (did you mean 'negative'?) (and 1 more problem on this line)

An unknown key is reported before a missing one: ``negatve`` is usually *why* ``negative`` is
missing, and naming the typo is the useful fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError


def closest(name: str, options: Iterable[str]) -> str | None:
    """The option most similar to ``name`` (``difflib`` cutoff 0.6), or None."""
    matches = difflib.get_close_matches(str(name), list(options), n=1)
    return matches[0] if matches else None


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` (trailing space, to prefix a fix) or ``""`` when nothing is close."""
    match = closest(name, options)
    return f"did you mean '{match}'? " if match else ""


def section_model(root: type[BaseModel], loc: tuple) -> type[BaseModel]:
    """The (nested) model that owns the last key of ``loc`` (``("e1", "n_prompt")`` → ``E1Settings``)."""
    model = root
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None) if field else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            break
    return model


def _ordered(exc: ValidationError) -> list[dict[str, Any]]:
    return sorted(exc.errors(), key=lambda err: err["type"] != "extra_forbidden")


def json_type(value: Any) -> str:
    """How a JSON reader would name ``value``'s type (``an array``, ``a string``...)."""
    return {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "null"
    )


def short(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_config_error(exc: ValidationError, root: type[BaseModel], where: str,
                        fix_hint: str = "see steerid/profiles/*.yaml for examples") -> tuple[str, str]:
    """``(problem, fix)`` for a config mapping validated against ``root`` (audit-config style).

    Unknown key → ``"<where>: unknown key 'a.b'"`` / ``"did you mean 'x'? valid keys here: ..."``;
    anything else → ``"<where>: invalid value for 'a.b': <message> (got <input>)"`` /
    ``"fix 'a.b' (<fix_hint>)"``.
    """
    error = exc.errors()[0]
    loc = tuple(error.get("loc", ()))
    key = ".".join(str(p) for p in loc) or "config"
    if error.get("type") == "extra_forbidden":
        valid = list(section_model(root, loc).model_fields)
        return f"{where}: unknown key '{key}'", f"{did_you_mean(str(loc[-1]), valid)}valid keys here: {', '.join(valid)}"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    got = error.get("input")
    shown = "" if isinstance(got, (dict, list)) and len(str(got)) > 60 else f" (got {got!r})"
    return f"{where}: invalid value for '{key}': {message}{shown}", f"fix '{key}' ({fix_hint})"


def moved_key_error(data: Any, moved: dict[str, str], where: str) -> tuple[str, str] | None:
    """``(problem, fix)`` when ``data`` uses a key that moved (``moved``: old dotted key → new), else None.

    >>> moved_key_error({"margin_dz": 0.4}, {"margin_dz": "equivalence.margin_dz"}, "config")
    ("config: key 'margin_dz' has moved", "did you mean 'equivalence.margin_dz'? (write it there)")
    """
    if not isinstance(data, dict):
        return None
    for old, new in moved.items():
        node: Any = data
        for part in old.split("."):
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            return f"{where}: key '{old}' has moved", f"did you mean '{new}'? (write it there)"
    return None


def describe_record_error(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    """One clause for the most telling problem of one data record (trait-file style), naming the field."""
    errors = _ordered(exc)
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"])
    kind = first["type"]
    value = first.get("input")
    if kind == "missing":
        text = f"field '{field}' is missing"
    elif kind == "extra_forbidden":
        text = f"unknown field '{field}'"
        match = closest(field, list(model.model_fields) if model is not None else [])
        if match:
            text += f" (did you mean '{match}'?)"
    elif kind == "string_too_short":
        text = f"field '{field}' is empty"
    elif kind == "string_type":
        text = f"field '{field}' must be a string, got {json_type(value)}"
    elif kind == "string_pattern_mismatch":
        text = f"field '{field}' must use lowercase letters, digits, '-' or '_' (got {short(value)})"
    elif kind == "literal_error":
        expected = first.get("ctx", {}).get("expected", "")
        text = f"field '{field}' must be {expected} (got {short(value)})"
    elif not field:
        text = str(first["msg"]).removeprefix("Value error, ")
    else:
        text = f"field '{field}': {first['msg']}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''} on this line)"
    return text
