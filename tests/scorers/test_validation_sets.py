"""The independent validation sets: shipped as package data, well-formed, never trained on."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from pathlib import Path

import pytest

from steerid.errors import DataError
from steerid.scorers.base import DATA_DIR, PACKAGE_DIR, VALIDATION_DIR
from steerid.scorers.labelled import load_labelled, load_validation
from steerid.scorers.specs import SPECS

ROOT = Path(__file__).resolve().parents[2]
TRAITS = ("sentiment", "formality", "politeness", "agreeableness", "truthfulness")
REGISTERS = {"chat_reply", "email", "forum_post", "review", "story", "instruction", "short_answer", "hedged", "mixed"}


def _norm(text):
    return " ".join(text.lower().split())


def test_every_scorer_has_an_independent_set():
    assert {spec.validation for spec in SPECS.values()} == set(TRAITS)
    for trait in TRAITS:
        assert (VALIDATION_DIR / f"{trait}.jsonl").is_file()


def test_validation_files_are_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]["steerid"]
    src = PACKAGE_DIR.parent.parent  # .../src/steerid/scorers -> .../src
    for trait in TRAITS:
        rel = (VALIDATION_DIR / f"{trait}.jsonl").relative_to(src / "steerid").as_posix()
        assert any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel, p.replace("**/", "")) for p in patterns), rel


@pytest.mark.parametrize("trait", TRAITS)
def test_validation_sets_load_balanced_across_registers(trait):
    data = load_validation(trait)
    labels = [ex.label for ex in data.examples]
    assert len(labels) >= 100 and abs(sum(labels) / len(labels) - 0.5) < 0.05
    registers = {tag.removeprefix("register:") for ex in data.examples for tag in ex.tags}
    assert len(registers & REGISTERS) >= 8
    assert all(ex.split == "validation" for ex in data.examples)
    if trait == "agreeableness":
        assert all(ex.extra.get("opinion") for ex in data.examples)
    if trait == "truthfulness":
        assert all(ex.extra.get("correct") and ex.extra.get("incorrect") for ex in data.examples)


@pytest.mark.parametrize("trait", TRAITS[:4])
def test_no_validation_text_is_in_the_training_split(trait):
    val = {_norm(ex.text) for ex in load_validation(trait).examples}
    train = {_norm(ex.text) for ex in load_labelled(trait).train}
    shared = len(val & train)
    assert shared == 0, f"{shared} training text(s) equal a validation text"  # count only: never print them


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "no examples"),
        ("{bad\n", "not valid JSON"),
        ('{"text": "a", "label": 1, "register": "email"}\n', "'id'"),
        ('{"id": "x", "text": "a", "label": 3, "register": "email"}\n', "label"),
        ('{"id": "x", "text": "a", "label": 1}\n', "register"),
        ('{"id": "x", "text": "a", "label": 1, "register": "e"}\n{"id": "x", "text": "b", "label": 0, "register": "e"}\n',
         "repeats the id"),
        ('{"id": "x", "text": "a", "label": 1, "register": "e"}\n', "both labels"),
    ],
)
def test_bad_validation_files_raise_data_error(tmp_path, content, match):
    (tmp_path / "x.jsonl").write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        load_validation("x", tmp_path)


def test_missing_validation_file(tmp_path):
    with pytest.raises(DataError, match="no validation set"):
        load_validation("sentiment", tmp_path)


def test_agreeableness_training_lines_with_opinions_share_a_split_per_reply():
    data = load_labelled("agreeableness")
    with_opinion = [ex for ex in data.examples if ex.extra.get("opinion")]
    assert len(with_opinion) >= 300
    splits: dict[str, set[str]] = {}
    for ex in data.examples:
        splits.setdefault(_norm(ex.text), set()).add(ex.split)
    assert all(len(s) == 1 for s in splits.values())
    # the same reply under opposite opinions carries opposite labels
    flipped = [ex for ex in with_opinion if "hard:flipped_opinion" in ex.tags]
    assert flipped
    by_text = {}
    for ex in with_opinion:
        by_text.setdefault(_norm(ex.text), []).append(ex)
    for ex in flipped:
        labels = {e.label for e in by_text[_norm(ex.text)]}
        assert labels == {0, 1}


def test_a_reply_may_repeat_under_another_opinion_but_not_under_the_same(tmp_path):
    line = lambda op, label: json.dumps({"text": "Milk makes it better.", "label": label, "split": "train", "opinion": op})  # noqa: E731
    rest = ['{"text": "x", "label": 1, "split": "test"}', '{"text": "y", "label": 0, "split": "test"}']
    (tmp_path / "a.jsonl").write_text("\n".join([line("Coffee is best black.", 0), line("Coffee is best with milk.", 1),
                                                '{"text": "z", "label": 1, "split": "train"}', *rest]) + "\n", encoding="utf-8")
    assert len(load_labelled("a", tmp_path).examples) == 5
    (tmp_path / "b.jsonl").write_text("\n".join([line("Coffee is best black.", 0), line("coffee is  best black.", 1), *rest]) + "\n",
                                      encoding="utf-8")
    with pytest.raises(DataError, match="repeats"):
        load_labelled("b", tmp_path)
    assert DATA_DIR.is_dir()
