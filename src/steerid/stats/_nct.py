"""Noncentral t CDF, guarded against the NaN that scipy returns deep in the tails.

``scipy.special.nctdtr`` (Boost) returns NaN at some points where the CDF is within ~1e-16 of
0 or 1 (e.g. ν = 2, λ = −8.5, t = 8). There the value is 1 when λ lies below t and 0 when it
lies above, which is what this wrapper returns; elsewhere it is ``nctdtr`` unchanged.
"""

from __future__ import annotations

import math

from scipy import special


def nct_cdf(t: float, df: float, nc: float) -> float:
    """``P(T ≤ t)`` for ``T ~ t'_ν(λ)`` with ν = ``df`` and λ = ``nc``."""
    value = float(special.nctdtr(df, nc, t))
    if math.isnan(value):
        return 1.0 if nc < t else 0.0
    return value
