"""Train embedding heads reproducibly, then validate and card every scorer.

Training (:func:`train_head`), for a trait with data file ``data/<trait>.jsonl``:

1. Build the training split's feature blocks once (:class:`~steerid.scorers.design.TrainingDesign`):
   embeddings by each candidate encoder (:data:`~steerid.scorers.cv.ENCODER_SETS`), the lexical
   feature groups, and for a context head (agreeableness: the opinion a reply answers) the
   context features.
2. Model selection on the training split only (:mod:`steerid.scorers.cv`): stratified 5-fold
   CV grouped by text, standardise → L2 logistic regression, for every encoder set × lexical
   feature set (:data:`~steerid.scorers.cv.FEATURE_SETS`) × ``C``; for a context head the weight
   ``γ`` of the context columns (:data:`~steerid.scorers.cv.CONTEXT_WEIGHTS`) is then chosen for
   the winner. Lowest mean CV log-loss wins (ties: the candidate listed first, i.e. fewer
   features).
3. Calibration: a temperature ``T`` fitted on the chosen candidate's out-of-fold log-odds.
4. Refit on the whole training split and write the head (JSON: coefficients — with ``γ``
   folded in, so ``z = coef · (x − μ)/σ + b`` —, standardisation, features, ``T``, seed, ``C``,
   CV table, data SHA-256s, library versions). Same data + same seed → byte-identical head.
5. Validate the written head, loaded back from disk, on both held-out sets and write its card
   (:mod:`steerid.scorers.cards`, :mod:`steerid.scorers.validate`). The independent validation
   set plays no part in steps 1–4.

Command line: ``python -m steerid.scorers.train [name ...]`` (all by default).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import __version__ as sklearn_version
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from steerid.errors import ScorerError
from steerid.io import atomic_write_json
from steerid.scorers.cards import build_card, head_card, library_versions, out_dirs, write_card
from steerid.scorers.cv import (
    C_GRID,
    CONTEXT_WEIGHTS,
    ENCODER_SETS,
    FEATURE_SETS,
    N_FOLDS,
    best,
    cv_table,
    fit_temperature,
    folds,
)
from steerid.scorers.design import CONTEXT_SPECS, TrainingDesign, text_groups
from steerid.scorers.embedding import ENCODERS, EmbeddingBackend, resolve_backends
from steerid.scorers.head import HEAD_FORMAT, head_path
from steerid.scorers.labelled import data_path, load_labelled
from steerid.scorers.lexical import FEATURE_GROUPS
from steerid.scorers.specs import HEAD_TRAITS, SPECS, get_spec
from steerid.scorers.validate import validate

__all__ = ["build_card", "fit_temperature", "main", "train_all", "train_head", "validate"]

Candidate = tuple[tuple[str, ...], tuple[str, ...], float]
"""(encoder keys, lexical feature groups, context weight γ)."""


def _check_candidates(feature_sets: tuple[tuple[str, ...], ...], encoder_sets: tuple[tuple[str, ...], ...]) -> None:
    for groups in feature_sets:
        unknown = [g for g in groups if g not in FEATURE_GROUPS]
        if unknown:
            raise ScorerError(f"unknown feature groups {unknown}", f"use groups from {', '.join(FEATURE_GROUPS)}")
    for encs in encoder_sets:
        unknown = [e for e in encs if e not in ENCODERS]
        if unknown or not encs:
            raise ScorerError(f"unknown encoders {unknown or list(encs)}", f"use keys from {', '.join(ENCODERS)}")


def select_candidate(
    design: TrainingDesign,
    splits: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
    *,
    c_grid: tuple[float, ...],
    feature_sets: tuple[tuple[str, ...], ...],
    encoder_sets: tuple[tuple[str, ...], ...],
    context_weights: tuple[float, ...],
) -> tuple[str, Candidate, dict[str, list[dict[str, float]]], dict[str, dict[str, float]]]:
    """Cross-validate every candidate and return ``(chosen key, candidate, CV grid, best per key)``."""
    has_context = design.context_block is not None
    y = design.y
    cv: dict[str, list[dict[str, float]]] = {}
    best_row: dict[str, dict[str, float]] = {}
    candidates: dict[str, Candidate] = {}
    for encs in encoder_sets:
        for groups in feature_sets:
            key = "+".join((*encs, *groups)) + ("+context" if has_context else "")
            cv[key], _ = cv_table(design.matrix(encs, groups), y, splits, seed, c_grid)
            best_row[key] = best(cv[key])
            candidates[key] = (encs, groups, 1.0)
    chosen = min(candidates, key=lambda k: best_row[k]["cv_log_loss"])
    if has_context:
        encs, groups, _ = candidates[chosen]
        base = chosen
        x = design.matrix(encs, groups)
        for gamma in context_weights:
            if gamma == 1.0:
                continue
            key = f"{base}*{gamma:g}"
            cv[key], _ = cv_table(x, y, splits, seed, c_grid, design.weights(x.shape[1], gamma))
            best_row[key] = best(cv[key])
            candidates[key] = (encs, groups, gamma)
        chosen = min((k for k in candidates if k == base or k.startswith(f"{base}*")), key=lambda k: best_row[k]["cv_log_loss"])
    return chosen, candidates[chosen], cv, best_row


def fit_linear_head(x: np.ndarray, y: np.ndarray, oof: np.ndarray, c_best: float, seed: int,
                    weights: np.ndarray | None = None) -> dict[str, Any]:
    """The fitted part of an embedding head: standardise → L2 logistic regression at ``C = c_best``.

    The standardisation (mean, scale) and the coefficients are fitted on every row of ``x``; with
    column ``weights`` w the model is fitted on w·z(x) and the stored coefficients are w·β, so
    the head scores z(x)·(w·β) + b. The calibration temperature T is fitted on the out-of-fold
    log-odds ``oof`` (:func:`steerid.scorers.cv.fit_temperature`): p = σ(z / T). Both head
    trainers (the packaged heads here, a trait directory's head in
    :mod:`steerid.traits.trait_head`) build their head JSON from this one fit.

    Returns:
        ``{"standardize": {"mean", "scale"}, "coef", "intercept", "temperature"}``.
    """
    temperature = fit_temperature(oof, y)
    scaler = StandardScaler().fit(x)
    w = weights if weights is not None else 1.0
    clf = LogisticRegression(C=c_best, max_iter=5000, random_state=seed).fit(scaler.transform(x) * w, y)
    return {"standardize": {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()},
            "coef": (clf.coef_[0].astype(np.float64) * w).tolist(), "intercept": float(clf.intercept_[0]),
            "temperature": temperature}


def train_head(
    trait: str,
    seed: int = 0,
    *,
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    backend: EmbeddingBackend | None = None,
    backends: dict[str, EmbeddingBackend] | None = None,
    c_grid: tuple[float, ...] = C_GRID,
    feature_sets: tuple[tuple[str, ...], ...] = FEATURE_SETS,
    encoder_sets: tuple[tuple[str, ...], ...] = ENCODER_SETS,
    context_weights: tuple[float, ...] = CONTEXT_WEIGHTS,
    validation_dir: Path | None = None,
    measure_speed: bool = True,
) -> dict[str, Any]:
    """Train the embedding head of ``trait``, write it and its card, and return the card.

    Args:
        trait: One of :data:`~steerid.scorers.specs.HEAD_TRAITS`.
        seed: Seeds the CV fold shuffle and the solver; same data + seed → identical head.
        data_dir: Directory holding ``<trait>.jsonl``; the packaged ``data/`` by default.
        out_dir: Write ``heads/`` and ``cards/`` under this directory instead of the package.
        backend: An embedding backend to use for the encoder it is (tests pass the MiniLM).
        backends: ``{encoder key: backend}``; missing encoders use the shared backends.
        c_grid: ``C`` values tried by cross-validation.
        feature_sets: Candidate combinations of lexical feature groups; ``()`` is none.
        encoder_sets: Candidate encoder combinations (keys of the embedding registry).
        context_weights: Candidate weights of the context columns (context heads only).
        validation_dir: Directory of the independent validation sets (packaged by default).
        measure_speed: Time loading and scoring for the card (off in quick tests).

    Returns:
        The card dict (see :func:`~steerid.scorers.cards.build_card`), also written to
        ``cards/<trait>.json``.

    Raises:
        ScorerError: Unknown or non-head trait, unknown encoder or feature group.
        DataError: Missing or malformed data file.
    """
    spec = get_spec(trait)
    if spec.kind != "embedding_head":
        raise ScorerError(f"{trait!r} is not a trainable head", f"train one of: {', '.join(HEAD_TRAITS)}")
    _check_candidates(feature_sets, encoder_sets)
    data = load_labelled(spec.data, data_dir)
    ctx_spec = CONTEXT_SPECS.get(trait)
    if ctx_spec and encoder_sets is ENCODER_SETS:
        encoder_sets = tuple(ctx_spec["encoder_sets"])
    keys = {e for encs in encoder_sets for e in encs} | ({ctx_spec["encoder"]} if ctx_spec else set())
    used = resolve_backends(keys, backend, backends)
    design = TrainingDesign(trait, data.train, used, data_dir, seed)
    y = design.y
    splits = folds(y, text_groups(design.texts), seed)
    chosen, (encs, groups, gamma), cv, best_row = select_candidate(
        design, splits, seed, c_grid=c_grid, feature_sets=feature_sets, encoder_sets=encoder_sets,
        context_weights=context_weights,
    )
    c_best = best_row[chosen]["C"]
    x = design.matrix(encs, groups)
    w = design.weights(x.shape[1], gamma)
    _, oof = cv_table(x, y, splits, seed, (c_best,), w, oof_for=c_best)
    fit = fit_linear_head(x, y, oof, c_best, seed, w)
    head = {
        "format": HEAD_FORMAT,
        "name": spec.name,
        "trait": spec.trait,
        "higher_means": spec.higher_means,
        "features": {
            "encoders": [{**used[e].identity(), "key": e} for e in encs],
            "lexical": [name for g in groups for name in FEATURE_GROUPS[g]],
            "context": design.context_block,
        },
        "standardize": fit["standardize"],
        "coef": fit["coef"],
        "intercept": fit["intercept"],
        "calibration": {"method": "temperature", "temperature": fit["temperature"],
                        "fitted_on": "out-of-fold log-odds, train split"},
        "training": {
            "data_file": f"data/{data.path.name}",
            "data_sha256": data.sha256,
            **design.extra_sha,
            "n_train": len(data.train),
            "n_train_positive": int(y.sum()),
            "n_train_with_context": design.n_with_context,
            "seed": int(seed),
            "C": c_best,
            "context_weight": gamma if ctx_spec else None,
            "feature_set": chosen,
            "cv": {
                "n_folds": N_FOLDS,
                "folds": "stratified, grouped by text, shuffled with the seed",
                "selection": "min mean CV log-loss",
                "best": best_row,
                "grid": cv,
            },
            "sklearn_version": sklearn_version,
            "versions": library_versions(),
        },
    }
    heads_dir, cards_dir = out_dirs(out_dir)
    atomic_write_json(head_path(trait, heads_dir), head)
    card = head_card(trait, data, heads_dir, used, validation_dir, measure_speed)
    write_card(card, cards_dir)
    return card


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
        spec = get_spec(name)
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
        get_spec(name)
    missing = [n for n in names if not data_path(SPECS[n].data).exists()]
    cards = train_all(names=[n for n in names if n not in missing])
    for name, card in cards.items():
        v, t = card["metrics"], card["test_metrics"]
        print(
            f"{name:22s} test acc={t['accuracy']:.3f} auc={t['roc_auc']:.3f} | validation acc={v['accuracy']:.3f} "
            f"auc={v['roc_auc']:.3f} | target={card['target']['value']:.2f} meets={card['meets_target']}"
        )
    for name in missing:
        print(f"{name:22s} skipped: no data file {data_path(SPECS[name].data)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
