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

from scipy import stats as st

from steerid.errors import DataError
from steerid.stats.power import MarginScale, tost_sample_size_ind, tost_sample_size_paired
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


@functools.lru_cache(maxsize=256)
def _required_paired(margin_dz: float, alpha: float, scale: MarginScale) -> int | None:
    try:
        return tost_sample_size_paired(margin_dz, TARGET_POWER, alpha, 0.0, margin_scale=scale)
    except DataError:
        return None  # unreachable power (margin too small for n ≤ 10⁷); reported as undefined


@functools.lru_cache(maxsize=256)
def _required_ind(margin_d: float, alpha: float, scale: MarginScale) -> int | None:
    try:
        return tost_sample_size_ind(margin_d, TARGET_POWER, alpha, 0.0, margin_scale=scale)
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
