"""Cross-validated model selection for the embedding heads (training split only).

Folds: stratified 5-fold (``N_FOLDS``), shuffled with ``seed`` and grouped by text (a reply that
appears under two opposite opinions never straddles a fold).

Model per candidate feature matrix ``X`` and inverse L2 strength ``C`` (:data:`C_GRID`):
standardise each column on the fold's training rows (``x' = (x − μ) / σ``), multiply an
optional column-weight vector ``w`` (a weight ``γ`` on a group of columns divides its
effective L2 penalty by ``γ²``), then L2 logistic regression::

    min_β,b   ½‖β‖² + C Σ_i log(1 + exp(−y_i (β · x'_i + b)))     y_i ∈ {−1, +1}

solved with lbfgs (``random_state=seed``), warm-started along increasing ``C``. Each candidate
is scored by the mean validation-fold log-loss (:func:`~steerid.scorers.metrics.binary_log_loss`)
and accuracy; :func:`best` picks the lowest log-loss (ties: the smaller ``C``).

Calibration (:func:`fit_temperature`): with ``z`` the chosen candidate's out-of-fold log-odds,
``T = argmin_T −mean log σ(y · z / T)`` over ``T ∈`` :data:`TEMPERATURE_BOUNDS` (bounded
Brent search on ``log T``); the head's score is ``σ(z / T)``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_expit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.preprocessing import StandardScaler

from steerid.scorers.lexical import FEATURE_GROUPS
from steerid.scorers.metrics import accuracy, binary_log_loss

C_GRID: tuple[float, ...] = tuple(float(c) for c in np.logspace(-3.5, -0.5, 7))
"""Inverse L2 strengths tried by cross-validation (on standardised features)."""
N_FOLDS = 5
FEATURE_SETS: tuple[tuple[str, ...], ...] = tuple(
    combo for k in range(len(FEATURE_GROUPS) + 1) for combo in itertools.combinations(FEATURE_GROUPS, k)
)
"""Candidate lexical feature-group combinations (every subset of the groups), simplest first."""
ENCODER_SETS: tuple[tuple[str, ...], ...] = (("mpnet",), ("minilm", "mpnet"))
"""Candidate encoder combinations (embeddings concatenated), simplest first."""
CONTEXT_WEIGHTS: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0)
"""Candidate weights of the context columns (larger → weaker effective L2 penalty on them)."""
TEMPERATURE_BOUNDS = (0.25, 4.0)


def folds(y: np.ndarray, groups: list[str], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, grouped, seeded ``N_FOLDS``-fold split: ``[(train_idx, val_idx), …]``."""
    codes = {g: i for i, g in enumerate(dict.fromkeys(groups))}
    group_ids = np.array([codes[g] for g in groups])
    splitter = StratifiedGroupKFold(n_splits=N_FOLDS, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y, group_ids))


def cv_table(
    x: np.ndarray,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
    c_grid: tuple[float, ...],
    col_weight: np.ndarray | None = None,
    *,
    oof_for: float | None = None,
) -> tuple[list[dict[str, float]], np.ndarray | None]:
    """CV log-loss and accuracy per ``C`` (and the out-of-fold log-odds at ``C = oof_for``)."""
    grid = sorted(c_grid)
    losses = np.zeros((len(grid), len(splits)))
    accs = np.zeros((len(grid), len(splits)))
    oof = np.zeros(len(y)) if oof_for is not None else None
    for f, (train_idx, val_idx) in enumerate(splits):
        scaler = StandardScaler().fit(x[train_idx])
        xt, xv = scaler.transform(x[train_idx]), scaler.transform(x[val_idx])
        if col_weight is not None:
            xt, xv = xt * col_weight, xv * col_weight
        # Warm start along increasing C (a regularisation path): same optimum, far fewer iterations.
        clf = LogisticRegression(max_iter=5000, random_state=seed, warm_start=True)
        for k, c in enumerate(grid):
            clf.set_params(C=c).fit(xt, y[train_idx])
            z = clf.decision_function(xv)
            prob = expit(z)
            losses[k, f] = binary_log_loss(prob, y[val_idx])
            accs[k, f] = accuracy((prob >= 0.5).astype(int), y[val_idx])
            if oof is not None and c == oof_for:
                oof[val_idx] = z
    table = [
        {"C": c, "cv_log_loss": float(losses[k].mean()), "cv_accuracy": float(accs[k].mean())}
        for k, c in enumerate(grid)
    ]
    return table, oof


def best(table: list[dict[str, float]]) -> dict[str, float]:
    """The row of a CV table with the lowest mean log-loss (ties: the smaller ``C``)."""
    return min(table, key=lambda row: (row["cv_log_loss"], row["C"]))


def fit_temperature(z: np.ndarray, y: np.ndarray) -> float:
    """Temperature ``T`` minimising the log-loss of ``sigmoid(z / T)`` (bounded, deterministic)."""
    z = np.asarray(z, dtype=np.float64)
    sign = np.where(np.asarray(y) == 1, 1.0, -1.0)

    def loss(log_t: float) -> float:
        return float(-np.mean(log_expit(sign * z / math.exp(log_t))))

    lo, hi = (math.log(b) for b in TEMPERATURE_BOUNDS)
    res = minimize_scalar(loss, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6})
    return float(round(math.exp(res.x), 6))
