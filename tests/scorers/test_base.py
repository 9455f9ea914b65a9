"""The Scorer contract: input checks, blank texts, context arguments, metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from steerid.errors import ScorerError
from steerid.scorers.base import Scorer, check_texts
from steerid.scorers.metrics import brier, ece, per_tag_accuracy, probability_metrics


class LengthScorer(Scorer):
    name = "length"
    trait = "length"
    higher_means = "longer"

    def _score_nonempty(self, texts):
        return np.array([len(t) / 100 for t in texts])


class ContextScorer(Scorer):
    name = "ctx"
    trait = "ctx"
    higher_means = "matches"
    requires = ("target",)
    empty_value = math.nan

    def _score_nonempty(self, texts, target):
        return np.array([float(t == g) for t, g in zip(texts, target, strict=True)])


def test_score_returns_float64_and_fills_blank_texts():
    out = LengthScorer().score(["abc", "", "   ", "abcdef"])
    assert out.dtype == np.float64
    assert out.tolist() == [0.03, 0.5, 0.5, 0.06]
    assert LengthScorer().score([]).shape == (0,)


@pytest.mark.parametrize("bad", ["a single string", [b"bytes"], ["ok", None], 42])
def test_bad_inputs_raise_scorer_error(bad):
    with pytest.raises(ScorerError):
        LengthScorer().score(bad)


def test_check_texts_accepts_tuples_and_generators():
    assert check_texts(("a", "b")) == ["a", "b"]
    assert check_texts(t for t in ["x"]) == ["x"]


def test_context_is_subset_alongside_blank_texts():
    out = ContextScorer().score(["a", "", "c"], target=["a", "b", "x"])
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"target": ["a"]}, {"target": "ab"}, {"target": ["a", "b"], "other": ["x", "y"]}],
)
def test_context_errors(kwargs):
    with pytest.raises(ScorerError):
        ContextScorer().score(["a", "b"], **kwargs)


def test_unexpected_context_on_plain_scorer():
    with pytest.raises(ScorerError, match="unexpected"):
        LengthScorer().score(["a"], correct=["x"])


def test_ece_and_brier_by_hand():
    prob = np.array([0.05, 0.15, 0.95, 1.0])
    y = np.array([0, 1, 1, 1])
    # bins: 0 -> {0.05 (y0)}, 1 -> {0.15 (y1)}, 9 -> {0.95, 1.0 (y1, y1)}
    expected = 0.25 * 0.05 + 0.25 * 0.85 + 0.5 * abs(0.975 - 1.0)
    assert ece(prob, y) == pytest.approx(expected, abs=1e-12)
    assert brier(prob, y) == pytest.approx((0.05**2 + 0.85**2 + 0.05**2 + 0) / 4, abs=1e-12)


def test_probability_metrics_and_per_tag():
    prob = np.array([0.9, 0.2, 0.6, 0.4])
    y = np.array([1, 0, 0, 1])
    m = probability_metrics(prob, y, [["a"], ["a", "b"], [], ["b"]])
    assert m["accuracy"] == 0.5
    assert m["roc_auc"] == 0.75
    assert m["confusion"] == {"tp": 1, "fp": 1, "tn": 1, "fn": 1}
    assert per_tag_accuracy((prob >= 0.5).astype(int), y, [["a"], ["a", "b"], [], ["b"]]) == {
        "a": {"n": 2, "accuracy": 1.0},
        "b": {"n": 2, "accuracy": 0.5},
    }


def test_undecided_predictions_are_wrong_and_in_no_confusion_cell():
    from steerid.scorers.metrics import accuracy, confusion

    pred = np.array([1, -1, 0, -1, 1])  # -1: the answer judge could not decide
    y = np.array([1, 1, 0, 0, 0])
    assert accuracy(pred, y) == pytest.approx(2 / 5)
    assert confusion(pred, y) == {"tp": 1, "fp": 1, "tn": 1, "fn": 0}


def test_log_loss_by_hand():
    from steerid.scorers.metrics import binary_log_loss

    assert binary_log_loss(np.array([0.8, 0.25]), np.array([1, 0])) == pytest.approx(-(np.log(0.8) + np.log(0.75)) / 2)
