"""Recompute a scorer's held-out metrics from the shipped files, on both held-out sets.

:func:`validate` scores the project's **test split** (``data/<data>.jsonl``) and the
**independent validation set** (``validation/<validation>.jsonl``, never trained on; see
:mod:`steerid.scorers.specs`) with the shipped head or rule, and returns the card metrics of
:mod:`steerid.scorers.metrics`: accuracy (threshold 0.5), ROC AUC, Brier score, ECE (10 bins),
confusion counts and per-tag (register) accuracy. It refuses a head whose recorded
training-data hash differs from the data file.

- ``sentiment_vader`` is validated on the sentiment sets, label = ``compound > 0``;
- ``truthfulness_answer`` on its hand-labelled file and on the independent truthfulness set;
  an undecided (NaN) verdict counts as wrong, and coverage (the decided fraction) and the
  accuracy on decided texts are reported;
- a head with a context (agreeableness) is given each example's ``opinion``.

Speed (:func:`measure_speed`): texts/s scoring the validation set in one batch without the
embedding cache, and the load time (model files → first score, after imports) on fresh model
instances. Speed is machine-dependent and not part of the reproducibility check.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from steerid.errors import DataError, ScorerError
from steerid.scorers.base import HEADS_DIR
from steerid.scorers.embedding import ENCODERS, EmbeddingBackend, encoder_path, resolve_backends
from steerid.scorers.head import EmbeddingHeadScorer, head_path
from steerid.scorers.labelled import LabelledSet, load_labelled, load_validation
from steerid.scorers.metrics import accuracy, confusion, per_tag_accuracy, probability_metrics, roc_auc
from steerid.scorers.specs import get_spec
from steerid.scorers.truth import TruthAnswerJudge
from steerid.scorers.vader import VaderSentimentScorer


def load_checked_head(trait: str, data: LabelledSet, heads_dir: Path, backends: dict[str, EmbeddingBackend] | None) -> EmbeddingHeadScorer:
    scorer = EmbeddingHeadScorer.load(trait, heads_dir, backends=backends, use_cache=False)
    recorded = scorer.training.get("data_sha256")
    if recorded != data.sha256:
        raise ScorerError(
            f"head {trait!r} was trained on data {str(recorded)[:12]}…, but {data.path.name} is now {data.sha256[:12]}…",
            f"retrain: `steerid scorers train` (or `python -m steerid.scorers.train {trait}`)",
        )
    return scorer


def context_of(scorer: Any, examples: list[Any]) -> dict[str, list[Any]]:
    fields = getattr(scorer, "accepts", ()) or ()
    return {field: [ex.extra.get(field) for ex in examples] for field in fields}


def _head_split_metrics(scorer: EmbeddingHeadScorer, examples: list[Any]) -> dict[str, Any]:
    prob = scorer.score([ex.text for ex in examples], **context_of(scorer, examples))
    return probability_metrics(prob, np.array([ex.label for ex in examples]), [ex.tags for ex in examples])


def _vader_split_metrics(examples: list[Any]) -> dict[str, Any]:
    y = np.array([ex.label for ex in examples], dtype=np.int64)
    compound = VaderSentimentScorer().score([ex.text for ex in examples])
    pred = (compound > 0).astype(np.int64)
    return {
        "n": len(y),
        "n_positive": int(y.sum()),
        "threshold": 0.0,
        "threshold_rule": "compound > 0 → positive",
        "accuracy": accuracy(pred, y),
        "roc_auc": roc_auc(compound, y),
        "brier": None,
        "ece": None,
        "confusion": confusion(pred, y),
        "per_tag": per_tag_accuracy(pred, y, [ex.tags for ex in examples]),
    }


def _truth_split_metrics(examples: list[Any], name: str, backend: EmbeddingBackend | None) -> dict[str, Any]:
    for ex in examples:
        if "correct" not in ex.extra or "incorrect" not in ex.extra:
            raise DataError(f"{name}:{ex.line} lacks 'correct'/'incorrect'", "add both answers")
    y = np.array([ex.label for ex in examples], dtype=np.int64)
    verdicts = TruthAnswerJudge(backend=backend).judge(
        [ex.text for ex in examples],
        correct=[aliases(ex.extra["correct"]) for ex in examples],
        incorrect=[aliases(ex.extra["incorrect"]) for ex in examples],
    )
    score = np.array([v.score for v in verdicts])
    decided = ~np.isnan(score)
    pred = np.where(decided, score, -1).astype(np.int64)  # undecided never equals a label
    reasons: dict[str, int] = {}
    for v in verdicts:
        reasons[v.reason] = reasons.get(v.reason, 0) + 1
    return {
        "n": len(y),
        "n_positive": int(y.sum()),
        "threshold": 0.5,
        "threshold_rule": "verdict 1/0; NaN (undecided) counts as wrong",
        "accuracy": accuracy(pred, y),
        "coverage": float(decided.mean()),
        "accuracy_decided": accuracy(pred[decided], y[decided]) if decided.any() else math.nan,
        "roc_auc": roc_auc(np.where(decided, score, 0.5), y),
        "brier": None,
        "ece": None,
        "confusion": confusion(pred, y),
        "reasons": dict(sorted(reasons.items())),
        "per_tag": per_tag_accuracy(pred, y, [ex.tags for ex in examples]),
    }


def aliases(value: str) -> list[str]:
    """Answer aliases in data files are separated by ``|``."""
    return [part.strip() for part in value.split("|") if part.strip()]


def measure_speed(name: str, examples: list[Any], heads_dir: Path, repeats: int = 1) -> dict[str, Any]:
    """Time a cold load of the scorer's models and its batched scoring of ``examples``.

    The load is timed on fresh model instances (not the process-wide shared ones), so it is the
    cost a new process pays after its imports; scoring runs without the embedding cache.
    """
    spec = get_spec(name)
    texts = [ex.text for ex in examples]
    t0 = time.perf_counter()
    if spec.kind == "embedding_head":
        head = json.loads(head_path(name, heads_dir).read_text(encoding="utf-8"))
        probe = EmbeddingHeadScorer(head)
        fresh = {}
        for enc in probe.encoders:
            key = enc["key"]
            fresh[key] = EmbeddingBackend(encoder_path(key), name=ENCODERS[key].name, key=key)
        scorer: Any = EmbeddingHeadScorer(head, backends=fresh, use_cache=False)
        context = context_of(scorer, examples)
        scorer.score(texts[:1], **{k: v[:1] for k, v in context.items()})
    elif spec.kind == "lexicon":
        scorer, context = VaderSentimentScorer(), {}
        scorer.score(texts[:1])
    else:
        scorer = TruthAnswerJudge()
        context = {
            "correct": [aliases(ex.extra["correct"]) for ex in examples],
            "incorrect": [aliases(ex.extra["incorrect"]) for ex in examples],
        }
        scorer.score(texts[:1], **{k: v[:1] for k, v in context.items()})
    load = time.perf_counter() - t0
    best = math.inf
    for _ in range(repeats):
        t1 = time.perf_counter()
        scorer.score(texts, **context)
        best = min(best, time.perf_counter() - t1)
    n_contexts = len({c for col in context.values() for c in col if isinstance(c, str)}) if spec.kind == "embedding_head" else 0
    return {
        "n_texts": len(texts),
        "n_distinct_contexts": n_contexts,
        "mean_words": float(np.mean([len(t.split()) for t in texts])),
        "texts_per_second": float(len(texts) / best) if best > 0 else math.inf,
        "load_seconds": float(load),
        "torch_threads": int(torch.get_num_threads()),
        "cpu_count": os.cpu_count(),
        "note": "CPU, batch of the validation texts, no embedding cache; load = model files → first score, "
        "after imports. Machine-dependent: not part of the reproducibility check.",
    }


def validate(
    name: str,
    *,
    data_dir: Path | None = None,
    heads_dir: Path | None = None,
    backend: EmbeddingBackend | None = None,
    backends: dict[str, EmbeddingBackend] | None = None,
    validation_dir: Path | None = None,
    speed: bool = False,
) -> dict[str, Any]:
    """Recompute a scorer's held-out metrics from the shipped files, on both held-out sets.

    Args:
        name: Scorer name (``"formality"``, ``"sentiment_vader"``, ``"truthfulness_answer"`` …).
        data_dir: Directory of labelled data; the packaged ``data/`` by default.
        heads_dir: Directory of heads; the packaged ``heads/`` by default.
        backend: An embedding backend to use for the encoder it is (e.g. the judge's MiniLM).
        backends: ``{encoder key: backend}`` for the heads; the shared backends by default.
        validation_dir: Directory of the independent validation sets (packaged by default).
        speed: Also time loading and scoring (``"speed"`` in the result).

    Returns:
        ``{"test": metrics, "validation": metrics}`` (and ``"speed"``), each metrics dict with
        ``n``, ``n_positive``, ``accuracy``, ``roc_auc``, ``brier``, ``ece``, ``confusion``,
        ``per_tag`` (and ``coverage`` etc. for the answer judge).

    Raises:
        ScorerError: Unknown scorer, missing head, or head trained on other data.
        DataError: Missing or malformed data or validation file.
    """
    spec = get_spec(name)
    data = load_labelled(spec.data, data_dir, require_train=spec.kind != "answer_judge")
    indep = load_validation(spec.validation, validation_dir)
    out: dict[str, Any] = {}
    if spec.kind == "embedding_head":
        heads = heads_dir or HEADS_DIR
        probe = EmbeddingHeadScorer.load(name, heads)
        keys = {e["key"] for e in probe.encoders}
        scorer = load_checked_head(name, data, heads, resolve_backends(keys, backend, backends))
        out["test"] = _head_split_metrics(scorer, data.test)
        out["validation"] = _head_split_metrics(scorer, list(indep.examples))
    elif spec.kind == "lexicon":
        heads = heads_dir or HEADS_DIR
        out["test"] = _vader_split_metrics(data.test)
        out["validation"] = _vader_split_metrics(list(indep.examples))
    else:
        heads = heads_dir or HEADS_DIR
        out["test"] = _truth_split_metrics(data.test, data.path.name, backend)
        out["validation"] = _truth_split_metrics(list(indep.examples), indep.path.name, backend)
    out["validation_file"] = {"file": f"validation/{indep.path.name}", "sha256": indep.sha256}
    if speed:
        out["speed"] = measure_speed(name, list(indep.examples), heads)
    return out
