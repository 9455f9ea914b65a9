"""Training is reproducible; shipped cards are honest, recomputable on both held-out sets, and
meet their targets on the independent validation set (or are known, flagged misses)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from steerid.errors import DataError, ScorerError
from steerid.scorers.base import CARDS_DIR, DATA_DIR, HEADS_DIR, load_card
from steerid.scorers.cards import build_card
from steerid.scorers.cv import fit_temperature
from steerid.scorers.labelled import load_labelled
from steerid.scorers.specs import SPECS
from steerid.scorers.train import train_head
from steerid.scorers.validate import validate

from _scorer_helpers import shipped_cards, shipped_heads

SMALL_GRID = (0.03, 0.3)
SMALL_SETS = ((), ("style",))
MINILM = (("minilm",),)  # the quick tests train on the small encoder; shipped heads choose among ENCODER_SETS


def _subset(tmp_path, trait, n_per_split_label):
    """Copy the first n lines of each (split, label) cell of a data file into tmp_path."""
    counts: dict[tuple[str, int], int] = {}
    keep = []
    for line in (DATA_DIR / f"{trait}.jsonl").read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        key = (obj["split"], obj["label"])
        if counts.get(key, 0) < n_per_split_label[obj["split"]]:
            counts[key] = counts.get(key, 0) + 1
            keep.append(line)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / f"{trait}.jsonl").write_text("\n".join(keep) + "\n", encoding="utf-8")
    return data_dir


def test_retraining_with_the_same_seed_gives_identical_coefficients(tmp_path, backend):
    # A small slice of the real data and a small grid keep this fast; the full-size check is
    # test_shipped_heads_are_reproducible (opt-in, slow).
    data_dir = _subset(tmp_path, "formality", {"train": 30, "test": 8})
    cards = [
        train_head(
            "formality",
            seed=3,
            data_dir=data_dir,
            out_dir=tmp_path / run,
            backend=backend,
            c_grid=SMALL_GRID,
            feature_sets=SMALL_SETS,
            encoder_sets=MINILM,
            measure_speed=False,
        )
        for run in ("a", "b")
    ]
    a = json.loads((tmp_path / "a" / "heads" / "formality.json").read_text(encoding="utf-8"))
    b = json.loads((tmp_path / "b" / "heads" / "formality.json").read_text(encoding="utf-8"))
    assert a["coef"] == b["coef"] and a["intercept"] == b["intercept"]
    assert (tmp_path / "a" / "heads" / "formality.json").read_bytes() == (tmp_path / "b" / "heads" / "formality.json").read_bytes()
    assert cards[0]["metrics"] == cards[1]["metrics"] and cards[0]["test_metrics"] == cards[1]["test_metrics"]
    assert a["training"]["seed"] == 3 and a["training"]["C"] in SMALL_GRID
    assert a["training"]["data_sha256"] == load_labelled("formality", data_dir).sha256
    # both held-out sets: the 16-text test slice and the whole independent validation set
    assert a["training"]["n_train"] == 60 and cards[0]["test_metrics"]["n"] == 16 and cards[0]["metrics"]["n"] == 240
    assert cards[0]["target"]["split"] == "validation" and "speed" not in cards[0]
    assert a["training"]["sklearn_version"] and 0.25 <= a["calibration"]["temperature"] <= 4.0
    # the card written next to the tmp head describes that head
    card = json.loads((tmp_path / "a" / "cards" / "formality.json").read_text(encoding="utf-8"))
    assert card["metrics"] == cards[0]["metrics"]
    assert (tmp_path / "a" / "cards" / "formality.md").read_text(encoding="utf-8").startswith("# Scorer card")
    # a head validated against the tmp head dir gives the tmp card's numbers
    again = validate("formality", data_dir=data_dir, heads_dir=tmp_path / "a" / "heads", backend=backend)
    assert again["test"]["accuracy"] == card["test_metrics"]["accuracy"]
    assert again["validation"]["accuracy"] == card["metrics"]["accuracy"]



@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("STEERID_SLOW_TESTS"), reason="set STEERID_SLOW_TESTS=1 (full CV grid, minutes)")
@pytest.mark.parametrize("trait", shipped_heads())
def test_shipped_heads_are_reproducible(tmp_path, backend, trait):
    head = json.loads((HEADS_DIR / f"{trait}.json").read_text(encoding="utf-8"))
    train_head(trait, seed=head["training"]["seed"], out_dir=tmp_path, backend=backend)
    again = json.loads((tmp_path / "heads" / f"{trait}.json").read_text(encoding="utf-8"))
    assert again["training"]["C"] == head["training"]["C"]
    assert again["features"]["lexical"] == head["features"]["lexical"]
    assert [e["key"] for e in again["features"]["encoders"]] == [e["key"] for e in head["features"]["encoders"]]
    assert again["calibration"]["temperature"] == pytest.approx(head["calibration"]["temperature"], abs=1e-4)
    # Bit-identical on the machine that trained it; other CPUs/BLAS builds may differ in the last digits.
    np.testing.assert_allclose(again["coef"], head["coef"], rtol=0, atol=1e-6)
    assert again["intercept"] == pytest.approx(head["intercept"], abs=1e-6)


def _same_metrics(metrics, stored):
    for key in ("accuracy", "roc_auc", "n", "n_positive"):
        assert metrics[key] == pytest.approx(stored[key], abs=1e-9), key
    for key in ("brier", "ece"):
        if stored[key] is None:
            assert metrics[key] is None
        else:
            # Training and validation embed the same list the same way (no cache), so on one
            # machine these match exactly; the tolerance allows other CPUs/BLAS builds.
            assert metrics[key] == pytest.approx(stored[key], abs=1e-6), key
    assert metrics["confusion"] == stored["confusion"]
    assert metrics["per_tag"] == stored["per_tag"]
    for key in ("coverage", "accuracy_decided"):
        if key in stored:
            assert metrics[key] == pytest.approx(stored[key], abs=1e-9), key


@pytest.mark.parametrize("name", shipped_cards())
def test_validate_reproduces_the_stored_card(name, backend):
    card = load_card(name)
    results = validate(name, backend=backend)
    _same_metrics(results["test"], card["test_metrics"])  # the project's test split
    _same_metrics(results["validation"], card["metrics"])  # the independent validation set
    assert card["data"]["sha256"] == load_labelled(SPECS[name].data, require_train=SPECS[name].kind != "answer_judge").sha256
    assert card["validation"]["sha256"] == results["validation_file"]["sha256"]


@pytest.mark.parametrize("name", shipped_cards())
def test_every_card_reports_both_splits_calibration_and_speed(name):
    card = load_card(name)
    for split in ("metrics", "test_metrics"):
        m = card[split]
        assert {"accuracy", "roc_auc", "ece", "brier", "n", "per_tag"} <= set(m)
    assert card["metrics"]["n"] == card["validation"]["n"] >= 100
    if SPECS[name].kind == "embedding_head":
        assert 0.0 <= card["metrics"]["ece"] <= 1.0 and 0.0 <= card["test_metrics"]["ece"] <= 1.0
    if SPECS[name].kind == "answer_judge":
        assert 0.0 < card["metrics"]["coverage"] <= 1.0 and 0.0 < card["test_metrics"]["coverage"] <= 1.0
    speed = card["speed"]
    assert speed["texts_per_second"] > 0 and speed["load_seconds"] >= 0 and speed["n_texts"] == card["metrics"]["n"]
    md = (CARDS_DIR / f"{name}.md").read_text(encoding="utf-8")
    assert "| metric | test split | independent validation |" in md and "texts/s" in md


KNOWN_BELOW_TARGET = {
    # VADER is a fixed lexicon baseline, not trained here; it stays below the 0.88 sentiment
    # target on the independent set (sarcasm, domain words). Reports flag it; the embedding head
    # is the primary scorer.
    "sentiment_vader": "lexicon baseline below its 0.88 target; flagged in every report",
    # The opinion-relative agreeableness head reaches ~0.70 on the independent set (target 0.85):
    # replies whose stance lies in their content, not in agree/disagree markers, are still
    # mostly beyond a linear head on sentence embeddings. Its card says meets_target: false and
    # every report warns; the test turns green (and then fails as an xfail) once it is fixed.
    "agreeableness": "independent-set accuracy below the 0.85 target; flagged in every report",
}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BELOW_TARGET[n])) if n in KNOWN_BELOW_TARGET else n
    for n in shipped_cards()
])
def test_shipped_card_meets_its_target(name):
    card = load_card(name)
    assert card["target"]["value"] == SPECS[name].target_accuracy and card["target"]["split"] == "validation"
    assert card["meets_target"] == (card["metrics"]["accuracy"] >= card["target"]["value"])
    assert (CARDS_DIR / f"{name}.md").exists()
    assert card["meets_target"], (
        f"{name}: independent-set accuracy {card['metrics']['accuracy']:.3f} < target {card['target']['value']}"
    )


def test_targets_are_the_issue_targets():
    assert {n: s.target_accuracy for n, s in SPECS.items() if s.kind == "embedding_head"} == {
        "sentiment": 0.88, "formality": 0.88, "politeness": 0.88, "agreeableness": 0.85}


def test_temperature_recovers_overconfidence():
    rng = np.random.default_rng(0)
    z_true = rng.normal(scale=2.0, size=4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-z_true))).astype(int)
    assert fit_temperature(3.0 * z_true, y) == pytest.approx(3.0, rel=0.1)
    assert fit_temperature(z_true, y) == pytest.approx(1.0, rel=0.1)
    assert fit_temperature(50.0 * z_true, y) == pytest.approx(4.0, abs=1e-4)  # bounded


def test_every_head_has_a_card_and_core_scorers_are_shipped():
    assert {"sentiment", "formality"} <= set(shipped_heads())
    assert {"sentiment", "sentiment_vader", "formality", "truthfulness_answer"} <= set(shipped_cards())
    assert set(shipped_heads()) <= set(shipped_cards())


@pytest.mark.parametrize("path", sorted(DATA_DIR.glob("*.jsonl")), ids=lambda p: p.stem)
def test_test_split_is_disjoint_from_train_split(path):
    data = load_labelled(path.stem, require_train=path.stem != "truthfulness_answer")
    def norm(t):
        return " ".join(t.lower().split())
    train = {norm(ex.text) for ex in data.train}
    test = {norm(ex.text) for ex in data.test}
    assert test and not (train & test)
    if path.stem != "truthfulness_answer":
        assert len(data.examples) >= 400
        share = len(data.test) / len(data.examples)
        assert 0.2 <= share <= 0.3
        for split in (data.train, data.test):
            labels = [ex.label for ex in split]
            assert abs(sum(labels) / len(labels) - 0.5) < 0.05


def test_validate_refuses_a_head_trained_on_other_data(tmp_path, backend):
    head = json.loads((HEADS_DIR / "formality.json").read_text(encoding="utf-8"))
    head["training"]["data_sha256"] = "f" * 64
    (tmp_path / "formality.json").write_text(json.dumps(head), encoding="utf-8")
    with pytest.raises(ScorerError, match="retrain"):
        validate("formality", heads_dir=tmp_path, backend=backend)


def test_train_head_rejects_non_head_scorers_and_unknown_names():
    with pytest.raises(ScorerError):
        train_head("sentiment_vader")
    with pytest.raises(ScorerError, match="known|one of"):
        train_head("humour")
    with pytest.raises(ScorerError):
        build_card("humour")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "no examples"),
        ("not json\n", "not valid JSON"),
        ('{"text": "a", "label": 2, "split": "train"}\n', "label"),
        ('{"text": "", "label": 1, "split": "train"}\n', "text"),
        ('{"text": "a", "label": 1, "split": "dev"}\n', "split"),
        ('{"text": "a", "label": 1, "split": "train", "tags": "x"}\n', "tags"),
        ('[1, 2]\n', "object"),
        (
            '{"text": "Same  text", "label": 1, "split": "train"}\n{"text": "same text", "label": 0, "split": "test"}\n',
            "repeats",
        ),
        ('{"text": "a", "label": 1, "split": "train"}\n{"text": "b", "label": 1, "split": "test"}\n', "needs both"),
    ],
)
def test_bad_data_files_raise_data_error(tmp_path, content, match):
    (tmp_path / "x.jsonl").write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        load_labelled("x", tmp_path)


def test_missing_and_non_utf8_data(tmp_path):
    with pytest.raises(DataError, match="no labelled data"):
        load_labelled("nothing", tmp_path)
    (tmp_path / "bad.jsonl").write_bytes(b'{"text": "\xff"}\n')
    with pytest.raises(DataError, match="UTF-8"):
        load_labelled("bad", tmp_path)


def test_context_head_trains_with_opinions(tmp_path):
    """A small agreeableness head: context block, sentiment direction, columns, opinion-aware scores."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    keep, counts = [], {}
    for line in (DATA_DIR / "agreeableness.jsonl").read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        key = (obj["split"], obj["label"], bool(obj.get("opinion")))
        if counts.get(key, 0) < {"train": 12, "test": 4}[obj["split"]]:
            counts[key] = counts.get(key, 0) + 1
            keep.append(line)
    (data_dir / "agreeableness.jsonl").write_text("\n".join(keep) + "\n", encoding="utf-8")
    (tmp_path / "s").mkdir()
    _subset(tmp_path / "s", "sentiment", {"train": 10, "test": 2})
    (data_dir / "sentiment.jsonl").write_bytes((tmp_path / "s" / "data" / "sentiment.jsonl").read_bytes())
    card = train_head("agreeableness", seed=1, data_dir=data_dir, out_dir=tmp_path / "out", c_grid=SMALL_GRID,
                      feature_sets=((),), context_weights=(1.0, 10.0), measure_speed=False)
    head = json.loads((tmp_path / "out" / "heads" / "agreeableness.json").read_text(encoding="utf-8"))
    ctx = head["features"]["context"]
    assert ctx["field"] == "opinion" and ctx["encoder"] == "mpnet" and len(ctx["sentiment"]["coef"]) == 768
    assert [e["key"] for e in head["features"]["encoders"]] == ["mpnet"]
    assert len(head["coef"]) == 768 + len(ctx["features"])
    assert head["training"]["context_weight"] in (1.0, 10.0) and head["training"]["n_train_with_context"] == 24
    assert head["training"]["sentiment_data_sha256"] == load_labelled("sentiment", data_dir).sha256
    assert card["test_metrics"]["n"] == 16 and card["metrics"]["n"] == 240
    from steerid.scorers.head import EmbeddingHeadScorer

    scorer = EmbeddingHeadScorer.load("agreeableness", tmp_path / "out" / "heads")
    reply = "Honestly, that's spot on."
    with_op, alone = scorer.score([reply], opinion=["Tea is better than coffee."])[0], scorer.score([reply])[0]
    assert with_op != alone
