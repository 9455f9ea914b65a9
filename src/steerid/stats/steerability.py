r"""Per-input steerability: which inputs a vector moves the intended way, and whether v + v⊥ moves the same ones.

Averages hide inputs that steer the wrong way. For one sign s (±1) and n inputs, let

    Δ_i = score(s·v)_i − score(none)_i          (the shift of input i under s·v)

and call input i *steerable* when s·Δ_i > 0, *anti-steerable* when s·Δ_i < 0 (ties, s·Δ_i = 0,
are neither and are counted apart).

* **Fraction anti-steerable** q̂ = #{s·Δ_i < 0} / n with its Wilson interval (the inputs are a
  sample from the trait's population of inputs).
* **Against noise** (generation). A generated continuation is one sample, so Δ_i carries
  sampling noise and some inputs look anti-steerable even under a constant effect. With a
  constant effect μ = mean(s·Δ) and per-input noise σ = sd(s·Δ) (both from the data),
  Δ_i ~ N(μ, σ²) gives

      q₀ = P(s·Δ_i < 0) = Φ(−μ/σ) = Φ(−d_z),

  e.g. q₀ ≈ 0.27 at d_z = 0.6. The record gives q₀, the excess q̂ − q₀ and the two-sided exact
  binomial test of #{anti} against Binomial(n, q₀). q₀ is estimated from the same data (the test
  is approximate), and a fraction above q₀ says the per-input effects vary (some inputs
  genuinely steer the other way) or the noise is not normal. On the likelihood route Δ_i is
  deterministic (teacher forcing), so q̂ is the fraction of inputs that truly move the wrong way
  and no noise comparison is made.
* **Agreement of v+v⊥ draws** (a second, input-level view of equivalence: two vectors can match
  on average and still steer different inputs). For draw j with shifts Δ^{(j)}_i, let
  a_i = [s·Δ_i > 0] and b_i = [s·Δ^{(j)}_i > 0]. Observed agreement p_o = mean(a = b); with
  p_v = mean(a), p_d = mean(b), agreement by chance (independent per-input signs) is

      p_e = p_v·p_d + (1 − p_v)(1 − p_d),

  and Cohen's κ = (p_o − p_e) / (1 − p_e), with its asymptotic 95 % interval and the z test of
  κ = 0 (statsmodels' ``cohens_kappa``). κ ≈ 1: the draw steers the same inputs as v; κ ≈ 0: no
  more overlap than chance. The p-values are Holm-adjusted across the draws of the family. κ is
  undefined (``None``) when p_e = 1 (both vectors steer all inputs, or none, the same way).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

from steerid.stats.multiple import holm
from steerid.stats.proportion import wilson_ci


def per_input_signs(shift: np.ndarray, sign: int) -> np.ndarray:
    """+1 (steered the intended way), −1 (anti-steerable) or 0 (no change) per input."""
    return np.sign(sign * np.asarray(shift, dtype=np.float64)).astype(int)


def fraction_anti(shift: np.ndarray, sign: int, *, deterministic: bool, confidence: float = 0.95) -> dict[str, Any]:
    """Counts, the anti-steerable fraction with its Wilson interval and (``deterministic=False``)
    the fraction expected from noise alone, Φ(−d_z), with a binomial test (see module doc)."""
    signs = per_input_signs(shift, sign)
    n = int(signs.size)
    n_anti = int((signs < 0).sum())
    ci = wilson_ci(n_anti, n, confidence)
    out: dict[str, Any] = {
        "n": n, "n_steerable": int((signs > 0).sum()), "n_anti": n_anti, "n_tied": int((signs == 0).sum()),
        "fraction_anti": {"estimate": ci.estimate, "ci_low": ci.low, "ci_high": ci.high, "confidence": confidence},
        "noise": None,
    }
    if not deterministic:
        out["noise"] = noise_comparison(sign * np.asarray(shift, dtype=np.float64), n_anti)
    return out


def noise_comparison(directed: np.ndarray, n_anti: int) -> dict[str, Any] | None:
    """q₀ = Φ(−d_z) under a constant effect with normal noise, the excess q̂ − q₀ and the exact
    binomial test of ``n_anti`` against Binomial(n, q₀); None when d_z is undefined (sd 0, n < 2)."""
    n = directed.size
    sd = float(directed.std(ddof=1)) if n > 1 else 0.0
    if n < 2 or not sd > 0:
        return None
    dz = float(directed.mean()) / sd
    expected = float(sps.norm.cdf(-dz))
    test = sps.binomtest(n_anti, n, expected) if 0 < expected < 1 else None
    return {"dz": dz, "expected_fraction_anti": expected, "excess": n_anti / n - expected,
            "p_value": None if test is None else float(test.pvalue),
            "model": "shift_i ~ N(mean, sd²): P(shift_i < 0) = Φ(−d_z)"}


def sign_agreement(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Agreement of two per-input 'steerable' indicators against chance, with Cohen's κ (module doc)."""
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    p_o = float(np.mean(a == b))
    p_v, p_d = float(a.mean()), float(b.mean())
    p_e = p_v * p_d + (1 - p_v) * (1 - p_d)
    out: dict[str, Any] = {"agreement": p_o, "chance_agreement": p_e, "p_steerable_v": p_v, "p_steerable_draw": p_d,
                           "kappa": None, "kappa_ci_low": None, "kappa_ci_high": None, "p_value": None}
    if p_e >= 1 - 1e-12 or a.size < 2:
        return out
    from statsmodels.stats.inter_rater import cohens_kappa  # deferred: statsmodels import is slow

    table = np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]], dtype=float)
    with np.errstate(invalid="ignore"):  # a negative variance estimate (tiny tables) gives a NaN s.e.: stored as null
        res = cohens_kappa(table)

    def finite(x: float) -> float | None:
        return float(x) if math.isfinite(float(x)) else None

    out.update(kappa=finite(res["kappa"]), kappa_ci_low=finite(res["kappa_low"]),
               kappa_ci_high=finite(res["kappa_upp"]), p_value=finite(res["pvalue_two_sided"]))
    return out


