"""Schema records, duplicate normalisation and the prompt-set hashes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from steerid.errors import DataError
from steerid.io import sha256_texts
from steerid.traits import (
    ContrastivePair,
    EvalPrompt,
    LikelihoodItem,
    Trait,
    TraitInfo,
    hash_pairs,
    load_trait,
    load_trait_dir,
    normalize_text,
)

INFO = TraitInfo(name="demo", description="d", positive_label="up", negative_label="down", schema_version=1)


def make_pairs(n: int) -> tuple[ContrastivePair, ...]:
    return tuple(
        ContrastivePair(id=f"p{i}", prompt=f"Question {i}?", positive=f"Up {i}.", negative=f"Down {i}.") for i in range(n)
    )


def test_records_forbid_extra_and_empty() -> None:
    with pytest.raises(ValidationError):
        ContrastivePair(id="a", prompt="q", positive="p", negative="n", label=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ContrastivePair(id="a", prompt="   ", positive="p", negative="n")
    with pytest.raises(ValidationError):
        EvalPrompt(id="e", environment="elsewhere", prompt="q")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        LikelihoodItem(id="l", prompt="q", positive="Same", negative="same.")
    with pytest.raises(ValidationError):
        EvalPrompt(id="e", environment="topic_shift", prompt="q", incorrect="no")
    with pytest.raises(ValidationError):
        TraitInfo(name="demo", description="d", positive_label="a", negative_label="b", schema_version=2)  # type: ignore[arg-type]


def test_eval_optional_fields() -> None:
    item = EvalPrompt(id="e", environment="in_distribution", prompt="Capital of France?", correct="Paris", incorrect="Lyon")
    assert item.opinion is None and item.correct == "Paris"
    opinion = EvalPrompt(id="o", environment="genre_shift", prompt="I think tea beats coffee.", opinion="tea beats coffee")
    assert opinion.correct is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Tell me about Mondays.", "tell me about mondays"),
        ("  Hello,   world! ", "hello world"),
        ("Café — “quoted”", "café quoted"),
        ("ＦＵＬＬ width", "full width"),
    ],
)
def test_normalize_text(a: str, b: str) -> None:
    assert normalize_text(a) == normalize_text(b)


@settings(max_examples=50, deadline=None)
@given(st.text())
def test_normalize_text_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


def test_prompts_hash_matches_independent_computation() -> None:
    pairs = make_pairs(3)
    expected = sha256_texts([t for p in pairs for t in (p.prompt or "", p.positive, p.negative)])
    trait = Trait(info=INFO, pairs=pairs, source="memory")
    assert trait.prompts_hash("pairs") == expected == hash_pairs(pairs)
    assert len(trait.prompts_hash()) == 64


def test_prompts_hash_stable_and_order_sensitive() -> None:
    pairs = make_pairs(4)
    trait = Trait(info=INFO, pairs=pairs, source="memory")
    same = Trait(info=INFO, pairs=make_pairs(4), source="elsewhere")
    assert trait.prompts_hash() == same.prompts_hash() == trait.prompts_hash()
    reordered = Trait(info=INFO, pairs=pairs[::-1], source="memory")
    assert reordered.prompts_hash() != trait.prompts_hash()
    assert reordered.prompts_hash("pairs") != trait.prompts_hash("pairs")
    # moving text between fields changes the hash too
    swapped = Trait(
        info=INFO,
        pairs=tuple(p.model_copy(update={"positive": p.negative, "negative": p.positive}) for p in pairs),
        source="memory",
    )
    assert swapped.prompts_hash("pairs") != trait.prompts_hash("pairs")
    # a prompt-less pair hashes differently from one with a prompt
    bare = Trait(info=INFO, pairs=tuple(p.model_copy(update={"prompt": None}) for p in pairs), source="memory")
    assert bare.prompts_hash("pairs") != trait.prompts_hash("pairs")


def test_prompts_hash_parts_are_independent() -> None:
    base = Trait(info=INFO, pairs=make_pairs(2), source="memory")
    with_eval = base.model_copy(update={"eval": (EvalPrompt(id="e", environment="topic_shift", prompt="Tell me about ice."),)})
    assert with_eval.prompts_hash("pairs") == base.prompts_hash("pairs")
    assert with_eval.prompts_hash("eval") != base.prompts_hash("eval")
    assert with_eval.prompts_hash() != base.prompts_hash()
    with pytest.raises(DataError):
        base.prompts_hash("everything")  # type: ignore[arg-type]


def test_builtin_hash_survives_copy_and_source(tmp_path: Path) -> None:
    builtin = load_trait("sentiment")
    copy = Path(shutil.copytree(builtin.source, tmp_path / "sentiment"))
    assert load_trait_dir(copy).prompts_hash() == builtin.prompts_hash()
    lines = (copy / "pairs.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (copy / "pairs.jsonl").write_text("".join([lines[1], lines[0], *lines[2:]]), encoding="utf-8")
    reordered = load_trait_dir(copy)
    assert reordered.prompts_hash("pairs") != builtin.prompts_hash("pairs")
    assert reordered.prompts_hash("eval") == builtin.prompts_hash("eval")
