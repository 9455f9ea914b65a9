r"""Per-draw equivalence tests as one-sided paired t-tests on per-prompt linear combinations, vectorised.

Every function takes arrays whose **last axis is prompts** and whose leading axes are anything
(draws, simulated repetitions, …), so the audit and the calibration simulation run the very same code.

**Relative margin (paired Fieller form).** With S_i = score_i(s·v) − score_i(none) (v's own shift,
sign s known from the design) and T_i = score_i(s·v + v⊥) − score_i(none), equivalence within
(1 ± ε) of v's shift is shown when all three one-sided paired t-tests reject:

    lower   u_i = s·(T_i − (1 − ε)·S_i)     H₀: E u ≤ 0
    upper   w_i = s·((1 + ε)·S_i − T_i)     H₀: E w ≤ 0
    shift   S'_i = s·S_i                     H₀: E S' ≤ 0   (v's own shift shown in the same test)

p_tost = max(p_lower, p_upper, p_shift) (intersection–union: its level is the level of each part).
The third test is the stated rule for a draw whose reference shift is not shown: the Fieller
interval of μ_T/μ_S at level 1 − 2a is bounded exactly when |mean S|/se(S) > t_{1−a}, so a draw is
never called equivalent on an unbounded interval. The Fieller interval is the set of r with
(m_T − r·m_S)² ≤ q²·(v_TT − 2r·v_TS + r²·v_SS)/n, q = t_{1−a, n−1} (NaN bounds when unbounded).

**d_z margin.** On D_i = T_i − S_i with bounds ±δ·sd(D) (the sample SD): p_lower = P(t ≥ (m − low)/se),
p_upper = P(t ≤ (m − high)/se), identical to :func:`steerid.stats.paired_tost` with ``margin_dz``.

**Shown different.** ``p_difference`` is the one-sided p of the paired t-test of D in the direction
of its mean (= half the two-sided p): below a exactly when the 1 − 2a interval excludes "no difference"
(ratio 1, or difference 0) — the same test on both margins, since μ_T/μ_S ≠ 1 ⇔ μ_T ≠ μ_S.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as st


def greater_p(x: Any) -> np.ndarray:
    """p of H₀: E x ≤ 0 against E x > 0 by a one-sample t-test along the last axis.

    A sample with no spread is decided exactly (p 0 when its value is > 0, else 1), as
    :func:`steerid.stats.ratio_tost_paired` does.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    m = x.mean(axis=-1)
    same = np.all(x == x[..., :1], axis=-1)
    sd = np.where(same, 0.0, x.std(axis=-1, ddof=1))
    se = sd / np.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, m / np.where(se > 0, se, 1.0), 0.0)
    return np.where(se > 0, st.t.sf(t, n - 1), np.where(m > 0, 0.0, 1.0))


def _moments(T: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, ...]:
    n = T.shape[-1]
    mT, mS = T.mean(-1), S.mean(-1)
    dT, dS = T - mT[..., None], S - mS[..., None]
    return mT, mS, (dT * dT).sum(-1) / (n - 1), (dT * dS).sum(-1) / (n - 1), (dS * dS).sum(-1) / (n - 1)


def fieller_interval(T: Any, S: Any, level: Any) -> tuple[np.ndarray, np.ndarray]:
    """Paired Fieller interval of μ_T/μ_S at confidence 1 − 2·``level`` (NaN where unbounded)."""
    T = np.asarray(T, dtype=np.float64)
    S = np.broadcast_to(np.asarray(S, dtype=np.float64), T.shape)
    n = T.shape[-1]
    mT, mS, vTT, vTS, vSS = _moments(T, S)
    q2 = st.t.isf(np.asarray(level, dtype=np.float64), n - 1) ** 2 / n
    A = mS * mS - q2 * vSS
    B = mT * mS - q2 * vTS
    C = mT * mT - q2 * vTT
    disc = np.maximum(B * B - A * C, 0.0)
    bounded = A > 0
    safe = np.where(bounded, A, 1.0)
    lo = np.where(bounded, (B - np.sqrt(disc)) / safe, np.nan)
    hi = np.where(bounded, (B + np.sqrt(disc)) / safe, np.nan)
    return lo, hi


def relative_tost(T: Any, S: Any, *, sign: Any, margin: float, level: Any) -> dict[str, np.ndarray]:
    """Per-draw relative TOST (module docstring) with its Fieller interval at 1 − 2·``level``.

    Args:
        T: (..., n) shifts of s·v + v⊥ vs none.
        S: (..., n) or (n,) shifts of s·v vs none (broadcast against T).
        sign: s, the expected sign of v's shift (+1 or −1; broadcast against T's leading axes).
        margin: ε in (0, 1).
        level: one-sided level the interval is drawn at (the decision's try level).

    Returns:
        Arrays over the leading axes: ``estimate`` (m_T/m_S, NaN when m_S = 0), ``ci_low``, ``ci_high``,
        ``p_lower``, ``p_upper``, ``p_shift``, ``p_tost``, ``p_above`` (ratio > 1 + ε shown),
        ``p_below`` (ratio < 1 − ε shown), ``p_difference``.
    """
    T = np.asarray(T, dtype=np.float64)
    S = np.broadcast_to(np.asarray(S, dtype=np.float64), T.shape)
    s = np.asarray(sign, dtype=np.float64)[..., None]
    u = s * (T - (1.0 - margin) * S)
    w = s * ((1.0 + margin) * S - T)
    p_lower, p_upper, p_shift = greater_p(u), greater_p(w), greater_p(s * S)
    d = T - S
    p_difference = np.minimum(greater_p(d), greater_p(-d))
    mS = S.mean(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = np.where(mS != 0, T.mean(-1) / np.where(mS != 0, mS, 1.0), np.nan)
    lo, hi = fieller_interval(T, S, level)
    return {"estimate": estimate, "ci_low": lo, "ci_high": hi, "p_lower": p_lower, "p_upper": p_upper,
            "p_shift": p_shift, "p_tost": np.maximum(np.maximum(p_lower, p_upper), p_shift),
            "p_above": greater_p(-w), "p_below": greater_p(-u), "p_difference": p_difference}


def dz_tost(D: Any, *, margin_dz: float, level: Any) -> dict[str, np.ndarray]:
    """Per-draw paired TOST of D = T − S at ±margin_dz·sd(D), with the 1 − 2·``level`` interval of the mean.

    Returns arrays ``mean``, ``low``, ``high`` (raw bounds), ``ci_low``, ``ci_high``, ``p_lower``,
    ``p_upper``, ``p_tost``, ``p_difference``. A sample without spread has a zero-width margin and
    is never equivalent (p_tost 1).
    """
    D = np.asarray(D, dtype=np.float64)
    n = D.shape[-1]
    m = D.mean(-1)
    same = np.all(D == D[..., :1], axis=-1)
    sd = np.where(same, 0.0, D.std(-1, ddof=1))
    se = sd / np.sqrt(n)
    low, high = -margin_dz * sd, margin_dz * sd
    pos = se > 0
    safe = np.where(pos, se, 1.0)
    p_lower = np.where(pos, st.t.sf((m - low) / safe, n - 1), 1.0)
    p_upper = np.where(pos, st.t.cdf((m - high) / safe, n - 1), 1.0)
    half = st.t.isf(np.asarray(level, dtype=np.float64), n - 1) * se
    return {"mean": m, "low": low, "high": high, "ci_low": m - half, "ci_high": m + half, "p_lower": p_lower,
            "p_upper": p_upper, "p_tost": np.maximum(p_lower, p_upper),
            "p_difference": np.minimum(greater_p(D), greater_p(-D))}