def family_steerability(shift_v: np.ndarray, shift_draws: np.ndarray, sign: int, *, deterministic: bool,
                        draws: Sequence[Any] | None = None, level: float = 0.05) -> dict[str, Any]:
    """The ``steerability`` record of one (sign, ρ) family.

    Args:
        shift_v: (n,) shifts score(s·v) − score(none) per input.
        shift_draws: (J, n) shifts score(s·v + v⊥_j) − score(none).
        sign: s, the intended direction.
        deterministic: the shifts carry no sampling noise (likelihood route).
        draws: draw labels (default 0…J−1).
        level: test level: Wilson intervals at 1 − level, Holm over the draws' κ tests at ``level``.

    Returns:
        ``{"route_deterministic", "sign", "v": fraction_anti(...) + "per_input" (+1/0/−1 list),
        "draws": [{"draw", "fraction_anti", "agreement", "chance_agreement", "kappa", "kappa_ci_low",
        "kappa_ci_high", "p_value", "p_value_holm", "agrees_beyond_chance"}],
        "mean_agreement", "mean_chance_agreement", "median_kappa", "n_draws_beyond_chance"}``.
    """
    shift_v = np.asarray(shift_v, dtype=np.float64)
    shift_draws = np.atleast_2d(np.asarray(shift_draws, dtype=np.float64))
    labels = list(range(shift_draws.shape[0])) if draws is None else list(draws)
    v_rec = fraction_anti(shift_v, sign, deterministic=deterministic, confidence=1 - level)
    v_rec["per_input"] = per_input_signs(shift_v, sign).tolist()
    steer_v = per_input_signs(shift_v, sign) > 0
    rows = []
    for label, shift_d in zip(labels, shift_draws):
        d_signs = per_input_signs(shift_d, sign)
        rows.append({"draw": label, "fraction_anti": float(np.mean(d_signs < 0)),
                     **sign_agreement(steer_v, d_signs > 0)})
    tested = [r for r in rows if r["p_value"] is not None]
    if tested:
        for r, p in zip(tested, holm([r["p_value"] for r in tested], alpha=level).p_adjusted):
            r["p_value_holm"] = float(p)
            r["agrees_beyond_chance"] = bool(p < level and (r["kappa"] or 0) > 0)
    for r in rows:
        r.setdefault("p_value_holm", None)
        r.setdefault("agrees_beyond_chance", None)
    kappas = [r["kappa"] for r in rows if r["kappa"] is not None]
    return {
        "route_deterministic": bool(deterministic), "sign": int(sign), "v": v_rec, "draws": rows,
        "mean_agreement": float(np.mean([r["agreement"] for r in rows])) if rows else None,
        "mean_chance_agreement": float(np.mean([r["chance_agreement"] for r in rows])) if rows else None,
        "median_kappa": float(np.median(kappas)) if kappas else None,
        "n_draws_beyond_chance": sum(bool(r["agrees_beyond_chance"]) for r in rows),
    }
