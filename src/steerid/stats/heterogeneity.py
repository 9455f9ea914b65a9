r"""Do the v⊥ draws differ? Draw heterogeneity and the share of equivalent directions.

Data. ``D[j, i] = score(v + v⊥_j)_i − score(v)_i`` for draws j = 1…J and prompts i = 1…n.
All draws are run on the same prompts, so the per-draw means share the prompt effects and are
correlated; an independent-studies (Cochran Q / DerSimonian–Laird) analysis would be wrong.
The model is the two-way layout without replication, prompts as blocks:

    D_ji = μ + a_j + b_i + e_ji,   a_j ~ N(0, τ²) (draw effects),  e_ji ~ N(0, σ²),

with prompt effects b_i (fixed or random, they cancel from every draw contrast). With row
means D̄_j·, column means D̄_·i and grand mean D̄:

    MS_draw  = n Σ_j (D̄_j· − D̄)² / (J − 1),                      E = σ² + n τ²
    MS_error = Σ_ji (D_ji − D̄_j· − D̄_·i + D̄)² / ((J − 1)(n − 1)),   E = σ²
    F = MS_draw / MS_error ~ F(J − 1, (J − 1)(n − 1)) under τ² = 0.

The draw-effect variance is estimated by ``τ̂² = max(0, (MS_draw − MS_error)/n)`` (ANOVA / REML
for this balanced design, truncated at 0), with the modified-large-sample (MLS) interval of
Ting, Burdick, Graybill, Jeyaratnam & Lu (1990) for ``(θ₁ − θ₂)/n``, θ₁ = E MS_draw,
θ₂ = E MS_error (Burdick & Graybill 1992, §3.3; the Graybill–Wang construction extended to a
difference). With a = (1 − confidence)/2, ν₁ = J − 1, ν₂ = (J − 1)(n − 1), ``F_{p: a, b}`` the
upper-p quantile of F(a, b) and S₁ = MS_draw, S₂ = MS_error:

    G₁ = 1 − 1/F_{a: ν₁, ∞},  G₂ = 1 − 1/F_{a: ν₂, ∞},  H₁ = 1/F_{1−a: ν₁, ∞} − 1,  H₂ = 1/F_{1−a: ν₂, ∞} − 1
    G₁₂ = [(F_{a: ν₁, ν₂} − 1)² − G₁² F²_{a: ν₁, ν₂} − H₂²] / F_{a: ν₁, ν₂}
    H₁₂ = [(1 − F_{1−a: ν₁, ν₂})² − H₁² F²_{1−a: ν₁, ν₂} − G₂²] / F_{1−a: ν₁, ν₂}
    L = S₁ − S₂ − √(G₁²S₁⁴ + H₂²S₂⁴ + G₁₂S₁²S₂²),   U = S₁ − S₂ + √(H₁²S₁⁴ + G₂²S₂⁴ + H₁₂S₁²S₂²)

and ``τ² ∈ [max(0, L)/n, max(0, U)/n]``; the interval for τ is its square root. The between-draw
SD τ is compared with the per-draw standard error ``se = √(mean_j s_j²/n)`` (s_j the SD of draw
j's differences, what each per-draw TOST uses): ``τ/se`` is the number of per-draw standard
errors by which directions typically differ. The I²-like share is the fraction of the variance
of the draw means explained by real draw effects,
``I² = τ̂² / (τ̂² + MS_error/n) = max(0, 1 − 1/F)``.

Share of equivalent directions (:func:`fraction_equivalent`). With margin ±δ (raw units),

    (a) the raw pass fraction of the J per-draw paired TOSTs (each against ±δ), with a Wilson CI
        — it counts draws whose *estimate* passes, so it mixes real spread and per-draw noise;
    (b) the model-based share of random orthogonal directions whose true mean lies inside the
        margin, ``π = Φ((δ − μ)/τ) − Φ((−δ − μ)/τ)`` for draw effects ~ N(μ, τ²), estimated
        by plugging in μ̂ = D̄ and τ̂ (τ̂ = 0 gives π̂ = 1 if |μ̂| < δ, else 0).

The interval of π comes from a two-stage bootstrap for this crossed design (Owen's
"pigeonhole" bootstrap): draw J rows with replacement, then n prompt columns with replacement
(the same columns for all rows, keeping the pairing), re-estimate μ and τ² (and δ when the
margin is in d_z units) on the resampled matrix, and take percentiles of π*. Resampling rows
carries the uncertainty from the finite number of directions, resampling columns the per-draw
estimation error; the interval is mildly conservative for the prompt part (the residual
variance enters twice) and, like every bootstrap of a variance, it is approximate when J is
small (the tests measure its coverage).

A margin in d_z units is converted once to raw units with the pooled within-draw SD,
``δ = margin_dz · √(mean_j s_j²)``, and then used for every draw and for π.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as st

from steerid.errors import DataError
from steerid.stats._checks import check_count, check_positive, check_probability
from steerid.stats._jsonable import jsonable
from steerid.stats.interval import Interval
from steerid.stats.proportion import wilson_ci

_BOOT_BLOCK = 4_000_000  # resampled matrix entries per bootstrap block (memory bound)


# --------------------------------------------------------------------------------------------
# shared helpers (also used by steerid.stats.radius)
# --------------------------------------------------------------------------------------------


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


def margin_choice(margin_dz: float | None, margin_raw: float | None) -> tuple[str, float]:
    """(``"raw"`` | ``"dz"``, value) for exactly one given margin, else DataError."""
    if margin_dz is None and margin_raw is None:
        raise DataError("no equivalence margin given", "pass margin_raw (score units) or margin_dz (SDs of the differences)")
    if margin_dz is not None and margin_raw is not None:
        raise DataError("both margin_dz and margin_raw given", "pass only one of margin_raw or margin_dz")
    if margin_raw is not None:
        return "raw", check_positive(margin_raw, "margin_raw")
    return "dz", check_positive(margin_dz, "margin_dz")


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


def _fmt(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}"


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


# --------------------------------------------------------------------------------------------
# heterogeneity
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrawHeterogeneity:
    """Between-draw heterogeneity of per-prompt differences (see the module docstring).

    Attributes:
        n_draws: J.
        n_prompts: n.
        grand_mean: D̄, the mean over draws and prompts.
        draw_means: D̄_j·, one per draw.
        ms_draw: Between-draw mean square (df J − 1).
        ms_error: Residual mean square (df (J − 1)(n − 1)).
        df_draw: J − 1.
        df_error: (J − 1)(n − 1).
        f_stat: MS_draw / MS_error (NaN when both are 0).
        p_value: P(F ≥ f_stat) under no draw effect.
        tau2: τ̂² = max(0, (MS_draw − MS_error)/n).
        tau2_ci: MLS interval of τ² (truncated at 0).
        tau: τ̂ = √τ̂², the between-draw SD of the true draw means.
        tau_ci: √ of ``tau2_ci``.
        ci_method: How the interval was computed.
        confidence: Two-sided level of the intervals.
        se_per_draw: √(mean_j s_j² / n), the standard error each per-draw TOST works with.
        se_contrast: √(MS_error / n), the noise of a draw mean relative to the other draws.
        tau_over_se: τ̂ / se_per_draw.
        i2: τ̂² / (τ̂² + MS_error/n) = max(0, 1 − 1/F).
        interpretation: ``"not detected"`` (p ≥ alpha), else ``"small"`` (τ/se < 1),
            ``"moderate"`` (1 ≤ τ/se < 2) or ``"strong"`` (τ/se ≥ 2).
        alpha: Level used for the interpretation.
        assumptions: What the analysis assumes.
        notes: Data-specific remarks.
    """

    n_draws: int
    n_prompts: int
    grand_mean: float
    draw_means: tuple[float, ...]
    ms_draw: float
    ms_error: float
    df_draw: int
    df_error: int
    f_stat: float
    p_value: float
    tau2: float
    tau2_ci: tuple[float, float]
    tau: float
    tau_ci: tuple[float, float]
    ci_method: str
    confidence: float
    se_per_draw: float
    se_contrast: float
    tau_over_se: float
    i2: float
    interpretation: str
    alpha: float
    assumptions: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def heterogeneous(self) -> bool:
        """True when the F test rejects at ``alpha``."""
        return bool(self.p_value < self.alpha)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of all fields (NaN kept as float NaN)."""
        return jsonable(self)

    def summary(self) -> str:
        """Readable report of the two-way analysis."""
        rule = "=" * 72
        lines = [
            "Draw heterogeneity (two-way ANOVA, prompts as blocks)".center(len(rule)), rule,
            f"draws J = {self.n_draws}    prompts n = {self.n_prompts}    grand mean = {_fmt(self.grand_mean)}",
            f"draw means: min {_fmt(min(self.draw_means))}, max {_fmt(max(self.draw_means))}",
            "-" * len(rule),
            f"{'source':<12}{'df':>10}{'MS':>14}{'F':>12}{'p':>12}",
            f"{'draws':<12}{self.df_draw:>10}{_fmt(self.ms_draw):>14}{_fmt(self.f_stat):>12}{_fmt(self.p_value):>12}",
            f"{'error':<12}{self.df_error:>10}{_fmt(self.ms_error):>14}",
            "-" * len(rule),
            f"tau^2 = {_fmt(self.tau2)}  {self.confidence:.0%} CI [{_fmt(self.tau2_ci[0])}, {_fmt(self.tau2_ci[1])}] "
            f"({self.ci_method})",
            f"tau = {_fmt(self.tau)}  CI [{_fmt(self.tau_ci[0])}, {_fmt(self.tau_ci[1])}]",
            f"per-draw se = {_fmt(self.se_per_draw)}    tau / se = {_fmt(self.tau_over_se)}    I^2 = {_fmt(self.i2)}",
            f"heterogeneity: {self.interpretation.upper()}",
            "assumptions:",
            *(f"  - {a}" for a in self.assumptions),
        ]
        if self.notes:
            lines.append("notes:")
            lines.extend(f"  - {note}" for note in self.notes)
        lines.append(rule)
        return "\n".join(lines)


