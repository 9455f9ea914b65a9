"""Helpers that write small user trait directories for the trait tests.

A module name of its own (not conftest) so that importing it never picks up another conftest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TRAIT_YAML = """name: demo
description: A tiny trait used by the tests.
positive_label: up
negative_label: down
schema_version: 1
"""


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def default_files() -> dict[str, str]:
    pairs = [
        {"id": f"demo-pair-{i:03d}", "prompt": f"Pair question number {i}?", "positive": f"Up {i}.", "negative": f"Down {i}."}
        for i in range(1, 4)
    ]
    evals = [
        {"id": "demo-eval-001", "environment": "in_distribution", "prompt": "Tell me about the harbour."},
        {"id": "demo-eval-002", "environment": "topic_shift", "prompt": "Tell me about glaciers."},
        {"id": "demo-eval-003", "environment": "genre_shift", "prompt": "Write a postcard from the hills."},
    ]
    likelihood = [
        {"id": "demo-lik-001", "prompt": "How was it?", "positive": "Lovely.", "negative": "Awful."},
        {"id": "demo-lik-002", "prompt": "How is it going?", "positive": "Very well.", "negative": "Very badly."},
    ]
    return {
        "trait.yaml": TRAIT_YAML,
        "pairs.jsonl": jsonl(pairs),
        "eval.jsonl": jsonl(evals),
        "likelihood.jsonl": jsonl(likelihood),
    }


@pytest.fixture
def make_trait_dir(tmp_path: Path) -> Callable[..., Path]:
    """Write a valid demo trait directory; keyword arguments replace whole files (str/bytes) or drop them (None)."""

    def make(**overrides: str | bytes | None) -> Path:
        directory = tmp_path / "demo"
        directory.mkdir(exist_ok=True)
        files: dict[str, str | bytes | None] = dict(default_files())
        files.update({name.replace("_", ".", 1): value for name, value in overrides.items()})
        for name, content in files.items():
            target = directory / name
            if content is None:
                target.unlink(missing_ok=True)
            elif isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        return directory

    return make
