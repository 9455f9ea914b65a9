"""Loader: user directories, pairs files, caching, and one-line DataErrors for bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from trait_fixtures import TRAIT_YAML, default_files, jsonl
from pydantic import ValidationError

from steerid.errors import DataError
from steerid.traits import (
    ContrastivePair,
    Trait,
    list_traits,
    load_pairs_file,
    load_trait,
    load_trait_dir,
)

GOOD_PAIR = '{"prompt": "How was it?", "positive": "Lovely.", "negative": "Dreadful."}\n'


def pair_line(i: int) -> str:
    return json.dumps({"prompt": f"Question {i}?", "positive": f"Good {i}.", "negative": f"Bad {i}."}) + "\n"


# --------------------------------------------------------------------------------------------
# happy paths


def test_list_traits_sorted_and_has_mine() -> None:
    names = list_traits()
    assert names == sorted(names)
    assert {"formality", "sentiment"} <= set(names)


def test_builtin_is_cached_and_frozen() -> None:
    first = load_trait("sentiment")
    assert load_trait("sentiment") is first
    assert isinstance(first.pairs, tuple)
    with pytest.raises(ValidationError):
        first.pairs[0].positive = "changed"  # type: ignore[misc]


def test_user_directory_loads_and_is_not_cached(make_trait_dir) -> None:
    directory = make_trait_dir()
    trait = load_trait(str(directory))
    assert isinstance(trait, Trait)
    assert trait.name == "demo"
    assert trait.source == str(directory)
    assert trait.counts() == {
        "pairs": 3,
        "likelihood": 2,
        "eval": 3,
        "eval_in_distribution": 1,
        "eval_topic_shift": 1,
        "eval_genre_shift": 1,
    }
    assert [item.id for item in trait.eval_prompts("topic_shift")] == ["demo-eval-002"]
    assert len(trait.eval_prompts()) == 3
    (directory / "pairs.jsonl").write_text(GOOD_PAIR.replace('"prompt"', '"id": "x", "prompt"'), encoding="utf-8")
    assert load_trait_dir(directory).counts()["pairs"] == 1


def test_strings_are_stripped(make_trait_dir) -> None:
    pairs = '{"id": " p1 ", "prompt": "  Hi?  ", "positive": " Yes.\\n", "negative": "\\tNo. "}\n'
    pair = load_trait(str(make_trait_dir(pairs_jsonl=pairs))).pairs[0]
    assert (pair.id, pair.prompt, pair.positive, pair.negative) == ("p1", "Hi?", "Yes.", "No.")


def test_pairs_file_with_and_without_prompt(tmp_path: Path) -> None:
    path = tmp_path / "My Pairs.jsonl"
    path.write_text(
        "\ufeff" + GOOD_PAIR + "\n   \n" + '{"positive": "Great.", "negative": "Terrible.", "id": "own-id"}\n',
        encoding="utf-8",
    )
    pairs = load_pairs_file(path)
    assert [p.id for p in pairs] == ["my-pairs-pair-001", "own-id"]
    assert pairs[0].prompt == "How was it?"
    assert pairs[1].prompt is None
    assert all(isinstance(p, ContrastivePair) for p in pairs)
    trait = load_trait(str(path))
    assert trait.name == "my-pairs"
    assert trait.counts()["pairs"] == 2 and trait.eval == () and trait.likelihood == ()
    assert trait.source == str(path)


def test_same_prompt_with_different_replies_is_allowed_in_pairs_file(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        GOOD_PAIR + '{"prompt": "How was it?", "positive": "Wonderful.", "negative": "Awful."}\n', encoding="utf-8"
    )
    assert len(load_pairs_file(path)) == 2


def test_eval_prompts_unknown_environment(make_trait_dir) -> None:
    trait = load_trait_dir(make_trait_dir())
    with pytest.raises(DataError, match="unknown evaluation environment 'nowhere'"):
        trait.eval_prompts("nowhere")


# --------------------------------------------------------------------------------------------
# error table: user pairs file (the CLI's --pairs FILE)

PAIRS_FILE_CASES = {
    "empty file": (b"", ["file is empty"]),
    "only blank lines": (b"\n  \n\n", ["file is empty"]),
    "bad JSON on line 3": ((pair_line(1) + pair_line(2) + '{"prompt": "x", "positive": \n').encode(), ["line 3", "invalid JSON"]),
    "missing field": ((pair_line(1) + '{"prompt": "q", "positive": "p"}\n').encode(), ["line 2", "'negative'", "missing"]),
    "empty field": ((pair_line(1) + '{"prompt": "q", "positive": "  ", "negative": "n"}\n').encode(), ["line 2", "'positive'", "empty"]),
    "wrong type": ('{"prompt": "q", "positive": 3, "negative": "n"}\n'.encode(), ["line 1", "'positive'", "string"]),
    "unknown field": ('{"prompt": "q", "positive": "p", "negatve": "n"}\n'.encode(), ["line 1", "'negatve'"]),
    "non-UTF-8 bytes": (pair_line(1).encode() + b'{"prompt": "caf\xe9", "positive": "p", "negative": "n"}\n', ["line 2", "UTF-8"]),
    "duplicate line": ((pair_line(1) + pair_line(2) + pair_line(1)).encode(), ["line 3", "line 1", "duplicate"]),
    "near duplicate line": (
        (GOOD_PAIR + '{"prompt": "how was it", "positive": "LOVELY", "negative": "dreadful!"}\n').encode(),
        ["line 2", "line 1", "duplicate"],
    ),
    "duplicate id": (
        b'{"id": "a", "positive": "p", "negative": "n"}\n{"id": "a", "positive": "q", "negative": "m"}\n',
        ["line 2", "line 1", "'a'"],
    ),
    "not an object": ((pair_line(1) + '["q", "p", "n"]\n').encode(), ["line 2", "JSON object"]),
    "repeated key": ('{"positive": "p", "positive": "q", "negative": "n"}\n'.encode(), ["line 1", "'positive'", "twice"]),
    "identical texts": ('{"positive": "Same.", "negative": "same"}\n'.encode(), ["line 1", "same text"]),
}


def assert_one_line(error: DataError, *fragments: str) -> None:
    message = str(error)
    assert "\n" not in message and "\r" not in message
    assert "fix:" in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


@pytest.mark.parametrize("case", sorted(PAIRS_FILE_CASES))
def test_pairs_file_errors(tmp_path: Path, case: str) -> None:
    content, fragments = PAIRS_FILE_CASES[case]
    path = tmp_path / "user_pairs.jsonl"
    path.write_bytes(content)
    for load in (load_pairs_file, load_trait):
        with pytest.raises(DataError) as info:
            load(str(path))
        assert_one_line(info.value, "user_pairs.jsonl", *fragments)


def test_missing_pairs_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_pairs_file(tmp_path / "absent.jsonl")
    assert_one_line(info.value, "absent.jsonl", "missing")
    with pytest.raises(DataError) as info:
        load_trait(str(tmp_path / "absent.jsonl"))
    assert_one_line(info.value, "absent.jsonl", "no such")


def test_pairs_file_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_pairs_file(tmp_path)
    assert_one_line(info.value, str(tmp_path), "directory")


@pytest.mark.parametrize("name", ["sentimint", "Sentiment", "politness"])
def test_unknown_trait_lists_known_ones(name: str) -> None:
    with pytest.raises(DataError) as info:
        load_trait(name)
    assert_one_line(info.value, f"unknown trait '{name}'", "sentiment", "formality")


def test_empty_trait_name() -> None:
    with pytest.raises(DataError) as info:
        load_trait("  ")
    assert_one_line(info.value, "empty name", "sentiment")


# --------------------------------------------------------------------------------------------
# error table: trait directories

EVAL_OK = default_files()["eval.jsonl"]
PAIRS_OK = default_files()["pairs.jsonl"]

DIR_CASES = {
    # a missing eval.jsonl is derived from held-out pairs; the demo's 3 pairs are too few for that
    "missing eval file": ({"eval_jsonl": None}, ["pairs.jsonl", "3 pairs", "too few", "eval.jsonl", "need at least 12"]),
    "missing pairs file": ({"pairs_jsonl": None}, ["pairs.jsonl", "file is missing", "trait.yaml and pairs.jsonl"]),
    "missing yaml": ({"trait_yaml": None}, ["trait.yaml", "missing"]),
    "empty likelihood": ({"likelihood_jsonl": ""}, ["likelihood.jsonl", "empty"]),
    "empty yaml": ({"trait_yaml": "\n"}, ["trait.yaml", "empty"]),
    "bad yaml": ({"trait_yaml": "name: demo\ndescription: [unclosed\n"}, ["trait.yaml", "line", "YAML"]),
    "yaml not a mapping": ({"trait_yaml": "- a\n- b\n"}, ["trait.yaml", "mapping"]),
    "yaml missing field": ({"trait_yaml": TRAIT_YAML.replace("negative_label: down\n", "")}, ["trait.yaml", "'negative_label'", "missing"]),
    "yaml unknown field": ({"trait_yaml": TRAIT_YAML + "colour: red\n"}, ["trait.yaml", "'colour'"]),
    "yaml bad name": ({"trait_yaml": TRAIT_YAML.replace("name: demo", "name: My Trait")}, ["trait.yaml", "'name'"]),
    "yaml same labels": ({"trait_yaml": TRAIT_YAML.replace("negative_label: down", "negative_label: UP")}, ["trait.yaml", "same"]),
    "newer schema": ({"trait_yaml": TRAIT_YAML.replace("schema_version: 1", "schema_version: 2")}, ["trait.yaml", "newer", "upgrade"]),
    "wrong schema": ({"trait_yaml": TRAIT_YAML.replace("schema_version: 1", "schema_version: 0")}, ["trait.yaml", "'schema_version'"]),
    "bad environment": (
        {"eval_jsonl": EVAL_OK.replace('"topic_shift"', '"topic-shift"')},
        ["eval.jsonl", "line 2", "'environment'", "in_distribution"],
    ),
    "eval unknown field": (
        {"eval_jsonl": EVAL_OK.replace('"prompt": "Tell me about glaciers."', '"prompt": "Tell me about glaciers.", "label": 1')},
        ["eval.jsonl", "line 2", "'label'"],
    ),
    "correct without incorrect": (
        {"eval_jsonl": EVAL_OK.replace('"prompt": "Tell me about glaciers."', '"prompt": "Tell me about glaciers.", "correct": "Ice."')},
        ["eval.jsonl", "line 2", "'correct'", "'incorrect'"],
    ),
    "duplicate eval prompt": (
        {"eval_jsonl": EVAL_OK + jsonl([{"id": "demo-eval-004", "environment": "genre_shift", "prompt": "tell me ABOUT glaciers!"}])},
        ["eval.jsonl", "line 4", "line 2", "duplicate"],
    ),
    "duplicate eval id": (
        {"eval_jsonl": EVAL_OK + jsonl([{"id": "demo-eval-001", "environment": "genre_shift", "prompt": "Write a limerick."}])},
        ["eval.jsonl", "line 4", "line 1", "demo-eval-001"],
    ),
    "eval overlaps pairs": (
        {"eval_jsonl": EVAL_OK + jsonl([{"id": "demo-eval-004", "environment": "topic_shift", "prompt": "pair question number 2"}])},
        ["eval.jsonl line 4", "pairs.jsonl line 2"],
    ),
    "duplicate likelihood line": (
        {"likelihood_jsonl": default_files()["likelihood.jsonl"] + jsonl([{"id": "demo-lik-003", "prompt": "How was it?", "positive": "Lovely.", "negative": "Awful."}])},
        ["likelihood.jsonl", "line 3", "line 1"],
    ),
    "pairs bad JSON line 3": ({"pairs_jsonl": PAIRS_OK.rsplit("\n", 2)[0] + "\n{oops}\n"}, ["pairs.jsonl", "line 3", "invalid JSON"]),
    # an id is optional (derived from the content: tests/traits/test_trait_ids_optional.py); a text is not
    "pairs missing negative": ({"pairs_jsonl": '{"prompt": "How was it?", "positive": "Lovely."}\n'},
                               ["pairs.jsonl", "line 1", "'negative'", "missing"]),
    "eval non-UTF-8": ({"eval_jsonl": EVAL_OK.encode() + b'{"id": "e", "environment": "topic_shift", "prompt": "\xff"}\n'}, ["eval.jsonl", "line 4", "UTF-8"]),
}


@pytest.mark.parametrize("case", sorted(DIR_CASES))
def test_directory_errors(make_trait_dir, case: str) -> None:
    overrides, fragments = DIR_CASES[case]
    directory = make_trait_dir(**overrides)
    with pytest.raises(DataError) as info:
        load_trait(str(directory))
    assert_one_line(info.value, str(directory), *fragments)


def test_every_error_names_file_and_line_format(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(pair_line(1) * 1 + "\n" + '{"prompt": "q", "positive": "p"}\n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_pairs_file(path)
    # blank line 2 is skipped but still counted: the bad record is on line 3
    assert re.match(rf"^{re.escape(str(path))} line 3: field 'negative' is missing — fix: ", str(info.value))


def test_nonexistent_path_vs_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such trait file or directory"):
        load_trait(str(tmp_path / "nope"))
    with pytest.raises(DataError, match="not a directory"):
        load_trait_dir(tmp_path / "nope")
