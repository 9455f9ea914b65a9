"""An embedding head trained on a custom trait's own pair texts (the scorer of a trait directory).

Every pair gives two labelled texts, ``positive`` → 1 and ``negative`` → 0 (held-out pairs
included; a directory's own ``likelihood.jsonl`` items too). Features are the unit-norm MiniLM
embeddings; the model is standardise → L2 logistic regression, ``C`` chosen from
:data:`steerid.scorers.cv.C_GRID` by the scorers' own cross-validation
(:func:`steerid.scorers.cv.folds` / :func:`~steerid.scorers.cv.cv_table` /
:func:`~steerid.scorers.cv.best`: 5 stratified folds grouped by pair, so a pair's two replies
never straddle a fold, shuffled with ``seed``; lowest mean fold log-loss), calibrated with
:func:`steerid.scorers.cv.fit_temperature` on the out-of-fold log-odds, then refitted on every
text. The card reports the cross-validated (out-of-fold, calibrated) metrics against
:data:`AUTO_TARGET_ACCURACY`; ``meets_target`` is false below it, and the audit report warns as
for built-in scorers. There is no independent validation set: texts a steered model writes
differ from hand-written pairs, so treat the CV accuracy as an upper bound. The head and card
are JSON (no pickle) in ``<cache_dir>/<trait>-<content hash[:16]>/``, reused while the training
texts, seed, encoder weights and trainer version are unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steerid.errors import ScorerError
from steerid.io import atomic_write_json, cache_root, sha256_texts
from steerid.traits.schema import Trait, normalize_text

if TYPE_CHECKING:  # numpy loads with the first scorer, not with `import steerid.traits`
    import numpy as np

AUTO_TARGET_ACCURACY = 0.85
"""Cross-validated accuracy an auto-trained head must reach for ``meets_target``."""
TRAINER = "steerid.trait-head/2"
"""Version of the training recipe below (part of the cache key; 2 = the scorers' shared CV)."""
N_FOLDS = 5
"""Cross-validation folds (that of :mod:`steerid.scorers.cv`)."""
MIN_TRAIN_PAIRS = 10
"""Fewest pairs an auto-trained head needs (two per fold)."""


def default_cache_dir() -> Path:
    """``$STEERID_CACHE/trait-scorers`` (default ``~/.cache/steerid/trait-scorers``)."""
    return cache_root() / "trait-scorers"


# --------------------------------------------------------------------------------------------
# an embedding head trained on the trait's pairs


def pair_texts(trait: Trait) -> tuple[list[str], np.ndarray, list[int]]:
    """Labelled texts of a trait: ``(texts, labels, group per text)``, duplicates dropped.

    Extraction and held-out pairs give ``positive`` → 1 and ``negative`` → 0 (group = pair); a
    directory's own likelihood items (not derived ones, which repeat held-out pairs) are added the
    same way. A text seen before (case, spacing and punctuation ignored) is skipped.
    """
    import numpy as np

    items: list[tuple[str, str]] = [(p.positive, p.negative) for p in trait.all_pairs]
    if "likelihood_items" not in trait.derived:
        items += [(item.positive, item.negative) for item in trait.likelihood]
    texts: list[str] = []
    labels: list[int] = []
    groups: list[int] = []
    seen: set[str] = set()
    for group, pair in enumerate(items):
        for label, text in ((1, pair[0]), (0, pair[1])):
            key = normalize_text(text)
            if key not in seen:
                seen.add(key)
                texts.append(text)
                labels.append(label)
                groups.append(group)
    return texts, np.asarray(labels, dtype=np.int64), groups


def card_metrics(prob: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Probability metrics of a card (accuracy, AUC, log-loss, ECE ...) of scores ``prob`` against labels ``y``."""
    import numpy as np

    from steerid.scorers.metrics import probability_metrics

    return probability_metrics(np.asarray(prob, dtype=np.float64), y, [() for _ in range(len(y))])


def _cv(x: np.ndarray, y: np.ndarray, groups: list[int], seed: int, c_grid: tuple[float, ...]
        ) -> tuple[list[dict[str, float]], float, np.ndarray]:
    """The scorers' CV (:mod:`steerid.scorers.cv`): its table per ``C``, the best ``C`` and its out-of-fold log-odds."""
    from steerid.scorers.cv import best, cv_table, folds

    splits = folds(y, [str(g) for g in groups], seed)
    table, _ = cv_table(x, y, splits, seed, c_grid)
    c_best = best(table)["C"]
    _, oof = cv_table(x, y, splits, seed, c_grid, oof_for=c_best)
    return table, c_best, oof


def train_trait_head(
    trait: Trait,
    *,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    backend: Any = None,
    c_grid: tuple[float, ...] | None = None,
    force: bool = False,
) -> Any:
    """Train (or reuse from the cache) an embedding head on ``trait``'s pair texts.

    Args:
        trait: A loaded trait with at least :data:`MIN_TRAIN_PAIRS` pairs.
        seed: Seeds the fold shuffle and the solver; same texts + seed → the same head file.
        cache_dir: Folder for ``<trait>-<hash16>/<name>.head.json`` and ``<name>.json`` (the card).
        backend: Embedding backend (the shared MiniLM by default).
        c_grid: ``C`` values tried (:data:`steerid.scorers.cv.C_GRID` by default).
        force: Retrain even when a matching cached head exists.

    Returns:
        An :class:`~steerid.scorers.head.EmbeddingHeadScorer` named ``<trait>_auto`` whose
        ``card()`` is the cross-validated card.

    Raises:
        ScorerError: too few pairs to cross-validate.
    """
    from scipy.special import expit

    from steerid.scorers.cv import C_GRID
    from steerid.scorers.embedding import get_backend
    from steerid.scorers.head import HEAD_FORMAT, EmbeddingHeadScorer
    from steerid.scorers.train import fit_linear_head

    texts, y, groups = pair_texts(trait)
    n_groups = len(set(groups))
    if n_groups < MIN_TRAIN_PAIRS or len(set(y.tolist())) < 2:
        raise ScorerError(
            f"trait '{trait.name}' has {n_groups} pairs, too few to train and cross-validate a scorer "
            f"(need {MIN_TRAIN_PAIRS})",
            "add pairs, or give --scorer hf:PATH --label-map pos=...,neg=...",
        )
    used = backend if backend is not None else get_backend()
    key = getattr(used, "key", None) or "minilm"
    encoder = {**used.identity(), "key": key}
    grid = tuple(sorted(c_grid or C_GRID))
    data_sha = sha256_texts(f"{label}\x00{text}" for label, text in zip(y.tolist(), texts))
    name = f"{trait.name}_auto"
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = folder / f"{trait.name}-{trait.content_hash[:16]}"
    head_file, card_file = folder / f"{name}.head.json", folder / f"{name}.json"
    expected = {"trainer": TRAINER, "data_sha256": data_sha, "seed": int(seed), "c_grid": list(grid),
                "encoder_sha256": encoder.get("weights_sha256")}
    if not force and head_file.is_file() and card_file.is_file():
        try:
            head = json.loads(head_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            head = None  # a torn or foreign file: retrain and overwrite it below
        if isinstance(head, dict) and {k: head.get("training", {}).get(k) for k in expected} == expected:
            return EmbeddingHeadScorer(head, backend=used, cards_dir=folder)

    x = used.encode(texts, cache=False)
    table, c_best, oof = _cv(x, y, groups, seed, grid)
    best = next(row for row in table if row["C"] == c_best)
    fit = fit_linear_head(x, y, oof, c_best, seed)  # the packaged heads' fit (steerid.scorers.train)
    temperature = fit["temperature"]
    head = {
        "format": HEAD_FORMAT, "name": name, "trait": trait.name,
        "higher_means": f"more {trait.info.positive_label} (less {trait.info.negative_label})",
        "features": {"encoders": [encoder], "lexical": [], "context": None},
        "standardize": fit["standardize"], "coef": fit["coef"], "intercept": fit["intercept"],
        "calibration": {"method": "temperature", "temperature": temperature, "fitted_on": "out-of-fold log-odds"},
        "training": {**expected, "trait_source": trait.source, "trait_content_hash": trait.content_hash,
                     "n_train": len(texts), "n_pairs": n_groups, "C": c_best, "feature_set": key,
                     "cv": {"n_folds": N_FOLDS, "folds": "stratified, grouped by pair, shuffled with the seed",
                            "selection": "min CV log-loss", "grid": table}},
    }
    metrics = card_metrics(expit(oof / temperature), y)
    card = {
        "name": name, "trait": trait.name, "kind": "embedding_head_auto", "higher_means": head["higher_means"],
        "target": {"metric": "accuracy", "split": "cross-validation", "value": AUTO_TARGET_ACCURACY},
        "meets_target": bool(metrics["accuracy"] >= AUTO_TARGET_ACCURACY), "metrics": metrics,
        "data": {"trait_source": trait.source, "trait_content_hash": trait.content_hash, "data_sha256": data_sha,
                 "n_texts": len(texts), "n_pairs": n_groups, "derived": dict(trait.derived)},
        "head": {"file": head_file.name, "encoder": encoder, "C": c_best, "temperature": temperature,
                 "seed": int(seed), "cv_best": best},
        "notes": [
            f"Trained on the trait's own pair texts ({trait.source}); metrics are {N_FOLDS}-fold cross-validated "
            "(out-of-fold, calibrated), grouped by pair.",
            "No independent validation set: text a steered model writes differs from hand-written pairs, so "
            "treat this accuracy as an upper bound.",
        ],
    }
    atomic_write_json(head_file, head)
    atomic_write_json(card_file, card)
    return EmbeddingHeadScorer(head, backend=used, cards_dir=folder)
