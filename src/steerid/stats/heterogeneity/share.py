r"""Share of v⊥ directions equivalent to v: per-draw pass fraction and model-based share π.

(a) the raw pass fraction of the J per-draw paired TOSTs against ±δ, with a Wilson CI;
(b) ``π = Φ((δ − μ)/τ) − Φ((−δ − μ)/τ)`` for draw effects ~ N(μ, τ²), plugging in μ̂ = D̄ and τ̂,
with a two-stage (draws, then prompts) percentile bootstrap interval. A d_z margin is converted
once to raw units with the pooled within-draw SD, ``δ = margin_dz · √(mean_j s_j²)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from steerid.results import ResultMixin, Summary, fmt
from steerid.stats.heterogeneity.anova import DrawHeterogeneity, draw_heterogeneity
from steerid.stats._margin import margin_choice, raw_and_standardised
from steerid.stats.heterogeneity.layout import as_draw_matrix, boot_estimates, per_draw_tost, share_inside, two_way_exact
from steerid.stats.interval import Interval
from steerid.stats.proportion import wilson_ci
from steerid.validation import check_count, check_probability


@dataclass(frozen=True, repr=False)
class FractionEquivalent(ResultMixin):
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

    _repr_fields: ClassVar[tuple[str, ...]] = ("n_pass", "n_draws", "delta", "mu", "tau")

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

    def summary(self) -> Summary:
        """Readable report of the pass fraction and the model-based share."""
        pf, sh = self.pass_fraction, self.share
        origin = "raw" if self.margin_source == "raw" else f"{fmt(self.margin_dz)} d_z × pooled sd"
        het = self.heterogeneity
        return Summary("Fraction of v-perp directions equivalent to v", rows=[
            ("draws J", self.n_draws), ("prompts n", self.n_prompts), ("alpha", self.alpha),
            ("margin", f"±{fmt(self.delta)} raw ({origin})"),
            ("(a) per-draw TOSTs passing", f"{self.n_pass}/{self.n_draws} = {fmt(pf.estimate)}"),
            (f"    {pf.confidence:.0%} Wilson CI", (pf.low, pf.high)),
            ("(b) model share pi", sh.estimate),
            (f"    {sh.confidence:.0%} CI", f"[{fmt(sh.low)}, {fmt(sh.high)}] ({sh.method}, B = {self.n_boot})"),
            ("    draw effects", f"N(mu = {fmt(self.mu)}, tau = {fmt(self.tau)})"),
            ("    heterogeneity p", f"{fmt(het.p_value)} ({het.interpretation})"),
        ], sections={"assumptions": self.assumptions, "notes": self.notes})


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
    s_pool = math.sqrt(two_way_exact(x)[3])
    notes: list[str] = []
    delta, c = raw_and_standardised(source, value, s_pool)
    if source == "dz" and s_pool == 0.0:
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
