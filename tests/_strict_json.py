"""Strict JSON (RFC 8259) checks: what a browser's ``JSON.parse`` or Node would accept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _reject(constant: str) -> Any:
    raise ValueError(f"non-standard JSON constant {constant}")


def strict_loads(text: str) -> Any:
    """``json.loads`` that refuses ``NaN``, ``Infinity`` and ``-Infinity`` (Python accepts them)."""
    return json.loads(text, parse_constant=_reject)


def steerid_results_files(root: Path) -> list[Path]:
    """``results.json`` files under ``root`` written by steerid in schema 2 or later.

    Files that are not JSON at all (torn on purpose by the reliability tests) or of schema 1 (the
    older-format tests) are not steerid's current output and are left out.
    """
    found = []
    for path in sorted(Path(root).rglob("results.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError, OSError):
            continue
        version = data.get("schema_version") if isinstance(data, dict) else None
        if isinstance(version, int) and version >= 2 and "steerid_version" in data and "units" in data:
            found.append(path)
    return found


def non_strict_files(root: Path) -> list[str]:
    """``path: reason`` for each of :func:`steerid_results_files` that a strict parser refuses."""
    bad = []
    for path in steerid_results_files(root):
        try:
            strict_loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            bad.append(f"{path}: {exc}")
    return bad
