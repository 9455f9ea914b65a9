"""A trait directory written exactly as the README shows it (``pairs.jsonl`` lines without ``id``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trait_fixtures import TRAIT_YAML, jsonl

from steerid.errors import DataError
from steerid.traits import load_trait
from steerid.traits.derive import MIN_PAIRS


def readme_rows(n: int) -> list[dict]:
    """``{"prompt", "positive", "negative"}`` lines, the format the README documents."""
    return [
        {"prompt": f"Question {i} about the weekend?", "positive": f"Wonderful, truly {i}!", "negative": f"Dull, sadly {i}."}
        for i in range(n)
    ]


def write(root: Path, rows: list[dict], **extra: str) -> Path:
    directory = root / "demo"
    directory.mkdir(exist_ok=True)
    (directory / "trait.yaml").write_text(TRAIT_YAML, encoding="utf-8")
    (directory / "pairs.jsonl").write_text(jsonl(rows), encoding="utf-8")
    for name, text in extra.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_pairs_without_id_load_with_stable_content_ids(tmp_path: Path) -> None:
    rows = readme_rows(MIN_PAIRS + 2)
    trait = load_trait(write(tmp_path, rows), seed=0)
    ids = [pair.id for pair in trait.all_pairs]
    assert len(set(ids)) == len(rows) and all(i.startswith("pair-") for i in ids)
    # the same content in another order gets the same ids (not line numbers)
    again = load_trait(write(tmp_path, list(reversed(rows))), seed=0)
    by_text = {p.positive: p.id for p in trait.all_pairs}
    assert {p.positive: p.id for p in again.all_pairs} == by_text


def test_explicit_ids_are_kept_and_mixed_files_work(tmp_path: Path) -> None:
    rows = readme_rows(MIN_PAIRS)
    rows[0] = {"id": "mine", **rows[0]}
    trait = load_trait(write(tmp_path, rows), seed=0)
    assert "mine" in {pair.id for pair in trait.all_pairs}


def test_eval_and_likelihood_ids_optional_too(tmp_path: Path) -> None:
    rows = readme_rows(MIN_PAIRS)
    evals = jsonl([{"environment": "in_distribution", "prompt": f"Tell me about topic {i}."} for i in range(3)])
    lik = jsonl([{"prompt": f"Say {i}:", "positive": "great", "negative": "awful"} for i in range(3)])
    trait = load_trait(write(tmp_path, rows, **{"eval.jsonl": evals, "likelihood.jsonl": lik}), seed=0)
    assert len({item.id for item in trait.eval}) == 3 and len({item.id for item in trait.likelihood}) == 3


def test_identical_lines_without_id_are_reported_as_duplicates_not_id_clash(tmp_path: Path) -> None:
    rows = readme_rows(MIN_PAIRS)
    rows.append(dict(rows[1]))
    with pytest.raises(DataError, match=r"line \d+: duplicate of line 2") as info:
        load_trait(write(tmp_path, rows), seed=0)
    assert "already used" not in str(info.value)


def test_missing_field_fix_lists_id_as_optional(tmp_path: Path) -> None:
    rows = readme_rows(MIN_PAIRS)
    del rows[0]["negative"]
    with pytest.raises(DataError) as info:
        load_trait(write(tmp_path, rows), seed=0)
    message = str(info.value)
    assert "field 'negative' is missing" in message and "with positive, negative (optional: id, prompt)" in message


def test_readme_trait_format_loads_as_written(tmp_path: Path) -> None:
    """The README's documented line (``{"prompt", "positive", "negative"}``) is all a pair needs."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert '`{"prompt", "positive", "negative"}` pair per line' in readme
    trait = load_trait(write(tmp_path, readme_rows(MIN_PAIRS)), seed=0)
    assert len(trait.all_pairs) == MIN_PAIRS
