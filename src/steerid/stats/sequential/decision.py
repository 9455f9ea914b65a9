"""The decision rule of one look of a group-sequential paired TOST.

With ``m_k``, ``s_k`` the mean and SD of the first ``n_k`` differences, ``se_k = s_k/√n_k`` and
bounds ``(low, high)``:

    p_lower = P(T ≥ (m_k − low)/se_k),   p_upper = P(T ≤ (m_k − high)/se_k),   T ~ t_{n_k−1}

- **equivalent** when ``p_lower < α_k`` and ``p_upper < α_k`` (the repeated CI
  ``m_k ± t*_k·se_k`` lies strictly inside ``(low, high)``);
- **not equivalent** when the repeated CI lies entirely above ``high`` or below ``low``
  (non-binding futility), or at the last look when equivalence is not shown;
- **continue** otherwise.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import stats as st

Decision = Literal["equivalent", "not equivalent", "continue"]


def _one_sided(m: np.ndarray, se: np.ndarray, df: np.ndarray, low: np.ndarray, high: np.ndarray
               ) -> tuple[np.ndarray, ...]:
    """t statistics and the four one-sided p-values (se = 0 decided deterministically).

    Returns t_lower, t_upper, p_lower (H₀: μ ≤ low), p_upper (H₀: μ ≥ high),
    p_above (H₀: μ ≤ high, small when μ is shown above high) and p_below (H₀: μ ≥ low).
    """
    pos = se > 0.0
    safe = np.where(pos, se, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(pos, (m - low) / safe, np.where(m == low, np.nan, np.copysign(np.inf, m - low)))
        t2 = np.where(pos, (m - high) / safe, np.where(m == high, np.nan, np.copysign(np.inf, m - high)))
    tt1, tt2 = np.where(pos, t1, 0.0), np.where(pos, t2, 0.0)
    p_lower = np.where(pos, st.t.sf(tt1, df), np.where(m > low, 0.0, 1.0))
    p_upper = np.where(pos, st.t.cdf(tt2, df), np.where(m < high, 0.0, 1.0))
    p_above = np.where(pos, st.t.sf(tt2, df), np.where(m > high, 0.0, 1.0))
    p_below = np.where(pos, st.t.cdf(tt1, df), np.where(m < low, 0.0, 1.0))
    return t1, t2, p_lower, p_upper, p_above, p_below


def _decide(p_lower: np.ndarray, p_upper: np.ndarray, p_above: np.ndarray, p_below: np.ndarray,
            a_nom: float, last: bool, empty_margin: np.ndarray) -> np.ndarray:
    """Decision codes: 1 equivalent, −1 not equivalent, 0 continue."""
    equivalent = (p_lower < a_nom) & (p_upper < a_nom) & ~empty_margin
    beyond = (p_above < a_nom) | (p_below < a_nom) | empty_margin
    out = np.where(equivalent, 1, np.where(beyond | last, -1, 0))
    return out.astype(np.int8)



_CODES: dict[int, Decision] = {1: "equivalent", -1: "not equivalent", 0: "continue"}
