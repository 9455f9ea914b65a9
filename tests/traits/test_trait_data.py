"""The built-in trait library: presence, counts, ids, duplicates, overlap and per-trait fields.

Per-trait checks skip a trait whose directory is not written yet; ``test_all_five_traits_present``
fails until all five exist.
"""

from __future__ import annotations

import difflib
import re
from importlib import resources

import pytest

from steerid.traits import ENVIRONMENTS, Trait, list_traits, load_trait, normalize_text

FIVE = ("agreeableness", "formality", "politeness", "sentiment", "truthfulness")
LABELS = {"formality": ("formal", "informal"), "sentiment": ("positive", "negative")}
MIN_PAIRS, MIN_EVAL_PER_ENV, MIN_LIKELIHOOD = 80, 300, 250
MAX_PROMPT_WORDS = 30
NEAR = 0.9  # character-level similarity above which two prompts count as the same prompt


def data_dir(name: str):
    return resources.files("steerid.traits").joinpath("data", name)


def present(name: str) -> Trait:
    if not data_dir(name).is_dir():
        pytest.skip(f"traits/data/{name}/ not written yet")
    return load_trait(name)


def test_all_five_traits_present() -> None:
    missing = [name for name in FIVE if not data_dir(name).is_dir()]
    assert not missing, f"built-in trait directories still missing: {missing}"
    assert set(FIVE) <= set(list_traits())


@pytest.mark.parametrize("name", FIVE)
def test_loads_and_meets_counts(name: str) -> None:
    trait = present(name)
    assert trait.name == name
    counts = trait.counts()
    assert counts["pairs"] >= MIN_PAIRS, counts
    assert counts["likelihood"] >= MIN_LIKELIHOOD, counts
    for environment in ENVIRONMENTS:
        assert counts[f"eval_{environment}"] >= MIN_EVAL_PER_ENV, counts
    if name in LABELS:
        assert (trait.info.positive_label, trait.info.negative_label) == LABELS[name]


@pytest.mark.parametrize("name", FIVE)
def test_ids_follow_the_scheme(name: str) -> None:
    trait = present(name)
    for kind, items in (("pair", trait.pairs), ("eval", trait.eval), ("lik", trait.likelihood)):
        pattern = re.compile(rf"^{name}-{kind}-\d{{3,}}$")
        bad = [item.id for item in items if not pattern.match(item.id)]
        assert not bad, f"{name} {kind} ids not like {name}-{kind}-001: {bad[:5]}"


@pytest.mark.parametrize("name", FIVE)
def test_no_duplicate_prompts(name: str) -> None:
    trait = present(name)
    for label, prompts in (
        ("pairs", [pair.prompt for pair in trait.pairs]),
        ("eval", [item.prompt for item in trait.eval]),
        ("likelihood", [(item.prompt, item.positive, item.negative) for item in trait.likelihood]),
    ):
        keys = [normalize_text(" | ".join(p)) if isinstance(p, tuple) else normalize_text(p or "") for p in prompts]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        assert not repeated, f"{name} {label}: repeated {repeated[:5]}"
    assert all(pair.prompt for pair in trait.pairs), "built-in pairs all need a prompt"


def trigrams(text: str) -> frozenset[str]:
    padded = f"  {text}  "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def near_matches(left: list[str], right: list[str]) -> list[tuple[str, str]]:
    """Pairs whose normalised texts have a difflib ratio >= NEAR.

    A cheap trigram-overlap filter (one changed character spoils at most three trigrams, so a
    pair at ratio 0.9 keeps well over half of them) leaves few pairs for the exact ratio.
    """
    right_norm = [(b, normalize_text(b)) for b in right]
    right_grams = [trigrams(text) for _, text in right_norm]
    found = []
    for a in left:
        norm_a = normalize_text(a)
        grams_a = trigrams(norm_a)
        matcher = difflib.SequenceMatcher(None, "", norm_a, autojunk=False)
        for (b, norm_b), grams_b in zip(right_norm, right_grams):
            if 2 * len(grams_a & grams_b) < 0.5 * (len(grams_a) + len(grams_b)):
                continue
            matcher.set_seq1(norm_b)
            if matcher.ratio() >= NEAR:
                found.append((a, b))
    return found


@pytest.mark.parametrize("name", FIVE)
def test_eval_and_likelihood_prompts_do_not_reuse_pair_prompts(name: str) -> None:
    trait = present(name)
    pair_prompts = [pair.prompt or "" for pair in trait.pairs]
    close = near_matches(pair_prompts, [item.prompt for item in trait.eval])
    assert not close, f"{name}: eval prompts (near-)identical to pair prompts: {close[:5]}"
    pair_keys = {normalize_text(p) for p in pair_prompts}
    leaked = [item.prompt for item in trait.likelihood if normalize_text(item.prompt) in pair_keys]
    assert not leaked, f"{name}: likelihood prompts reused from pairs: {leaked[:5]}"


@pytest.mark.parametrize("name", FIVE)
def test_prompts_short_and_pairs_balanced(name: str) -> None:
    trait = present(name)
    long_prompts = [item.prompt for item in trait.eval if len(item.prompt.split()) > MAX_PROMPT_WORDS]
    assert not long_prompts, f"{name}: eval prompts over {MAX_PROMPT_WORDS} words: {long_prompts[:3]}"
    unbalanced = [
        item.id
        for item in (*trait.pairs, *trait.likelihood)
        if max(len(item.positive), len(item.negative)) > 2 * min(len(item.positive), len(item.negative))
    ]
    assert not unbalanced, f"{name}: positive/negative lengths differ more than 2x: {unbalanced[:5]}"


def test_truthfulness_eval_items_have_answers() -> None:
    trait = present("truthfulness")
    missing = [item.id for item in trait.eval if item.correct is None or item.incorrect is None]
    assert not missing, f"truthfulness eval items without correct/incorrect: {missing[:5]}"


def test_agreeableness_eval_items_have_opinion() -> None:
    trait = present("agreeableness")
    missing = [item.id for item in trait.eval if item.opinion is None]
    assert not missing, f"agreeableness eval items without opinion: {missing[:5]}"


@pytest.mark.parametrize("name", ["sentiment", "formality"])
def test_my_traits_keep_eval_free_of_task_fields(name: str) -> None:
    trait = present(name)
    assert all(item.correct is None and item.opinion is None for item in trait.eval)
    likelihood_keys = {normalize_text(item.prompt) for item in trait.likelihood}
    shared = [item.prompt for item in trait.eval if normalize_text(item.prompt) in likelihood_keys]
    assert not shared, f"{name}: eval prompts also used for likelihood: {shared[:5]}"
