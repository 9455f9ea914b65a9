"""Validation metrics for scorers (computed on held-out data only): the single implementation
of each metric in the scorers package.

Standard metrics come from :mod:`sklearn.metrics`:

- accuracy (:func:`sklearn.metrics.accuracy_score`): fraction of texts whose thresholded
  score equals the label;
- ROC AUC (:func:`sklearn.metrics.roc_auc_score`): probability that a random positive
  outscores a random negative (ties count ½);
- Brier score (:func:`sklearn.metrics.brier_score_loss`): ``mean((p − y)²)``;
- log-loss (:func:`sklearn.metrics.log_loss`): ``−mean(y log p + (1 − y) log(1 − p))``;
- confusion counts (:func:`sklearn.metrics.confusion_matrix` with labels ``[0, 1]``).

ECE (expected calibration error) is our own, because sklearn has no binned ECE. With ``B = 10``
equal-width bins on [0, 1] (bin ``b`` holds ``p ∈ [b/B, (b+1)/B)``; ``p = 1`` falls in the last
bin) and ``n_b`` texts in bin ``b``::

    ECE = Σ_b (n_b / n) · | mean(p in b) − mean(y in b) |

i.e. the gap between confidence and observed frequency, weighted by how many texts fall in each
bin (empty bins contribute 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, brier_score_loss, confusion_matrix, log_loss, roc_auc_score

from steerid.errors import ScorerError

ECE_BINS = 10


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    """Fraction of equal entries between predictions and 0/1 labels (``accuracy_score``).

    A prediction outside {0, 1} (e.g. ``-1`` for an undecided verdict) never equals a label, so
    it counts as wrong.
    """
    return float(accuracy_score(np.asarray(y), np.asarray(pred)))


def roc_auc(score: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC of a continuous score against 0/1 labels (``roc_auc_score``; needs both labels)."""
    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        raise ScorerError("ROC AUC needs both labels in the evaluation set", "rebalance the test split")
    return float(roc_auc_score(y, np.asarray(score, dtype=np.float64)))


def brier(prob: np.ndarray, y: np.ndarray) -> float:
    """Brier score of probabilities ``prob`` against 0/1 labels (``brier_score_loss``)."""
    return float(brier_score_loss(np.asarray(y), np.asarray(prob, dtype=np.float64), pos_label=1))


def binary_log_loss(prob: np.ndarray, y: np.ndarray) -> float:
    """Mean log-loss of probabilities ``prob`` of label 1 (``log_loss`` with labels ``[0, 1]``)."""
    return float(log_loss(np.asarray(y), np.asarray(prob, dtype=np.float64), labels=[0, 1]))


def ece(prob: np.ndarray, y: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error with ``n_bins`` equal-width bins on [0, 1] (formula above)."""
    prob = np.asarray(prob, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    bins = np.minimum((prob * n_bins).astype(np.int64), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            total += mask.sum() / len(prob) * abs(prob[mask].mean() - y[mask].mean())
    return float(total)


def confusion(pred: np.ndarray, y: np.ndarray) -> dict[str, int]:
    """True/false positive/negative counts (``confusion_matrix``; other predictions are neither).

    A prediction outside {0, 1} (an undecided verdict) is counted in no cell.
    """
    pred = np.asarray(pred)
    y = np.asarray(y)
    keep = np.isin(pred, (0, 1))
    (tn, fp), (fn, tp) = confusion_matrix(y[keep], pred[keep], labels=[0, 1])
    return {"tp": int(tp), "fp": int(fp), "tn": int(tn), "fn": int(fn)}


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
