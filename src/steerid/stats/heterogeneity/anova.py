r"""Do the v⊥ draws steer differently? The two-way F test and the draw-effect SD τ.

``F = MS_draw / MS_error ~ F(J − 1, (J − 1)(n − 1))`` under τ² = 0; ``τ̂² = max(0, (MS_draw −
MS_error)/n)`` with the MLS interval (:mod:`steerid.stats.heterogeneity.mls`) of
``(θ₁ − θ₂)/n``; ``τ/se`` compares τ with the per-draw standard error
``se = √(mean_j s_j²/n)``; ``I² = τ̂² / (τ̂² + MS_error/n) = max(0, 1 − 1/F)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import stats as st

from steerid.results import ResultMixin, Summary, Table
from steerid.stats.heterogeneity.layout import as_draw_matrix, two_way_exact
from steerid.stats.heterogeneity.mls import _mls_difference
from steerid.validation import check_probability


@dataclass(frozen=True, repr=False)
class DrawHeterogeneity(ResultMixin):
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

    _repr_fields: ClassVar[tuple[str, ...]] = ("interpretation", "p_value", "tau", "tau_over_se", "n_draws", "n_prompts")

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

    def summary(self) -> Summary:
        """Readable report of the two-way analysis."""
        anova = Table(("source", "df", "MS", "F", "p"), (
            ("draws", self.df_draw, self.ms_draw, self.f_stat, self.p_value),
            ("error", self.df_error, self.ms_error, "", ""),
        ))
        return Summary("Draw heterogeneity (two-way ANOVA, prompts as blocks)", rows=[
            ("draws J", self.n_draws), ("prompts n", self.n_prompts), ("grand mean", self.grand_mean),
            ("draw means (min, max)", (min(self.draw_means), max(self.draw_means))),
            ("tau^2", self.tau2), (f"tau^2 {self.confidence:.0%} CI", self.tau2_ci), ("CI method", self.ci_method),
            ("tau", self.tau), ("tau CI", self.tau_ci), ("per-draw se", self.se_per_draw),
            ("tau / se", self.tau_over_se), ("I^2", self.i2),
        ], tables=[anova], verdict=f"heterogeneity: {self.interpretation.upper()}",
            sections={"assumptions": self.assumptions, "notes": self.notes})



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
    grand, msd, mse, s2 = two_way_exact(x)
    if bool(np.all(x == x[0, 0])):
        draw_means = np.full(j, grand)
        notes.append(f"all {x.size} differences equal {grand:.6g}: no variation at all")
    else:
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
