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

Layout: :mod:`~steerid.stats.heterogeneity.layout` (the J × n matrix, its two-way decomposition,
bootstrap re-estimates, per-draw TOSTs), :mod:`~steerid.stats.heterogeneity.mls` (the MLS
interval), :mod:`~steerid.stats.heterogeneity.anova` (:func:`draw_heterogeneity`) and
:mod:`~steerid.stats.heterogeneity.share` (:func:`fraction_equivalent`).
"""

from steerid.stats.heterogeneity.anova import DrawHeterogeneity, draw_heterogeneity
from steerid.stats.heterogeneity.share import FractionEquivalent, fraction_equivalent

__all__ = ["DrawHeterogeneity", "FractionEquivalent", "draw_heterogeneity", "fraction_equivalent"]
