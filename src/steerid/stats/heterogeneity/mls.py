r"""Modified-large-sample (MLS) interval for a difference of expected mean squares θ₁ − θ₂.

Ting, Burdick, Graybill, Jeyaratnam & Lu (1990); Burdick & Graybill (1992, §3.3). With
a = (1 − confidence)/2, ``F_{p: a, b}`` the upper-p quantile of F(a, b) and S₁, S₂ the mean
squares with ν₁, ν₂ degrees of freedom:

    G₁ = 1 − 1/F_{a: ν₁, ∞},  G₂ = 1 − 1/F_{a: ν₂, ∞},  H₁ = 1/F_{1−a: ν₁, ∞} − 1,  H₂ = 1/F_{1−a: ν₂, ∞} − 1
    G₁₂ = [(F_{a: ν₁, ν₂} − 1)² − G₁² F²_{a: ν₁, ν₂} − H₂²] / F_{a: ν₁, ν₂}
    H₁₂ = [(1 − F_{1−a: ν₁, ν₂})² − H₁² F²_{1−a: ν₁, ν₂} − G₂²] / F_{1−a: ν₁, ν₂}
    L = S₁ − S₂ − √(G₁²S₁⁴ + H₂²S₂⁴ + G₁₂S₁²S₂²),   U = S₁ − S₂ + √(H₁²S₁⁴ + G₂²S₂⁴ + H₁₂S₁²S₂²)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as st


def _mls_difference(s1: Any, s2: Any, nu1: float, nu2: float, confidence: float) -> tuple[Any, Any]:
    """Ting et al. (1990) MLS interval for θ₁ − θ₂ from mean squares S₁ (ν₁ df), S₂ (ν₂ df).

    ``s1`` and ``s2`` may be floats or NumPy arrays (elementwise); the bounds are not truncated.
    """
    a = (1.0 - confidence) / 2.0
    f1_hi = st.chi2.isf(a, nu1) / nu1      # F_{a: ν1, ∞}
    f1_lo = st.chi2.ppf(a, nu1) / nu1      # F_{1−a: ν1, ∞}
    f2_hi = st.chi2.isf(a, nu2) / nu2
    f2_lo = st.chi2.ppf(a, nu2) / nu2
    f12_hi = st.f.isf(a, nu1, nu2)         # F_{a: ν1, ν2}
    f12_lo = st.f.ppf(a, nu1, nu2)         # F_{1−a: ν1, ν2}
    g1, g2 = 1.0 - 1.0 / f1_hi, 1.0 - 1.0 / f2_hi
    h1, h2 = 1.0 / f1_lo - 1.0, 1.0 / f2_lo - 1.0
    g12 = ((f12_hi - 1.0) ** 2 - g1 * g1 * f12_hi * f12_hi - h2 * h2) / f12_hi
    h12 = ((1.0 - f12_lo) ** 2 - h1 * h1 * f12_lo * f12_lo - g2 * g2) / f12_lo
    est = s1 - s2
    v_low = g1 * g1 * s1 * s1 + h2 * h2 * s2 * s2 + g12 * s1 * s2
    v_high = h1 * h1 * s1 * s1 + g2 * g2 * s2 * s2 + h12 * s1 * s2
    low = est - np.sqrt(np.maximum(v_low, 0.0))
    high = est + np.sqrt(np.maximum(v_high, 0.0))
    if np.ndim(low) == 0:
        return float(low), float(high)
    return low, high
