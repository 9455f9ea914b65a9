"""Bring-your-own trait directories: pairs-only loading, held-out derivation, content hash, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError
from trait_fixtures import TRAIT_YAML, jsonl

from steerid.errors import DataError
from steerid.traits import (
    Trait,
    clear_cache,
    content_hash_of,
    is_builtin,
    load_trait,
    normalize_text,
    resolve_trait,
)
from steerid.traits.derive import MIN_EXTRACTION, MIN_HELD_OUT, MIN_PAIRS, split_pairs

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "traits" / "enthusiasm"


def pair_rows(n: int, prompt=lambda i: f"Question number {i} about the weather?") -> list[dict]:
    return [
        {"id": f"p{i:03d}", "prompt": prompt(i), "positive": f"Happily yes, number {i}!", "negative": f"Sadly no, number {i}."}
        for i in range(1, n + 1)
    ]


def write_dir(root: Path, pairs: list[dict] | str | None, *, name: str = "demo", yaml_text: str = TRAIT_YAML, **extra: str) -> Path:
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "trait.yaml").write_text(yaml_text, encoding="utf-8")
    if pairs is not None:
        text = pairs if isinstance(pairs, str) else jsonl(pairs)
        (directory / "pairs.jsonl").write_text(text, encoding="utf-8")
    for file_name, content in extra.items():
        (directory / file_name.replace("_", ".", 1)).write_text(content, encoding="utf-8")
    return directory


def prompts(items) -> set[str]:
    return {normalize_text(item.prompt) for item in items if item.prompt}


# --------------------------------------------------------------------------------------------
# loading a pairs-only directory


def test_example_pairs_only_directory_derives_items_from_held_out_pairs() -> None:
    assert sorted(p.name for p in EXAMPLE.iterdir()) == ["pairs.jsonl", "trait.yaml"]
    n_file = sum(1 for line in (EXAMPLE / "pairs.jsonl").read_text(encoding="utf-8").splitlines() if line.strip())
    trait = resolve_trait(str(EXAMPLE), seed=0)
    assert trait.name == "enthusiasm" and trait.seed == 0
    assert len(trait.all_pairs) == n_file == len(trait.pairs) + len(trait.held_out)
    assert len(trait.held_out) >= MIN_HELD_OUT and len(trait.pairs) >= MIN_EXTRACTION
    assert set(trait.derived) == {"likelihood_items", "eval_prompts"}
    assert f"from {len(trait.held_out)} pairs held out" in trait.derived["likelihood_items"]
    assert "seed 0" in trait.derived["likelihood_items"]
    assert "in_distribution" in trait.derived["eval_prompts"]
    # likelihood items are exactly the held-out pairs; eval prompts are their prompts
    assert [(i.prompt, i.positive, i.negative) for i in trait.likelihood] == [
        (p.prompt, p.positive, p.negative) for p in trait.held_out
    ]
    assert prompts(trait.eval) == prompts(trait.held_out)
    assert {item.environment for item in trait.eval} == {"in_distribution"}
    assert trait.counts()["eval_topic_shift"] == 0


@pytest.mark.parametrize("seed", [0, 1, 2, 7, 12345])
def test_held_out_pairs_are_never_extraction_pairs(seed: int) -> None:
    trait = resolve_trait(str(EXAMPLE), seed=seed)
    extraction_ids = {p.id for p in trait.pairs}
    assert extraction_ids.isdisjoint(p.id for p in trait.held_out)
    assert prompts(trait.pairs).isdisjoint(prompts(trait.held_out))
    assert prompts(trait.pairs).isdisjoint(prompts(trait.likelihood))
    assert prompts(trait.pairs).isdisjoint(prompts(trait.eval))


def test_trait_refuses_overlapping_held_out_pairs() -> None:
    trait = resolve_trait(str(EXAMPLE), seed=0)
    with pytest.raises(ValidationError, match="held-out pairs overlap"):
        Trait(info=trait.info, pairs=trait.pairs, held_out=trait.held_out + trait.pairs[:1], source="memory")


def test_split_is_deterministic_seed_dependent_and_order_free(tmp_path: Path) -> None:
    rows = pair_rows(40)
    a = resolve_trait(str(write_dir(tmp_path / "a", rows)), seed=3)
    again = resolve_trait(str(write_dir(tmp_path / "b", rows)), seed=3)
    other = resolve_trait(str(write_dir(tmp_path / "c", rows)), seed=4)
    shuffled = resolve_trait(str(write_dir(tmp_path / "d", rows[::-1])), seed=3)
    ids = lambda t: sorted(p.id for p in t.held_out)  # noqa: E731
    assert ids(a) == ids(again)
    assert ids(a) != ids(other)
    assert ids(a) == ids(shuffled)  # the ranking depends on seed and prompts, not on file order
    assert [p.id for p in a.pairs] == sorted(p.id for p in a.pairs)  # file order kept inside each part


def test_pairs_sharing_a_prompt_stay_on_one_side(tmp_path: Path) -> None:
    rows = pair_rows(30, prompt=lambda i: f"Shared question {i // 2}?")  # pairs of two share a prompt
    for seed in range(5):
        trait = resolve_trait(str(write_dir(tmp_path / str(seed), rows)), seed=seed)
        assert prompts(trait.pairs).isdisjoint(prompts(trait.held_out))
        assert len(trait.eval) == len(prompts(trait.held_out))  # one eval prompt per distinct prompt


def test_only_the_missing_file_is_derived(tmp_path: Path) -> None:
    rows = pair_rows(20)
    evals = jsonl([{"id": "e1", "environment": "topic_shift", "prompt": "Tell me about volcanoes."}])
    lik = jsonl([{"id": "l1", "prompt": "How was it?", "positive": "Lovely.", "negative": "Awful."}])
    only_lik = resolve_trait(str(write_dir(tmp_path / "a", rows, eval_jsonl=evals)), seed=0)
    assert set(only_lik.derived) == {"likelihood_items"}
    assert [e.id for e in only_lik.eval] == ["e1"]
    only_eval = resolve_trait(str(write_dir(tmp_path / "b", rows, likelihood_jsonl=lik)), seed=0)
    assert set(only_eval.derived) == {"eval_prompts"}
    assert [i.id for i in only_eval.likelihood] == ["l1"]
    assert len(only_eval.pairs) + len(only_eval.held_out) == 20 and only_eval.held_out
    full = resolve_trait(str(write_dir(tmp_path / "c", rows, eval_jsonl=evals, likelihood_jsonl=lik)), seed=0)
    assert full.derived == {} and full.held_out == () and full.seed is None and len(full.pairs) == 20


def test_builtin_names_still_resolve_to_the_cached_trait() -> None:
    assert resolve_trait("sentiment", seed=5) is load_trait("sentiment")
    assert load_trait("sentiment").derived == {} and load_trait("sentiment").held_out == ()


# --------------------------------------------------------------------------------------------
# content hash


def test_hash_of_a_full_directory_equals_the_hash_of_its_records(make_trait_dir) -> None:
    trait = load_trait(str(make_trait_dir()))
    in_memory = Trait(info=trait.info, pairs=trait.pairs, eval=trait.eval, likelihood=trait.likelihood, source="x")
    assert trait.files_hash is not None
    assert in_memory.content_hash == trait.content_hash
    parts = {"pairs.jsonl": trait.pairs, "eval.jsonl": trait.eval, "likelihood.jsonl": trait.likelihood}
    assert content_hash_of(trait.info, parts) == trait.content_hash


def test_hash_ignores_formatting_and_seed(tmp_path: Path) -> None:
    rows = pair_rows(16)
    base = resolve_trait(str(write_dir(tmp_path / "a", rows)), seed=0)
    reformatted_pairs = "\n".join(
        json.dumps({"negative": r["negative"] + "  ", "positive": "  " + r["positive"], "prompt": r["prompt"], "id": r["id"]},
                   indent=None, separators=(" , ", " : "))
        for r in rows
    ) + "\n\n\n"
    yaml_text = "# my trait\n" + TRAIT_YAML.replace("name: demo", "name:   demo   # the name")
    reformatted = resolve_trait(str(write_dir(tmp_path / "b", reformatted_pairs, yaml_text=yaml_text)), seed=0)
    other_seed = resolve_trait(str(write_dir(tmp_path / "c", rows)), seed=9)
    assert base.content_hash == reformatted.content_hash == other_seed.content_hash
    assert len(base.content_hash) == 64


@pytest.mark.parametrize("change", ["text", "order", "description", "id", "extra eval file"])
def test_hash_changes_with_content(tmp_path: Path, change: str) -> None:
    rows = pair_rows(16)
    base = resolve_trait(str(write_dir(tmp_path / "a", rows)), seed=0)
    yaml_text, extra = TRAIT_YAML, {}
    changed = [dict(r) for r in rows]
    if change == "text":
        changed[5]["positive"] = changed[5]["positive"].replace("yes", "yes indeed")
    elif change == "order":
        changed[0], changed[1] = changed[1], changed[0]
    elif change == "description":
        yaml_text = TRAIT_YAML.replace("A tiny trait", "A small trait")
    elif change == "id":
        changed[3]["id"] = "renamed"
    else:
        extra = {"eval_jsonl": jsonl([{"id": "e1", "environment": "genre_shift", "prompt": "Write a haiku."}])}
    other = resolve_trait(str(write_dir(tmp_path / "b", changed, yaml_text=yaml_text, **extra)), seed=0)
    assert other.content_hash != base.content_hash


def test_builtin_hash_is_stable_and_a_copy_is_recognised(tmp_path: Path) -> None:
    first = load_trait("formality").content_hash
    clear_cache()
    assert load_trait("formality").content_hash == first
    assert is_builtin(load_trait("formality"))
    copy = tmp_path / "formality"
    shutil.copytree(Path(load_trait("formality").source), copy)
    assert load_trait(str(copy)).content_hash == first and is_builtin(load_trait(str(copy)))
    with (copy / "pairs.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": "extra-1", "prompt": "A brand new question?", "positive": "Certainly.", "negative": "yeah"}) + "\n")
    assert not is_builtin(load_trait(str(copy)))


# --------------------------------------------------------------------------------------------
# bad directories


def one_line(error: DataError, *fragments: str) -> None:
    message = str(error)
    assert "\n" not in message and " — fix: " in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


BAD_DIRS = {
    "missing pairs": (None, ["pairs.jsonl", "file is missing", "trait.yaml and pairs.jsonl"]),
    "empty pairs": ("", ["pairs.jsonl", "file is empty"]),
    "blank-only pairs": ("\n  \n", ["pairs.jsonl", "file is empty"]),
    "malformed line": (jsonl(pair_rows(14))[:-1] + "\n{not json\n", ["pairs.jsonl line 15", "invalid JSON"]),
    "typo in a field": (jsonl(pair_rows(13)).replace('"negative"', '"negatve"', 1), ["line 1", "'negatve'", "did you mean 'negative'"]),
    "too few pairs": (jsonl(pair_rows(MIN_PAIRS - 1)), [f"{MIN_PAIRS - 1} pairs", "too few", "likelihood.jsonl and eval.jsonl", "add pairs"]),
    "one prompt only": (jsonl(pair_rows(20, prompt=lambda i: "The same question?")), ["1 distinct prompts", "too few"]),
    "pair without prompt": (
        jsonl([{k: v for k, v in r.items() if not (k == "prompt" and r["id"] == "p004")} for r in pair_rows(20)]),
        ["pair 4 has no prompt", "give every pair a \"prompt\""],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_DIRS))
def test_bad_directories_raise_one_line_data_errors(tmp_path: Path, case: str) -> None:
    pairs, fragments = BAD_DIRS[case]
    directory = write_dir(tmp_path / "x", pairs)
    with pytest.raises(DataError) as info:
        resolve_trait(str(directory), seed=0)
    one_line(info.value, str(directory), *fragments)


def test_split_refuses_too_few_pairs_directly() -> None:
    trait = resolve_trait(str(EXAMPLE), seed=0)
    with pytest.raises(DataError, match="too few"):
        split_pairs(trait.all_pairs[: MIN_PAIRS - 1], seed=0)
    extraction, held = split_pairs(trait.all_pairs[:MIN_PAIRS], seed=0)
    assert len(held) >= MIN_HELD_OUT and len(extraction) >= MIN_EXTRACTION


def test_provenance_record_is_json_and_names_the_split() -> None:
    trait = resolve_trait(str(EXAMPLE), seed=4)
    record = json.loads(json.dumps(trait.provenance()))
    assert record["content_hash"] == trait.content_hash and record["seed"] == 4
    assert record["derived"] == trait.derived
    assert record["held_out_ids"] == [p.id for p in trait.held_out]
    assert record["counts"]["pairs"] == len(trait.pairs)
    builtin = load_trait("politeness").provenance()
    assert builtin["seed"] is None and builtin["derived"] == {} and builtin["held_out_ids"] == []
