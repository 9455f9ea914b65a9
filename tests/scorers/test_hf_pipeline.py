"""Hugging Face text-classification adapter, with a tiny random classifier built offline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from steerid.errors import ScorerError
from steerid.scorers.hf_pipeline import HFPipelineScorer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "the", "movie", "was", "great", "awful", "!"]


def _tiny(tmp_path, id2label, problem_type=None):
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer, pipeline

    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer.from_pretrained(str(tmp_path))  # reads vocab.txt; no network
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
        problem_type=problem_type,
    )
    model = BertForSequenceClassification(config).eval()
    return model, tokenizer, pipeline("text-classification", model=model, tokenizer=tokenizer, device="cpu")


def _softmax_pos(model, tokenizer, texts, pos_index):
    enc = tokenizer(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        logits = model(**enc).logits
    return torch.softmax(logits, dim=-1)[:, pos_index].numpy()


def test_probability_of_positive_matches_the_model(tmp_path):
    model, tok, pipe = _tiny(tmp_path, {0: "NEG", 1: "POS"})
    scorer = HFPipelineScorer(pipe, {"NEG": 0, "POS": 1}, name="tiny", trait="sentiment", higher_means="more positive")
    texts = ["the movie was great !", "awful", "bad bad bad"]
    out = scorer.score(texts + [""])
    assert out.dtype == np.float64 and out.shape == (4,)
    expected = np.array([_softmax_pos(model, tok, [t], 1)[0] for t in texts])
    np.testing.assert_allclose(out[:3], expected, atol=1e-6)
    assert out[3] == 0.5  # blank text is not sent to the model


def test_label_map_flips_and_sums(tmp_path):
    model, tok, pipe = _tiny(tmp_path, {0: "negative", 1: "neutral", 2: "positive"})
    texts = ["good", "the movie was awful"]
    pos = HFPipelineScorer(pipe, {"negative": 0, "neutral": 0, "positive": 1}, name="a", trait="t", higher_means="h")
    nonneg = HFPipelineScorer(pipe, {"negative": 0, "neutral": 1, "positive": 1}, name="b", trait="t", higher_means="h")
    p_pos = pos.score(texts)
    np.testing.assert_allclose(p_pos, [_softmax_pos(model, tok, [t], 2)[0] for t in texts], atol=1e-6)
    np.testing.assert_allclose(nonneg.score(texts), 1 - np.array([_softmax_pos(model, tok, [t], 0)[0] for t in texts]), atol=1e-6)


def test_single_logit_model(tmp_path):
    model, tok, pipe = _tiny(tmp_path, {0: "TOXIC"})
    toxic = HFPipelineScorer(pipe, {"TOXIC": 1}, name="tox", trait="toxicity", higher_means="more toxic")
    polite = HFPipelineScorer(pipe, {"TOXIC": 0}, name="nontox", trait="politeness", higher_means="less toxic")
    enc = tok(["bad"], return_tensors="pt")
    with torch.no_grad():
        p = torch.sigmoid(model(**enc).logits)[0, 0].item()
    assert toxic.score(["bad"])[0] == pytest.approx(p, abs=1e-6)
    assert polite.score(["bad"])[0] == pytest.approx(1 - p, abs=1e-6)


@pytest.mark.parametrize(
    "label_map",
    [
        {"NEG": 0},  # missing a label
        {"NEG": 0, "POS": 1, "OTHER": 1},  # unknown label
        {"NEG": 0, "POS": 0},  # nothing positive
        {"NEG": 1, "POS": 1},  # nothing negative
        {"NEG": 0, "POS": 2},  # not 0/1
        {"NEG": False, "POS": True},  # bools are not accepted as labels
        ["NEG", "POS"],
    ],
)
def test_bad_label_maps(tmp_path, label_map):
    _, _, pipe = _tiny(tmp_path, {0: "NEG", 1: "POS"})
    with pytest.raises(ScorerError):
        HFPipelineScorer(pipe, label_map, name="x", trait="t", higher_means="h")


def test_from_pretrained_local_dir(tmp_path):
    model, tok, _ = _tiny(tmp_path / "src", {0: "NEG", 1: "POS"})
    model.save_pretrained(tmp_path / "clf")
    tok.save_pretrained(tmp_path / "clf")
    scorer = HFPipelineScorer.from_pretrained(
        tmp_path / "clf", {"NEG": 0, "POS": 1}, name="tiny", trait="sentiment", higher_means="more positive"
    )
    assert 0.0 <= scorer.score(["good"])[0] <= 1.0
    with pytest.raises(ScorerError, match="does not exist"):
        HFPipelineScorer.from_pretrained(tmp_path / "nope", {"NEG": 0, "POS": 1}, name="x", trait="t", higher_means="h")


def test_not_a_pipeline():
    with pytest.raises(ScorerError):
        HFPipelineScorer(object(), {"A": 1}, name="x", trait="t", higher_means="h")