def _interpret(p: float, ratio: float, alpha: float) -> str:
    if not p < alpha:
        return "not detected"
    if ratio < 1.0:
        return "small"
    if ratio < 2.0:
        return "moderate"
    return "strong"


def draw_heterogeneity(D: object, *, confidence: float = 0.95, alpha: float = 0.05) -> DrawHeterogeneity:
    """Test whether v⊥ draws steer differently, and estimate how much (two-way layout).

    Args:
        D: (J draws × n prompts) per-prompt differences score(v + v⊥_j) − score(v), the same
            prompts in the same column order for every draw.
        confidence: Two-sided level of the τ² / τ intervals.
        alpha: Level of the F test used for ``interpretation``.

    Returns:
        A :class:`DrawHeterogeneity`.

    Raises:
        DataError: not 2-D, J < 2, n < 3, NaN/inf, or a bad level.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(1)
        >>> D = rng.normal(0, 1, (8, 100)) + rng.normal(0, 0.4, (8, 1))   # τ = 4 × se
        >>> h = draw_heterogeneity(D)
        >>> h.p_value < 0.01, h.interpretation
        (True, 'strong')
    """
    x = as_draw_matrix(D)
    confidence = check_probability(confidence, "confidence")
    alpha = check_probability(alpha, "alpha")
    j, n = x.shape
    df1, df2 = j - 1, (j - 1) * (n - 1)
    notes: list[str] = []
    if bool(np.all(x == x[0, 0])):
        grand, msd, mse, s2 = float(x[0, 0]), 0.0, 0.0, 0.0
        draw_means = np.full(j, grand)
        notes.append(f"all {x.size} differences equal {grand:.6g}: no variation at all")
    else:
        g, msd_a, mse_a, s2_a = two_way(x)
        grand, msd, mse, s2 = float(g), float(msd_a), float(mse_a), float(s2_a)
        draw_means = x.mean(axis=1)
    if mse > 0.0:
        f_stat = msd / mse
        p = float(st.f.sf(f_stat, df1, df2))
        lo, hi = _mls_difference(msd, mse, df1, df2, confidence)
    elif msd > 0.0:
        f_stat, p = math.inf, 0.0
        lo = hi = msd
        notes.append("no residual variation (MS_error = 0): the draw differences are exact")
    else:
        f_stat, p = math.nan, math.nan
        lo = hi = 0.0
    tau2 = max(0.0, (msd - mse) / n)
    tau2_ci = (max(0.0, lo) / n, max(0.0, hi) / n)
    tau = math.sqrt(tau2)
    se = math.sqrt(s2 / n)
    se_c = math.sqrt(mse / n)
    ratio = tau / se if se > 0.0 else (math.inf if tau > 0.0 else math.nan)
    i2 = tau2 / (tau2 + mse / n) if tau2 + mse / n > 0.0 else math.nan
    interpretation = "not detected" if math.isnan(p) else _interpret(p, ratio, alpha)
    if j < 8:
        notes.append(f"only {j} draws: τ is estimated from {j - 1} degrees of freedom and its interval is wide")
    if se_c > 0.0 and se > 2.0 * se_c:
        notes.append("per-draw se is much larger than the contrast se: most per-prompt variance is shared by all "
                     "draws (prompt effects), which the F test removes")
    return DrawHeterogeneity(
        n_draws=j,
        n_prompts=n,
        grand_mean=grand,
        draw_means=tuple(float(v) for v in draw_means),
        ms_draw=msd,
        ms_error=mse,
        df_draw=df1,
        df_error=df2,
        f_stat=f_stat,
        p_value=p,
        tau2=tau2,
        tau2_ci=tau2_ci,
        tau=tau,
        tau_ci=(math.sqrt(tau2_ci[0]), math.sqrt(tau2_ci[1])),
        ci_method="MLS (Ting et al. 1990) for (E MS_draw - E MS_error)/n, truncated at 0",
        confidence=confidence,
        se_per_draw=se,
        se_contrast=se_c,
        tau_over_se=ratio,
        i2=i2,
        interpretation=interpretation,
        alpha=alpha,
        assumptions=(
            "every draw is scored on the same prompts (paired columns); prompts are independent",
            "additive two-way model: draw effect + prompt effect + normal error with one variance; "
            "a draw × prompt interaction cannot be told apart from the error (no replication)",
            "draw effects are a random sample of directions, a_j ~ N(0, tau^2)",
        ),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------
# fraction of equivalent directions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FractionEquivalent:
    """Share of v⊥ directions that steer like v (see the module docstring).

    Attributes:
        n_draws: J.
        n_prompts: n.
        margin_source: ``"raw"`` or ``"dz"`` (δ = margin_dz × pooled within-draw SD).
        margin_dz: Margin in units of the pooled within-draw SD.
        delta: The raw margin δ (bounds ±δ).
        alpha: Level of each one-sided per-draw test.
        draw_means: Per-draw mean differences.
        draw_p_tost: Per-draw TOST p-values against ±δ.
        draw_equivalent: Per-draw TOST decisions.
        n_pass: Number of draws that pass.
        pass_fraction: Wilson interval of n_pass / J.
        mu: μ̂ = grand mean.
        tau: τ̂ (between-draw SD).
        share: π̂ = Φ((δ − μ̂)/τ̂) − Φ((−δ − μ̂)/τ̂), the model-based share (Interval with the
            two-stage bootstrap percentile CI).
        n_boot: Bootstrap resamples.
        seed: Seed of the bootstrap.
        boot_tau_zero: Share of bootstrap resamples with τ̂* = 0.
        heterogeneity: The :class:`DrawHeterogeneity` of the same data.
        assumptions: What the estimates assume.
        notes: Data-specific remarks.
    """

    n_draws: int
    n_prompts: int
    margin_source: str
    margin_dz: float
    delta: float
    alpha: float
    draw_means: tuple[float, ...]
    draw_p_tost: tuple[float, ...]
    draw_equivalent: tuple[bool, ...]
    n_pass: int
    pass_fraction: Interval
    mu: float
    tau: float
    share: Interval
    n_boot: int
    seed: int
    boot_tau_zero: float
    heterogeneity: DrawHeterogeneity
    assumptions: tuple[str, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of all fields (NaN kept as float NaN)."""
        return jsonable(self)

    def summary(self) -> str:
        """Readable report of the pass fraction and the model-based share."""
        rule = "=" * 72
        pf, sh = self.pass_fraction, self.share
        origin = "raw" if self.margin_source == "raw" else f"{_fmt(self.margin_dz)} d_z × pooled sd"
        lines = [
            "Fraction of v-perp directions equivalent to v".center(len(rule)), rule,
            f"draws J = {self.n_draws}    prompts n = {self.n_prompts}    alpha = {_fmt(self.alpha)}",
            f"margin: ±{_fmt(self.delta)} raw ({origin})",
            "-" * len(rule),
            f"(a) per-draw TOSTs passing: {self.n_pass}/{self.n_draws} = {_fmt(pf.estimate)}  "
            f"{pf.confidence:.0%} Wilson CI [{_fmt(pf.low)}, {_fmt(pf.high)}]",
            f"(b) model share pi = {_fmt(sh.estimate)}  {sh.confidence:.0%} CI [{_fmt(sh.low)}, {_fmt(sh.high)}] "
            f"({sh.method}, B = {self.n_boot})",
            f"    draw effects ~ N(mu = {_fmt(self.mu)}, tau = {_fmt(self.tau)}); "
            f"heterogeneity p = {_fmt(self.heterogeneity.p_value)} ({self.heterogeneity.interpretation})",
            "assumptions:",
            *(f"  - {a}" for a in self.assumptions),
        ]
        if self.notes:
            lines.append("notes:")
            lines.extend(f"  - {note}" for note in self.notes)
        lines.append(rule)
        return "\n".join(lines)


def fraction_equivalent(
    D: object,
    *,
    margin_raw: float | None = None,
    margin_dz: float | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
    seed: int = 0,
    n_boot: int = 2000,
) -> FractionEquivalent:
    """Raw pass fraction and model-based share of v⊥ directions that are equivalent to v.

    Args:
        D: (J draws × n prompts) per-prompt differences, same prompts for every draw.
        margin_raw: Margin ±margin_raw in score units.
        margin_dz: Margin in pooled within-draw SDs (converted once to raw). Give exactly one.
        alpha: Level of each one-sided per-draw test, in (0, 0.5).
        confidence: Two-sided level of the Wilson and bootstrap intervals.
        seed: Seed of the bootstrap generator.
        n_boot: Number of two-stage bootstrap resamples (≥ 100).

    Returns:
        A :class:`FractionEquivalent`.

    Raises:
        DataError: bad shapes (J < 2, n < 3), NaN/inf, no or two margins, bad levels.

    Example:
        >>> import numpy as np
        >>> D = np.random.default_rng(0).normal(0.0, 1.0, (10, 200))
        >>> res = fraction_equivalent(D, margin_raw=0.5, n_boot=500)
        >>> res.n_pass, round(res.share.estimate, 3)
        (10, 1.0)
    """
    x = as_draw_matrix(D)
    source, value = margin_choice(margin_dz, margin_raw)
    alpha = check_probability(alpha, "alpha", upper=0.5)
    confidence = check_probability(confidence, "confidence")
    seed = check_count(seed, "seed", minimum=0)
    n_boot = check_count(n_boot, "n_boot", minimum=100)
    j, n = x.shape
    het = draw_heterogeneity(x, confidence=confidence)
    s_pool = 0.0 if bool(np.all(x == x[0, 0])) else math.sqrt(float(two_way(x)[3]))
    notes: list[str] = []
    if source == "raw":
        delta, c = value, (value / s_pool if s_pool > 0.0 else math.nan)
    else:
        c, delta = value, value * s_pool
        if s_pool == 0.0:
            notes.append("pooled within-draw sd is 0: a d_z margin is 0 raw units, so nothing can be equivalent; "
                         "pass margin_raw")
    means, p_tost, eq = per_draw_tost(x, -delta, delta, alpha)
    k = int(eq.sum())
    pf = wilson_ci(k, j, confidence)
    mu, tau = het.grand_mean, het.tau
    pi_hat = float(share_inside(mu, tau, delta))

    rng = np.random.default_rng(seed)
    rows = rng.integers(0, j, size=(n_boot, j))
    cols = rng.integers(0, n, size=(n_boot, n))
    mu_b, tau2_b, s2_b = boot_estimates(x, rows, cols)
    delta_b = delta if source == "raw" else value * np.sqrt(s2_b)
    pi_b = share_inside(mu_b, np.sqrt(tau2_b), delta_b)
    a = (1.0 - confidence) / 2.0
    lo, hi = (float(v) for v in np.quantile(pi_b, [a, 1.0 - a]))
    share = Interval(pi_hat, lo, hi, confidence, "two-stage bootstrap percentile (draws, then prompts)", j,
                     f"{j} draws × {n} prompts")
    if j < 20:
        notes.append(f"only {j} draws: the share's interval rests on few directions and is approximate")
    if het.interpretation == "not detected" and k < j and pi_hat > pf.estimate:
        notes.append("no detectable draw heterogeneity: draws that fail likely fail through per-draw noise "
                     "(underpowered per-draw tests), not because they steer differently")
    return FractionEquivalent(
        n_draws=j,
        n_prompts=n,
        margin_source=source,
        margin_dz=c,
        delta=delta,
        alpha=alpha,
        draw_means=tuple(float(v) for v in means),
        draw_p_tost=tuple(float(v) for v in p_tost),
        draw_equivalent=tuple(bool(v) for v in eq),
        n_pass=k,
        pass_fraction=pf,
        mu=mu,
        tau=tau,
        share=share,
        n_boot=n_boot,
        seed=seed,
        boot_tau_zero=float(np.mean(tau2_b == 0.0)),
        heterogeneity=het,
        assumptions=(
            *het.assumptions,
            "per-draw TOSTs use the fixed raw margin ±delta (a d_z margin is converted once with the pooled sd)",
            "the share pi assumes normally distributed draw effects; its CI is a two-stage (draws, then prompts) "
            "percentile bootstrap re-estimating mu and tau^2 each time",
        ),
        notes=tuple(notes),
    )
