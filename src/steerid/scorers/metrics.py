"""Validation metrics for scorers (computed on held-out data only).

- accuracy: fraction of texts whose thresholded score equals the label;
- ROC AUC: probability that a random positive outscores a random negative (ties count ½);
- Brier score: mean squared error of a probability, ``mean((p − y)²)``;
- ECE (expected calibration error), 10 equal-width bins on [0, 1] (a probability of exactly 1
  falls in the last bin): ``Σ_b (n_b / n) · |mean(p in b) − mean(y in b)|``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

from steerid.errors import ScorerError


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    """Fraction of equal entries between 0/1 predictions and labels."""
    return float(np.mean(np.asarray(pred) == np.asarray(y)))


def roc_auc(score: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC of a continuous score against 0/1 labels (needs both labels present)."""
    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        raise ScorerError("ROC AUC needs both labels in the evaluation set", "rebalance the test split")
    return float(roc_auc_score(y, np.asarray(score, dtype=np.float64)))


def brier(prob: np.ndarray, y: np.ndarray) -> float:
    """Brier score of probabilities ``prob`` against 0/1 labels."""
    prob = np.asarray(prob, dtype=np.float64)
    return float(np.mean((prob - np.asarray(y, dtype=np.float64)) ** 2))


def ece(prob: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error with ``n_bins`` equal-width bins on [0, 1]."""
    prob = np.asarray(prob, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    bins = np.minimum((prob * n_bins).astype(np.int64), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            total += mask.sum() / len(prob) * abs(prob[mask].mean() - y[mask].mean())
    return float(total)


def per_tag_accuracy(pred: np.ndarray, y: np.ndarray, tags: Sequence[Sequence[str]]) -> dict[str, dict[str, float]]:
    """Accuracy per tag.

    Args:
        pred: 0/1 predictions.
        y: 0/1 labels.
        tags: Tags of each example.

    Returns:
        ``{tag: {"n": count, "accuracy": acc}}`` sorted by tag.
    """
    groups: dict[str, list[int]] = {}
    for i, example_tags in enumerate(tags):
        for tag in example_tags:
            groups.setdefault(tag, []).append(i)
    pred = np.asarray(pred)
    y = np.asarray(y)
    return {
        tag: {"n": len(idx), "accuracy": accuracy(pred[idx], y[idx])} for tag, idx in sorted(groups.items())
    }


def probability_metrics(
    prob: np.ndarray, y: np.ndarray, tags: Sequence[Sequence[str]], *, threshold: float = 0.5
) -> dict[str, object]:
    """All card metrics for a probability-valued scorer.

    Args:
        prob: P(label = 1) per example.
        y: 0/1 labels.
        tags: Tags per example.
        threshold: Predict 1 when ``prob >= threshold``.

    Returns:
        Dict with ``n``, ``n_positive``, ``accuracy``, ``roc_auc``, ``brier``, ``ece``,
        ``confusion`` and ``per_tag``.
    """
    prob = np.asarray(prob, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    pred = (prob >= threshold).astype(np.int64)
    return {
        "n": int(len(y)),
        "n_positive": int(y.sum()),
        "threshold": float(threshold),
        "accuracy": accuracy(pred, y),
        "roc_auc": roc_auc(prob, y),
        "brier": brier(prob, y),
        "ece": ece(prob, y),
        "confusion": confusion(pred, y),
        "per_tag": per_tag_accuracy(pred, y, tags),
    }


def confusion(pred: np.ndarray, y: np.ndarray) -> dict[str, int]:
    """True/false positive/negative counts."""
    pred = np.asarray(pred)
    y = np.asarray(y)
    return {
        "tp": int(((pred == 1) & (y == 1)).sum()),
        "fp": int(((pred == 1) & (y == 0)).sum()),
        "tn": int(((pred == 0) & (y == 0)).sum()),
        "fn": int(((pred == 0) & (y == 1)).sum()),
    }
