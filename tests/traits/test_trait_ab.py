"""A/B multiple-choice datasets as traits (``ab:PATH``, ``ab:TRAIN,TEST``): loading, the letter-order
swap, the seeded split, content hashes, errors, and an audit of the shipped example set on a tiny model."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from steerid.errors import ConfigError, DataError
from steerid.traits import resolve_trait
from steerid.traits.ab import AbItem, load_ab_trait, parse_ab_spec, read_ab_items, swapped

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ab" / "honesty.jsonl"


def _write(path: Path, items: list[dict], as_list: bool = False) -> Path:
    if as_list:
        path.write_text(json.dumps(items, indent=2), encoding="utf-8")
    else:
        path.write_text("\n".join(json.dumps(i) for i in items) + "\n", encoding="utf-8")
    return path


def _items() -> list[dict]:
    return [json.loads(line) for line in EXAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_swap_exchanges_choice_texts_and_flips_the_letter():
    item = AbItem(question="Q?\n\nChoices:\n (A) Yes, fine.\n (B) No way.", answer_matching_behavior="(B)",
                  answer_not_matching_behavior="(A)")
    other = swapped(item)
    assert other is not None
    assert other.question == "Q?\n\nChoices:\n (A) No way.\n (B) Yes, fine."
    assert (other.answer_matching_behavior, other.answer_not_matching_behavior) == ("A", "B")
    assert swapped(other) == item  # swapping twice gives the item back
    # no listed choices: not swappable
    assert swapped(AbItem(question="Pick A or B.", answer_matching_behavior="A", answer_not_matching_behavior="B")) is None


def test_example_set_loads_with_seeded_split_and_both_orders():
    trait = resolve_trait(f"ab:{EXAMPLE}", seed=0)
    n = len(_items())
    held = len(trait.likelihood)
    assert trait.name == "honesty" and held >= 4 and len(trait.eval) == held
    # every extraction item in both orders; each evaluation item once
    assert len(trait.pairs) == 2 * (n - held)
    assert all(p.positive in ("(A", "(B") and p.negative in ("(A", "(B") and p.positive != p.negative for p in trait.pairs)
    swapped_eval = [i for i in trait.likelihood if "-swapped" in i.id]
    assert len(swapped_eval) == held // 2  # half the evaluation items in the swapped order
    # evaluation questions (either order) never extract
    eval_ids = {i.id.split("-swapped")[0].removesuffix("-lik") for i in trait.likelihood}
    assert not eval_ids & {p.id.removesuffix("-swapped") for p in trait.pairs}
    # deterministic under the seed; another seed another split; provenance records the seed and hash
    again = resolve_trait(f"ab:{EXAMPLE}", seed=0)
    assert again.likelihood == trait.likelihood and again.content_hash == trait.content_hash
    assert resolve_trait(f"ab:{EXAMPLE}", seed=3).likelihood != trait.likelihood
    prov = trait.provenance()
    assert prov["seed"] == 0 and set(prov["derived"]) == {"split", "orders"} and prov["source"].startswith("ab:/")


def test_given_order_and_train_test_files(tmp_path):
    items = _items()
    given = load_ab_trait(f"ab:{EXAMPLE}?orders=given", seed=0)
    assert not any("swapped" in p.id for p in given.pairs) and "orders" not in given.derived
    assert given.content_hash != load_ab_trait(f"ab:{EXAMPLE}", seed=0).content_hash
    train = _write(tmp_path / "train.json", items[:14], as_list=True)
    test = _write(tmp_path / "test.jsonl", items[14:])
    trait = load_ab_trait(f"ab:{train},{test}", seed=0)
    assert trait.name == re.sub(r"[^a-z0-9_-]+", "-", tmp_path.name.lower()).strip("-_")  # generic stem "train": the directory's name
    assert len(trait.pairs) == 28 and len(trait.likelihood) == 6 and "split" not in trait.derived
    # the content hash ignores formatting (a JSON list and JSON Lines with the same items hash alike)
    relisted = _write(tmp_path / "train2.jsonl", items[:14])
    assert load_ab_trait(f"ab:{relisted},{test}", seed=0).content_hash == trait.content_hash
    with pytest.raises(DataError, match="also in"):
        load_ab_trait(f"ab:{train},{_write(tmp_path / 'leak.jsonl', items[10:16])}")


@pytest.mark.parametrize("content, match", [
    ('{"question": "Q", "answer_matching_behavior": "(A)"}\n', "answer_not_matching_behavior"),
    ('{"question": "Q", "answer_matching_behavior": "(A)", "answer_not_matching_behavior": "(A)"}\n', "same letter"),
    ('{"question": "Q", "answer_matching_behavior": "yes", "answer_not_matching_behavior": "(A)"}\n', "single letter"),
    ('{"question": "Q", "answer_matching_behavior": "(A)", "answer_not_matching_behavior": "(B)", "x": 1}\n', "x"),
    ("[1, 2]", "expected a JSON object"),
    ("{not json\n", "invalid JSON"),
])
def test_bad_files_name_the_problem(tmp_path, content, match):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        read_ab_items(path)


def test_bad_specs_and_too_few_items(tmp_path):
    with pytest.raises(DataError, match="no such A/B file"):
        parse_ab_spec("ab:/nonexistent/x.jsonl")
    with pytest.raises(DataError, match="orders"):
        parse_ab_spec(f"ab:{EXAMPLE}?orders=random")
    with pytest.raises(DataError, match="too few"):
        load_ab_trait(f"ab:{_write(tmp_path / 'few.jsonl', _items()[:6])}")
    dup = _items()[:13] + [_items()[0]]
    with pytest.raises(DataError, match="same question"):
        load_ab_trait(f"ab:{_write(tmp_path / 'dup.jsonl', dup)}")


def test_audit_config_resolves_an_ab_trait_to_its_name_and_skips_generation(tmp_path):
    from steerid.audit.config import AuditConfig, resolve

    config = AuditConfig(traits=[f"ab:{EXAMPLE}", "sentiment"], experiments=["likelihood", "e1"])
    resolved = resolve(config, n_layers=4, available_traits=["sentiment"])
    assert resolved.traits == ["honesty", "sentiment"]
    assert resolved.custom_traits["honesty"]["source"] == f"ab:{EXAMPLE.resolve()}"
    assert resolved.e1.traits == ["sentiment"]  # the A/B trait runs the likelihood route only
    with pytest.raises(ConfigError, match="no such A/B file"):
        resolve(AuditConfig(traits=["ab:missing.jsonl"]), n_layers=4, available_traits=["sentiment"])


def test_ab_trait_audits_on_a_tiny_model(tmp_path):
    import steerid

    run = steerid.audit("tiny:llama", traits=f"ab:{EXAMPLE}", profile="smoke", out=tmp_path / "run",
                        config={"experiments": ["likelihood"], "alphas_rel": [1.0], "n_draws": 2})
    data = run.to_dict()
    assert data["config"]["traits"] == ["honesty"]
    assert data["provenance"]["traits"]["honesty"]["content_hash"] == resolve_trait(f"ab:{EXAMPLE}").content_hash
    units = [u for u in data["units"] if u["experiment"] == "likelihood"]
    assert units and all(u["status"] == "ok" for u in units)
    assert units[0]["n"] == len(resolve_trait(f"ab:{EXAMPLE}").likelihood)
    # every family carries its per-input steerability; the summary shows the anti-steerable fraction
    for family in units[0]["result"]["families"]:
        rec = family["steerability"]
        assert rec["route_deterministic"] and rec["v"]["n"] == units[0]["n"] and len(rec["draws"]) == 2
        assert rec["v"]["n_steerable"] + rec["v"]["n_anti"] + rec["v"]["n_tied"] == units[0]["n"]
    rows = [r for r in data["summary"] if r["trait"] == "honesty"]
    assert rows and all(0 <= r["anti_steerable"] <= 1 and r["anti_steerable_noise"] is None for r in rows)


def test_cli_extracts_from_an_ab_trait_and_refuses_to_score_text_with_it(tmp_path, capsys):
    from steerid.cli import main
    from steerid.vector import SteeringVector

    out = tmp_path / "ab.safetensors"
    try:
        main(["extract", "tiny:llama", "--trait", f"ab:{EXAMPLE}", "--layer", "1", "--out", str(out)])
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    vector = SteeringVector.load(out)
    trait = resolve_trait(f"ab:{EXAMPLE}")
    assert vector.provenance.n_examples == len(trait.pairs)
    assert vector.provenance.extra["trait"]["content_hash"] == trait.content_hash
    replies = tmp_path / "r.txt"
    replies.write_text("hello\n", encoding="utf-8")
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["score", "--trait", f"ab:{EXAMPLE}", "--file", str(replies)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "likelihood" in err and "Traceback" not in err


def test_traits_option_keeps_ab_train_test_together():
    from steerid.audit.profiles import parse_traits

    assert parse_traits("ab:d/train.json,d/test.json,sentiment,ab:x.jsonl,formality") == [
        "ab:d/train.json,d/test.json", "sentiment", "ab:x.jsonl", "formality"]


def test_identify_a_vector_against_an_ab_trait(tmp_path):
    import steerid
    from steerid.extract.pipeline import extract_vector
    from steerid.models import Site, load_model

    lm = load_model("tiny:llama")
    trait = resolve_trait(f"ab:{EXAMPLE}")
    vec = extract_vector(lm, list(trait.pairs), Site(1), trait=trait.name)
    path = tmp_path / "v.safetensors"
    vec.save(path)
    run = steerid.audit("tiny:llama", vector=path, traits=f"ab:{EXAMPLE}", profile="smoke", out=tmp_path / "id",
                        config={"experiments": ["likelihood"], "alphas_rel": [1.0], "n_draws": 2})
    data = run.to_dict()
    assert data["config"]["traits"] == ["honesty"] and data["config"]["vector_trait"] == f"ab:{EXAMPLE}"
    assert all(u["status"] == "ok" for u in data["units"] if u["experiment"] == "likelihood")
