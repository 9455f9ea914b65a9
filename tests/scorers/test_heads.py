"""Shipped embedding heads: clear-case ordering, loading without pickle, corrupt files."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest

from steerid.errors import ScorerError
from steerid.scorers.base import HEADS_DIR
from steerid.scorers.head import HEAD_FORMAT, EmbeddingHeadScorer

from _scorer_helpers import shipped_heads

# (higher-scoring text, lower-scoring text) pairs per trait; none of them is in the data files.
ORDER_CASES = {
    "formality": [
        ("The committee deemed the arrangement too informal for the official record.", "That was informal lol"),
        ("I am writing to request an extension to the submission deadline.", "hey can i get a few more days pls"),
        ("Certainly. The report will be circulated to all members on Monday.", "sure thing, i'll send it round monday!"),
        ("We regret that we are unable to offer you a place this year.", "sorry dude, no spot for u this year"),
        ("Formally, the proposal has been withdrawn.", "yeah they kinda pulled the plan lol"),
    ],
    "sentiment": [
        ("I absolutely loved the film; it was moving and beautifully made.", "The film was a boring, painful mess."),
        ("Not bad at all, actually, I really enjoyed it.", "Not good at all, I really hated it."),
        ("The staff were kind and the room was spotless.", "The staff were rude and the room was filthy."),
        ("That's wonderful news, congratulations!", "That's terrible news, I'm so sorry."),
    ],
    "politeness": [
        ("Could you please send me the file when you have a moment? Thank you!", "Send me the file. Now."),
        ("I'm sorry, but I won't be able to make it; thank you for inviting me.", "No. I'm not coming, stop asking."),
        ("Would you mind lowering the music a little? Thanks so much.", "Turn that racket down, idiot."),
    ],
    "agreeableness": [
        ("You're absolutely right, I completely agree with you.", "No, you're wrong, I completely disagree."),
        ("Good point, that makes a lot of sense.", "That makes no sense at all."),
        ("Yes, exactly, that's what I think too.", "Actually, I don't think that's true."),
    ],
}


@pytest.fixture(scope="module")
def heads(backend):
    return {trait: EmbeddingHeadScorer.load(trait, backend=backend) for trait in shipped_heads()}


@pytest.mark.parametrize("trait", sorted(ORDER_CASES))
def test_clear_cases_are_ordered(heads, trait):
    if trait not in heads:
        pytest.skip(f"no shipped head for {trait}")
    scorer = heads[trait]
    high, low = zip(*ORDER_CASES[trait], strict=True)
    s_high, s_low = scorer.score(list(high)), scorer.score(list(low))
    assert np.all(s_high > s_low), list(zip(high, s_high.round(3), low, s_low.round(3), strict=True))
    assert np.all((s_high >= 0) & (s_high <= 1) & (s_low >= 0) & (s_low <= 1))


def test_formal_and_informal_one_liners(heads):
    if "formality" not in heads:
        pytest.skip("no formality head")
    s = heads["formality"].score(["Certainly.", "Yep lol", "Indeed.", "nah"])
    assert s[0] > s[1] and s[2] > s[3]


def test_blank_text_scores_half(heads):
    for scorer in heads.values():
        assert scorer.score(["", "  \n"]).tolist() == [0.5, 0.5]


def test_scores_do_not_depend_on_batch_mates(heads):
    scorer = heads["formality"]
    text = "Kindly confirm receipt of this letter."
    alone = scorer.score([text])[0]
    scorer.clear_cache()
    mixed = scorer.score(["lol ok", text, "A much longer sentence that pads the batch to a greater length than before."])
    assert abs(mixed[1] - alone) < 1e-5


def test_head_files_are_json_without_pickle(monkeypatch, backend):
    assert shipped_heads(), "no heads shipped"
    for path in HEADS_DIR.iterdir():
        assert path.suffix == ".json", f"unexpected file in heads/: {path.name}"
        head = json.loads(path.read_text(encoding="utf-8"))
        assert head["format"] == HEAD_FORMAT
        # Format /2 (intentional change): several encoders side by side, plus context columns.
        features = head["features"]
        n_context = len(features["context"]["features"]) if features.get("context") else 0
        assert len(head["coef"]) == sum(e["dim"] for e in features["encoders"]) + len(features["lexical"]) + n_context
        assert 0.25 <= head["calibration"]["temperature"] <= 4.0

    def refuse(*args, **kwargs):
        raise AssertionError("pickle must not be used")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    for trait in shipped_heads():
        EmbeddingHeadScorer.load(trait, backend=backend).score(["A short test sentence."])


def test_round_trip_is_exact(tmp_path, backend):
    trait = shipped_heads()[0]
    scorer = EmbeddingHeadScorer.load(trait, backend=backend)
    scorer.save(tmp_path / f"{trait}.json")
    again = EmbeddingHeadScorer.load(trait, tmp_path, backend=backend)
    assert np.array_equal(again.coef, scorer.coef) and again.intercept == scorer.intercept
    assert (tmp_path / f"{trait}.json").read_bytes() == (HEADS_DIR / f"{trait}.json").read_bytes()


def test_missing_head_says_how_to_train(tmp_path):
    with pytest.raises(ScorerError, match="steerid scorers train"):
        EmbeddingHeadScorer.load("formality", tmp_path)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda h: "{not json",
        lambda h: json.dumps({**h, "format": "other/1"}),
        lambda h: json.dumps({**h, "coef": h["coef"][:-1]}),
        lambda h: json.dumps({**h, "intercept": "x"}),
        lambda h: json.dumps({**h, "features": {**h["features"], "lexical": ["no_such_feature"]}}),
        lambda h: json.dumps({k: v for k, v in h.items() if k != "standardize"}),
    ],
)
def test_corrupt_heads_raise_scorer_error(tmp_path, corrupt):
    trait = shipped_heads()[0]
    head = json.loads((HEADS_DIR / f"{trait}.json").read_text(encoding="utf-8"))
    (tmp_path / f"{trait}.json").write_text(corrupt(head), encoding="utf-8")
    with pytest.raises(ScorerError):
        EmbeddingHeadScorer.load(trait, tmp_path)


def test_wrong_embedding_weights_are_refused(tmp_path, backend):
    trait = shipped_heads()[0]
    shutil.copy(HEADS_DIR / f"{trait}.json", tmp_path / f"{trait}.json")
    head = json.loads((tmp_path / f"{trait}.json").read_text(encoding="utf-8"))
    head["features"]["encoders"][0]["weights_sha256"] = "0" * 64
    (tmp_path / f"{trait}.json").write_text(json.dumps(head), encoding="utf-8")
    scorer = EmbeddingHeadScorer.load(trait, tmp_path, backend=backend)
    with pytest.raises(ScorerError, match="different embedding weights"):
        scorer.score(["hello"])


def _v1_head(dim=384, lexical=("exclamations",)):
    """A hand-made head in the old single-MiniLM format (steerid.scorer-head/1)."""
    rng = np.random.default_rng(0)
    n = dim + len(lexical)
    return {
        "format": "steerid.scorer-head/1",
        "name": "formality",
        "trait": "formality",
        "higher_means": "more formal",
        "features": {"embedding": {"name": "sentence-transformers/all-MiniLM-L6-v2", "dim": dim,
                                   "weights_sha256": "unknown"}, "lexical": list(lexical)},
        "standardize": {"mean": [0.0] * n, "scale": [1.0] * n},
        "coef": rng.normal(size=n).tolist(),
        "intercept": 0.1,
        "training": {},
    }


def test_old_single_encoder_heads_still_load_and_score(tmp_path, backend):
    head = _v1_head()
    (tmp_path / "formality.json").write_text(json.dumps(head), encoding="utf-8")
    scorer = EmbeddingHeadScorer.load("formality", tmp_path, backend=backend)
    assert [e["key"] for e in scorer.encoders] == ["minilm"] and scorer.context is None and scorer.temperature == 1.0
    texts = ["Good evening.", "yo!!"]
    x = np.hstack([backend.encode(texts), [[0.0], [np.log1p(2)]]])
    expected = 1 / (1 + np.exp(-(x @ np.asarray(head["coef"]) + 0.1)))
    np.testing.assert_allclose(scorer.score(texts), expected, atol=1e-9)
    assert scorer.to_dict()["format"] == HEAD_FORMAT


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda h: {**h, "calibration": {"method": "temperature", "temperature": 0}},
        lambda h: {**h, "features": {**h["features"], "encoders": []}},
        lambda h: {**h, "features": {**h["features"], "encoders": [{"key": "minilm"}]}},
        lambda h: {**h, "features": {**h["features"], "context": {"field": "opinion", "encoder": "nope",
                                                                  "features": ["has_context"], "sentiment": {}}}},
        lambda h: {**h, "features": {**h["features"], "context": {"field": "opinion", "encoder": h["features"]["encoders"][0]["key"],
                                                                  "features": ["mind_reading"], "sentiment": {}}}},
    ],
)
def test_corrupt_v2_fields_raise_scorer_error(tmp_path, corrupt):
    trait = shipped_heads()[0]
    head = json.loads((HEADS_DIR / f"{trait}.json").read_text(encoding="utf-8"))
    (tmp_path / f"{trait}.json").write_text(json.dumps(corrupt(head)), encoding="utf-8")
    with pytest.raises(ScorerError):
        EmbeddingHeadScorer.load(trait, tmp_path)


def test_temperature_divides_the_log_odds(tmp_path, backend):
    head = _v1_head()
    head["format"], head["features"] = "steerid.scorer-head/2", {
        "encoders": [{**head["features"]["embedding"], "key": "minilm"}], "lexical": ["exclamations"], "context": None}
    plain = EmbeddingHeadScorer(head, backend=backend)
    hot = EmbeddingHeadScorer({**head, "calibration": {"method": "temperature", "temperature": 2.0}}, backend=backend)
    texts = ["Dear Sir, thank you.", "lol"]
    np.testing.assert_allclose(hot.decision_function(texts), plain.decision_function(texts) / 2.0, atol=1e-12)
