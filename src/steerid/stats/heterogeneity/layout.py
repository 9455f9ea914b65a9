r"""The draws × prompts matrix ``D[j, i]`` and its two-way decomposition (shared with radius).

``D_ji = μ + a_j + b_i + e_ji``: row means D̄_j·, column means D̄_·i, grand mean D̄,

    MS_draw  = n Σ_j (D̄_j· − D̄)² / (J − 1),
    MS_error = Σ_ji (D_ji − D̄_j· − D̄_·i + D̄)² / ((J − 1)(n − 1)),

``τ̂² = max(0, (MS_draw − MS_error)/n)``, and the share of directions inside ±δ for draw effects
~ N(μ, τ²), ``π = Φ((δ − μ)/τ) − Φ((−δ − μ)/τ)`` (τ = 0: ``1[|μ| < δ]``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as st

from steerid.errors import DataError

_BOOT_BLOCK = 4_000_000  # resampled matrix entries per bootstrap block (memory bound)


def as_draw_matrix(values: object, name: str = "D") -> np.ndarray:
    """Return ``values`` as a finite (J ≥ 2) × (n ≥ 3) float64 array, else raise DataError."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} is not numeric ({exc})",
                        f"pass {name} as a (draws × prompts) array of score differences") from exc
    if arr.ndim != 2:
        raise DataError(f"{name} must be 2-D (draws × prompts), got shape {arr.shape}",
                        "stack one row of per-prompt differences per v⊥ draw")
    j, n = arr.shape
    if j < 2:
        raise DataError(f"{name} has {j} draw(s); at least 2 are needed", "run at least 2 (better ≥ 8) v⊥ draws")
    if n < 3:
        raise DataError(f"{name} has {n} prompt(s) per draw; at least 3 are needed", "score more prompts per draw")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise DataError(f"{name} contains {bad} NaN/inf value(s)", "drop or re-score the affected prompts in every draw")
    return arr


def two_way(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grand mean, MS_draw, MS_error and pooled within-draw variance of ``x`` (..., J, n)."""
    j, n = x.shape[-2:]
    row = x.mean(axis=-1)
    col = x.mean(axis=-2)
    grand = row.mean(axis=-1)
    ms_draw = n * ((row - grand[..., None]) ** 2).sum(axis=-1) / (j - 1)
    resid = x - row[..., :, None] - col[..., None, :] + grand[..., None, None]
    ms_error = (resid * resid).sum(axis=(-2, -1)) / ((j - 1) * (n - 1))
    within = x - row[..., None]
    s2_pool = (within * within).sum(axis=(-2, -1)) / (j * (n - 1))
    return grand, ms_draw, ms_error, s2_pool


def two_way_exact(x: np.ndarray) -> tuple[float, float, float, float]:
    """:func:`two_way` of one (J, n) matrix as floats; a constant matrix gives exactly (x₀₀, 0, 0, 0).

    Decided by equality of the values: rounding makes the mean squares of identical values
    slightly positive.
    """
    if bool(np.all(x == x[0, 0])):
        return float(x[0, 0]), 0.0, 0.0, 0.0
    grand, ms_draw, ms_error, s2_pool = two_way(x)
    return float(grand), float(ms_draw), float(ms_error), float(s2_pool)


def share_inside(mu: np.ndarray | float, tau: np.ndarray | float, delta: np.ndarray | float) -> np.ndarray:
    """π = Φ((δ − μ)/τ) − Φ((−δ − μ)/τ); for τ = 0 the indicator |μ| < δ."""
    mu, tau, delta = np.broadcast_arrays(np.asarray(mu, dtype=np.float64), np.asarray(tau, dtype=np.float64),
                                         np.asarray(delta, dtype=np.float64))
    pos = tau > 0.0
    safe = np.where(pos, tau, 1.0)
    smooth = st.norm.cdf((delta - mu) / safe) - st.norm.cdf((-delta - mu) / safe)
    return np.where(pos, np.maximum(smooth, 0.0), (np.abs(mu) < delta).astype(np.float64))


def boot_estimates(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, ...]:
    """Grand mean, τ̂² and pooled within-draw variance for resampled matrices x[rows_b][:, cols_b].

    ``rows`` is (B, J) and ``cols`` (B, n) integer index arrays; computed in blocks.
    """
    b_total = rows.shape[0]
    j, n = rows.shape[1], cols.shape[1]
    block = max(1, _BOOT_BLOCK // (j * n))
    mu = np.empty(b_total)
    tau2 = np.empty(b_total)
    s2 = np.empty(b_total)
    for start in range(0, b_total, block):
        r = rows[start:start + block]
        c = cols[start:start + block]
        xb = x[r[:, :, None], c[:, None, :]]
        g, msd, mse, s2p = two_way(xb)
        mu[start:start + block] = g
        tau2[start:start + block] = np.maximum(0.0, (msd - mse) / n)
        s2[start:start + block] = s2p
    return mu, tau2, s2


def per_draw_tost(x: np.ndarray, low: float, high: float, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row paired TOST against fixed raw bounds: (means, p_tost, equivalent) as in paired_tost."""
    n = x.shape[1]
    const = np.all(x == x[:, :1], axis=1)
    m = np.where(const, x[:, 0], x.mean(axis=1))
    sd = np.where(const, 0.0, x.std(axis=1, ddof=1))
    se = sd / math.sqrt(n)
    pos = se > 0.0
    safe = np.where(pos, se, 1.0)
    p1 = np.where(pos, st.t.sf((m - low) / safe, n - 1), np.where(m > low, 0.0, 1.0))
    p2 = np.where(pos, st.t.cdf((m - high) / safe, n - 1), np.where(m < high, 0.0, 1.0))
    p = np.maximum(p1, p2)
    return m, p, p < alpha
