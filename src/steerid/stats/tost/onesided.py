r"""The two one-sided t-tests of a TOST, its margins and the power notes.

For bounds ``(low, high)`` and a mean difference ``m`` with standard error ``se`` and ``ν``
degrees of freedom:

    t₁ = (m − low)/se,   p₁ = P(T_ν ≥ t₁)        (H₀₁: μ ≤ low)
    t₂ = (m − high)/se,  p₂ = P(T_ν ≤ t₂)        (H₀₂: μ ≥ high)

With ``se = 0`` each test is decided without sampling error: ``p₁ = 0`` iff ``m > low`` and
``p₂ = 0`` iff ``m < high``. A standardised margin ``c`` gives bounds ``±c·sd`` (observed sd);
a raw margin ``r`` gives ``±r``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from scipy import stats as st

from steerid.errors import DataError
from steerid.stats.power import MarginScale
from steerid.validation import check_positive

TARGET_POWER = 0.8


def _one_sided(m: float, se: float, df: float, low: float, high: float) -> tuple[float, float, float, float]:
    """t and p of both one-sided tests; se = 0 is resolved deterministically (module docstring)."""
    if se > 0.0:
        t1 = (m - low) / se
        t2 = (m - high) / se
        return t1, t2, float(st.t.sf(t1, df)), float(st.t.cdf(t2, df))
    t1 = math.copysign(math.inf, m - low) if m != low else math.nan
    t2 = math.copysign(math.inf, m - high) if m != high else math.nan
    return t1, t2, 0.0 if m > low else 1.0, 0.0 if m < high else 1.0


def _decision(m: float, se: float, df: float, low: float, high: float, alpha: float) -> dict[str, Any]:
    r"""The TOST decision fields shared by the paired and two-sample results.

    Both one-sided tests (:func:`_one_sided`), ``p_TOST = max(p₁, p₂)``, the ``1 − 2α`` interval
    ``m ± t_{1−α,ν}·se`` and ``equivalent = p_TOST < α`` (iff that interval lies strictly
    inside ``(low, high)``), keyed by the result fields ``low`` … ``alpha``.
    """
    t1, t2, p1, p2 = _one_sided(m, se, df, low, high)
    tc = float(st.t.ppf(1.0 - alpha, df))
    p_tost = max(p1, p2)
    return {
        "low": low,
        "high": high,
        "t_lower": t1,
        "t_upper": t2,
        "p_lower": p1,
        "p_upper": p2,
        "p_tost": p_tost,
        "ci90": (m - tc * se, m + tc * se),
        "ci_level": 1.0 - 2.0 * alpha,
        "equivalent": bool(p_tost < alpha),
        "alpha": alpha,
    }


@functools.lru_cache(maxsize=256)
def _required_n(sample_size: Callable[..., int], margin: float, alpha: float, scale: MarginScale) -> int | None:
    """Smallest n with TARGET_POWER at true difference 0 by ``sample_size``
    (:func:`~steerid.stats.power.tost_sample_size_paired` or ``_ind``); None when unreachable."""
    try:
        return sample_size(margin, TARGET_POWER, alpha, 0.0, margin_scale=scale)
    except DataError:
        return None  # unreachable power (margin too small for n ≤ 10⁷); reported as undefined


def _margins(
    margin_std: float, margin_raw: float | None, sd: float, std_name: str, std_label: str
) -> tuple[str, float, float, float, MarginScale]:
    """(source, standardised margin, low, high, power scale) for the requested margin."""
    if margin_raw is not None:
        raw = check_positive(margin_raw, "margin_raw")
        std_margin = raw / sd if sd > 0.0 else math.nan
        return "raw", std_margin, -raw, raw, "fixed"
    c = check_positive(margin_std, std_name)
    return std_label, c, 0.0 - c * sd, c * sd, "sample_sd"


def _common_assumptions(source: str, std_name: str) -> list[str]:
    out = [
        "units (prompts) are independent of each other",
        "the mean difference is approximately normal (t distribution with the stated df)",
        "equivalent <=> p_tost < alpha <=> the (1 - 2 alpha) CI lies strictly inside (low, high)",
    ]
    if source != "raw":
        out.append(
            f"raw bounds = ±{std_name} × observed sd, then treated as fixed (TOSTER convention); "
            "power and n_required account for the bounds scaling with the observed sd"
        )
    else:
        out.append("raw bounds fixed before seeing the data; power and n_required plug in the observed sd")
    return out


def _power_notes(n: int, n_required: int | None, power: float, unit: str) -> tuple[bool, list[str]]:
    if n_required is None or math.isnan(power):
        return False, []
    if n < n_required:
        return True, [
            f"underpowered: power {power:.2f} at true difference 0; {n_required} {unit} give "
            f"{TARGET_POWER:.0%} power, so failing to show equivalence is weak evidence"
        ]
    return False, []
