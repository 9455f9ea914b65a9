"""Statistics shared by the behavioural experiments (E1, E2, E3, E5, E7).

- *Efficacy* of a condition c: per-prompt shift Δ_p = score_c,p − score_none,p; mean with a
  bootstrap CI, Cohen's d_z with CI, and a one-sided paired t-test in the expected direction.
- *Equivalence* of two conditions a, b: paired TOST on score_a − score_b with margin ±δ·sd
  (d_z units, default δ = 0.2) — both one-sided p-values, the 90 % CI, power and the n needed.
- *Relative efficacy*: mean shift(a) / mean shift(b) with a paired bootstrap CI.
- *Relative equivalence*: paired ratio TOST (:func:`steerid.stats.ratio_tost_paired`) — is
  shift(a) within (1 ± ε)·shift(b)? Its power depends on how precisely the two effects are
  measured, not on a fixed n ≳ (t/δ)² as the d_z margin's does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as sps

from steerid.stats import bootstrap_ci, cohens_dz, paired_ratio_ci, paired_tost, ratio_tost_paired, tost_power_paired

VERDICTS = ("not steering", "equivalent", "not equivalent", "inconclusive (underpowered)", "inconclusive")


def efficacy(treated: np.ndarray, control: np.ndarray, *, expected_sign: int = 0, seed: int = 0) -> dict[str, Any]:
    """Shift of ``treated`` vs ``control`` (paired by prompt) with CI, d_z and a paired t-test."""
    diff = np.asarray(treated, float) - np.asarray(control, float)
    n = diff.size
    out: dict[str, Any] = {"n": n, "mean_shift": float(diff.mean())}
    if n < 2 or np.allclose(diff, diff[0]):
        out.update(ci_low=float(diff.mean()), ci_high=float(diff.mean()), dz=math.nan, dz_ci=[math.nan, math.nan],
                   p_value=1.0 if np.allclose(diff, 0) else 0.0, note="no variation in the shift")
    else:
        ci = bootstrap_ci(diff, np.mean, seed=seed, n_resamples=2000)
        dz = cohens_dz(diff)
        alternative = "greater" if expected_sign > 0 else "less" if expected_sign < 0 else "two-sided"
        p = float(sps.ttest_1samp(diff, 0.0, alternative=alternative).pvalue)
        out.update(ci_low=ci.low, ci_high=ci.high, dz=dz.value, dz_ci=[dz.ci_low, dz.ci_high], p_value=p,
                   test=f"paired t ({alternative})")
    out["steers"] = bool(expected_sign != 0 and out["p_value"] < 0.05 and np.sign(out["mean_shift"]) == expected_sign)
    return out


def equivalence(a: np.ndarray, b: np.ndarray, *, margin_dz: float, level: float) -> dict[str, Any]:
    """Paired TOST of a − b at ±margin_dz·sd, each side at ``level`` (plus the two-sided difference test)."""
    diff = np.asarray(a, float) - np.asarray(b, float)
    result = paired_tost(diff, margin_dz=margin_dz, alpha=level).to_dict()
    if diff.size >= 2 and not np.allclose(diff, diff[0]):
        result["p_difference"] = float(sps.ttest_1samp(diff, 0.0).pvalue)
    else:
        result["p_difference"] = 1.0 if np.allclose(diff, 0) else 0.0
    return result


def relative_efficacy(shift_a: np.ndarray, shift_b: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
    """mean(shift_a) / mean(shift_b) with a paired bootstrap CI."""
    return paired_ratio_ci(shift_a, shift_b, seed=seed, n_resamples=2000).to_dict()


def relative_equivalence(shift_a: np.ndarray, shift_b: np.ndarray, *, margin: float, level: float) -> dict[str, Any]:
    """Paired ratio TOST: is mean shift(a) within (1 ± margin)·mean shift(b)?"""
    return ratio_tost_paired(shift_a, shift_b, margin=margin, alpha=level).to_dict()


def verdict_relative(steers: bool, test: dict[str, Any] | None, adjusted_p: float, level: float) -> str:
    """Verdict of the relative-margin test after multiplicity correction.

    not steering: v does not beat ``none``; equivalent: Holm-adjusted ratio-TOST p < ``level``;
    not equivalent: the ratio is shown to lie outside 1 ± ε (``p_outside`` < ``level``); else inconclusive.
    """
    if not steers or test is None:
        return "not steering"
    if adjusted_p < level:
        return "equivalent"
    if test["p_outside"] < level:
        return "not equivalent"
    return "inconclusive"


def verdict(steers: bool, tost: dict[str, Any], adjusted_p: float, level: float) -> str:
    """Verdict of one v-vs-(v+v⊥) family test after multiplicity correction.

    not steering: v itself does not beat ``none`` (no equivalence claim is made);
    equivalent: the Holm-adjusted TOST p < ``level``;
    not equivalent: the (1 − 2·level) CI excludes 0 and reaches outside the margin;
    otherwise inconclusive, flagged underpowered when the TOST power at the margin is < 0.8.
    """
    if not steers:
        return "not steering"
    if adjusted_p < level:
        return "equivalent"
    lo, hi = tost["ci90"]
    if (lo > 0 or hi < 0) and (lo < tost["low"] or hi > tost["high"]):
        return "not equivalent"
    if not tost["power"] >= 0.8:
        return "inconclusive (underpowered)"
    return "inconclusive"


def planned_power(n: int, margin_dz: float, level: float) -> float:
    """Power of a paired TOST with n prompts at the margin, true difference 0."""
    return float(tost_power_paired(n, margin_dz=margin_dz, alpha=level)) if n >= 3 else 0.0
