r"""Lan–DeMets alpha spending and one-sided group-sequential boundaries.

Spending (one-sided α, information fraction ``t ≤ 1``):

- O'Brien–Fleming type: ``α(t) = 2 − 2Φ(z_{1−α/2} / √t)`` (spends almost nothing early);
- Pocock type:          ``α(t) = α · ln(1 + (e − 1)·t)`` (spends roughly evenly).

Under the null at the margin, ``S_k = Z_k √t_k`` is Brownian motion at the times ``t_k``. The
boundaries ``c_k`` solve

    P(Z_1 < c_1, …, Z_{k−1} < c_{k−1}, Z_k ≥ c_k) = α(t_k) − α(t_{k−1}),

by recursive numerical integration (Armitage–McPherson–Rowe; Jennison & Turnbull 2000, ch. 19):
the sub-density of ``S_k`` on the continuation region ``S_k < c_k √t_k`` is propagated by
convolution with the ``N(0, t_{k+1} − t_k)`` increment density on a Simpson grid, and
``c_{k+1}`` is found by root finding (relative accuracy ~1e-7).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import optimize
from scipy import stats as st

from steerid.errors import DataError

_SPENDING_ALIASES = {
    "obrien-fleming": "obrien-fleming",
    "o'brien-fleming": "obrien-fleming",
    "obf": "obrien-fleming",
    "of": "obrien-fleming",
    "pocock": "pocock",
}
_GRID_SDS = 8.0  # lower truncation of the Simpson grid, in SDs of S_k (mass below ≈ 6e-16)
_MIN_POINTS, _MAX_POINTS = 201, 4001
_CHUNK = 512


def _spending_name(spending: str) -> str:
    key = str(spending).strip().lower().replace("_", "-").replace(" ", "-")
    if key not in _SPENDING_ALIASES:
        raise DataError(f"unknown spending function {spending!r}", "use 'obrien-fleming' or 'pocock'")
    return _SPENDING_ALIASES[key]


def _spent(t: float, alpha: float, spending: str) -> float:
    """Cumulative one-sided α spent at information fraction t (α exactly at t ≥ 1)."""
    if t >= 1.0:
        return alpha
    if spending == "obrien-fleming":
        return float(2.0 * st.norm.sf(st.norm.isf(alpha / 2.0) / math.sqrt(t)))
    return float(alpha * math.log1p((math.e - 1.0) * t))


def _simpson(a: float, b: float, h_target: float) -> tuple[np.ndarray, np.ndarray]:
    """Simpson nodes and weights on [a, b] with spacing ≤ h_target (point count capped)."""
    m = int(math.ceil((b - a) / h_target)) + 1
    m = min(_MAX_POINTS, max(_MIN_POINTS, m))
    if m % 2 == 0:
        m += 1
    x = np.linspace(a, b, m)
    h = (b - a) / (m - 1)
    w = np.full(m, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return x, w * (h / 3.0)


def _z_boundaries(t: Sequence[float], increments: Sequence[float]) -> list[float]:
    """One-sided boundaries c_k for exit probabilities ``increments`` (module docstring)."""
    t = [float(v) for v in t]
    c: list[float] = []
    first = increments[0]
    c.append(float(st.norm.isf(first)) if first > 0.0 else math.inf)
    if len(t) == 1:
        return c
    # sub-density of S_1 = Z_1 √t_1 on (−∞, b_1)
    sd1 = math.sqrt(t[0])
    upper = min(c[0] * sd1, _GRID_SDS * sd1 + 1.0)
    step = min(sd1, math.sqrt(t[1] - t[0])) / 8.0
    s, w = _simpson(-_GRID_SDS * sd1, upper, step)
    f = st.norm.pdf(s, scale=sd1)
    for k in range(1, len(t)):
        inc_sd = math.sqrt(t[k] - t[k - 1])
        g = w * f
        target = increments[k]
        if not target > 1e-300:
            c.append(math.inf)
            b = math.inf
        else:
            def excess(bk: float, g: np.ndarray = g, s: np.ndarray = s, inc_sd: float = inc_sd,
                       target: float = target) -> float:
                return math.log(max(float(np.dot(g, st.norm.sf((bk - s) / inc_sd))), 1e-320)) - math.log(target)

            lo, hi = -12.0, s[-1] + 12.0 * inc_sd
            while excess(hi) > 0.0:
                hi += 12.0 * inc_sd
            b = float(optimize.brentq(excess, lo, hi, xtol=1e-13, rtol=1e-13, maxiter=200))
            c.append(b / math.sqrt(t[k]))
        if k == len(t) - 1:
            break
        sdk = math.sqrt(t[k])
        upper = min(b, _GRID_SDS * sdk + 1.0)
        step = min(sdk, inc_sd, math.sqrt(t[k + 1] - t[k])) / 8.0
        s_new, w_new = _simpson(-_GRID_SDS * sdk, upper, step)
        f_new = np.empty_like(s_new)
        for start in range(0, s_new.size, _CHUNK):
            block = s_new[start:start + _CHUNK, None]
            f_new[start:start + _CHUNK] = st.norm.pdf((block - s[None, :]) / inc_sd) @ g / inc_sd
        s, w, f = s_new, w_new, f_new
    return c
