r"""The equivalence radius: how large a random orthogonal perturbation v keeps steering like v.

Data. Perturbation sizes ``ρ_1 < … < ρ_K`` (ρ = ‖v⊥‖/‖v‖) and for each ρ_k a
(J_k draws × n prompts) array ``D_k[j, i] = score(v + v⊥_{kj})_i − score(v)_i``; all arrays use
the same n prompts in the same column order.

Curve. At every ρ_k the model of :mod:`steerid.stats.heterogeneity` gives the estimated share
of equivalent directions

    π̂(ρ_k) = Φ((δ − μ̂_k)/τ̂_k) − Φ((−δ − μ̂_k)/τ̂_k),

μ̂_k the grand mean and τ̂_k² = max(0, (MS_draw − MS_error)/n) the draw-effect variance at ρ_k,
and the raw pass fraction of the per-draw TOSTs (Wilson CI) alongside.

Radius. ρ* is where the estimated share first falls below one half, interpolated linearly on
log ρ between the last grid point with π̂ ≥ 0.5 and the first with π̂ < 0.5:

    log ρ* = log ρ_{k−1} + (π̂_{k−1} − ½)/(π̂_{k−1} − π̂_k) · (log ρ_k − log ρ_{k−1}).

If π̂ ≥ ½ at every ρ the radius lies beyond the largest ρ (reported as ρ_K, a *lower bound*,
``censoring = "right"``); if π̂(ρ_1) < ½ it lies below the smallest ρ (reported as ρ_1, an
*upper bound*, ``censoring = "left"``).

Interval. A two-stage bootstrap, joint across ρ: in each resample one set of n prompt columns
is drawn with replacement and used at every ρ (the prompts are shared), and the draws of every
ρ are drawn with replacement (independently per ρ, since each ρ has its own draws; with
``shared_draws=True`` the same row indices are used at every ρ, for designs where draw j is the
same direction rescaled). The curve and ρ* are recomputed; resamples that never cross count as
ρ* = ∞ and those below ρ_1 as ρ* = 0, so the percentile interval honestly extends to 0 or ∞
when the grid does not pin the radius down. The curve's pointwise intervals are percentiles of
π̂*(ρ_k) from the same resamples.

Margin. ``margin_raw`` gives ±δ in score units at every ρ. ``margin_dz`` is converted once with
the pooled within-draw SD at the *smallest* ρ (the perturbation closest to v) and then fixed for
all ρ, so that the margin does not widen with the noise of larger perturbations; the bootstrap
recomputes that conversion in every resample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from steerid.errors import DataError
from steerid.results import ResultMixin, Summary, Table, fmt
from steerid.stats._margin import margin_choice, raw_and_standardised
from steerid.stats.heterogeneity.layout import as_draw_matrix, boot_estimates, per_draw_tost, share_inside, two_way_exact
from steerid.stats.interval import Interval
from steerid.stats.proportion import wilson_ci
from steerid.validation import check_count, check_probability


@dataclass(frozen=True, repr=False)
class RadiusPoint(ResultMixin):
    """One point of the equivalence curve.

    Attributes:
        rho: ‖v⊥‖/‖v‖.
        n_draws: J at this ρ.
        mu: Grand mean difference μ̂.
        tau: Between-draw SD τ̂.
        share: π̂ with its bootstrap percentile interval.
        pass_fraction: Raw per-draw TOST pass fraction with its Wilson interval.
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("rho", "n_draws", "mu", "tau")
    _title: ClassVar[str] = "Equivalence curve point"

    rho: float
    n_draws: int
    mu: float
    tau: float
    share: Interval
    pass_fraction: Interval



@dataclass(frozen=True, repr=False)
class EquivalenceRadius(ResultMixin):
    """Equivalence curve and radius (see the module docstring).

    Attributes:
        curve: One :class:`RadiusPoint` per ρ.
        radius: ρ* (ρ_K when right-censored, ρ_1 when left-censored).
        ci: Bootstrap percentile interval of ρ* (0 / inf when it extends beyond the grid).
        confidence: Two-sided level.
        censoring: ``"none"``, ``"right"`` (beyond the largest ρ: ``radius`` is a lower bound)
            or ``"left"`` (below the smallest ρ: ``radius`` is an upper bound).
        is_lower_bound: ``censoring == "right"``.
        is_upper_bound: ``censoring == "left"``.
        boot_right: Share of resamples that never cross within the grid.
        boot_left: Share of resamples already below one half at ρ_1.
        margin_source: ``"raw"`` or ``"dz"``.
        margin_dz: Margin in pooled within-draw SDs at the smallest ρ.
        delta: Raw margin δ.
        alpha: Level of each one-sided per-draw test.
        n_prompts: n.
        n_boot: Bootstrap resamples.
        seed: Seed.
        shared_draws: Whether draw indices were resampled jointly across ρ.
        assumptions: What the estimate assumes.
        notes: Data-specific remarks.
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("radius", "ci", "censoring", "delta", "n_prompts")

    curve: tuple[RadiusPoint, ...]
    radius: float
    ci: tuple[float, float]
    confidence: float
    censoring: str
    is_lower_bound: bool
    is_upper_bound: bool
    boot_right: float
    boot_left: float
    margin_source: str
    margin_dz: float
    delta: float
    alpha: float
    n_prompts: int
    n_boot: int
    seed: int
    shared_draws: bool
    assumptions: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def rhos(self) -> tuple[float, ...]:
        """The ρ grid."""
        return tuple(p.rho for p in self.curve)

    def summary(self) -> Summary:
        """Readable curve and radius."""
        margin = f"±{fmt(self.delta)} raw" + ("" if self.margin_source == "raw"
                                              else f" ({fmt(self.margin_dz)} d_z at the smallest rho)")
        curve = Table(("rho", "J", "mu", "tau", "share pi", "CI", "pass", "Wilson CI"), tuple(
            (p.rho, p.n_draws, p.mu, p.tau, p.share.estimate, (p.share.low, p.share.high), p.pass_fraction.estimate,
             (p.pass_fraction.low, p.pass_fraction.high)) for p in self.curve))
        if self.censoring == "right":
            head = f"radius > {fmt(self.radius)} (share never falls below 1/2 on the grid; lower bound)"
        elif self.censoring == "left":
            head = f"radius < {fmt(self.radius)} (share already below 1/2 at the smallest rho; upper bound)"
        else:
            head = f"radius = {fmt(self.radius)}"
        return Summary("Equivalence radius (share of equivalent v-perp directions vs rho)", rows=[
            ("prompts n", self.n_prompts), ("margin", margin), ("alpha", self.alpha),
            ("bootstrap", f"{self.boot_right:.1%} of resamples beyond the grid, {self.boot_left:.1%} below it"),
        ], tables=[curve], verdict=f"{head}    {self.confidence:.0%} CI [{fmt(self.ci[0])}, {fmt(self.ci[1])}]",
            sections={"assumptions": self.assumptions, "notes": self.notes})


def crossing(log_rho: np.ndarray, share: np.ndarray) -> np.ndarray:
    """log ρ* for curves ``share`` (..., K): −inf below the grid, +inf beyond it (module docstring)."""
    below = share < 0.5
    any_below = below.any(axis=-1)
    first = np.argmax(below, axis=-1)
    prev = np.maximum(first - 1, 0)
    p_prev = np.take_along_axis(share, prev[..., None], axis=-1)[..., 0]
    p_first = np.take_along_axis(share, first[..., None], axis=-1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(first > 0, (p_prev - 0.5) / (p_prev - p_first), 0.0)
    out = log_rho[prev] + frac * (log_rho[first] - log_rho[prev])
    out = np.where(first == 0, -np.inf, out)
    return np.where(any_below, out, np.inf)


def _check_rhos(rhos: object) -> np.ndarray:
    try:
        r = np.asarray(rhos, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"rhos is not numeric ({exc})", "pass the perturbation sizes ‖v⊥‖/‖v‖ as numbers") from exc
    if r.ndim != 1 or r.size < 2:
        raise DataError(f"rhos must be 1-D with at least 2 values, got shape {r.shape}",
                        "run at least two perturbation sizes")
    if not (np.isfinite(r).all() and (r > 0.0).all()):
        raise DataError("rhos must be finite and > 0", "pass the perturbation sizes ‖v⊥‖/‖v‖ (positive)")
    if np.any(np.diff(r) <= 0.0):
        raise DataError(f"rhos {r.tolist()} are not strictly increasing", "sort the perturbation sizes and their arrays")
    return r


def equivalence_radius(
    rhos: Sequence[float],
    diffs: Sequence[object],
    *,
    margin_raw: float | None = None,
    margin_dz: float | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
    seed: int = 0,
    n_boot: int = 2000,
    shared_draws: bool = False,
) -> EquivalenceRadius:
    """Estimate the ρ at which half of the random orthogonal directions stop being equivalent.

    Args:
        rhos: Strictly increasing perturbation sizes ‖v⊥‖/‖v‖ (≥ 2 values, > 0).
        diffs: One (J_k draws × n prompts) difference array per ρ, same prompts and column
            order in all of them.
        margin_raw: Margin ±margin_raw in score units.
        margin_dz: Margin in pooled within-draw SDs at the smallest ρ. Give exactly one.
        alpha: Level of each one-sided per-draw test (for the raw pass fractions).
        confidence: Two-sided level of the intervals.
        seed: Seed of the bootstrap.
        n_boot: Bootstrap resamples (≥ 100).
        shared_draws: Resample the same draw indices at every ρ (draw j is the same direction at
            every ρ; requires equal J). Default: independent draws per ρ.

    Returns:
        An :class:`EquivalenceRadius`.

    Raises:
        DataError: bad ρ grid, mismatched arrays (count, prompts, J with ``shared_draws``),
            J < 2, n < 3, NaN/inf, no or two margins, bad levels.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> rhos = [0.25, 0.5, 1.0, 2.0, 4.0]
        >>> D = [rng.normal(0, 0.5 * r, (30, 1)) + rng.normal(0, 1, (30, 100)) for r in rhos]
        >>> res = equivalence_radius(rhos, D, margin_raw=0.5, n_boot=300)
        >>> res.censoring, res.ci[0] < 1.48 < res.ci[1]
        ('none', True)
    """
    r = _check_rhos(rhos)
    if isinstance(diffs, np.ndarray) and diffs.ndim == 3:
        arrays = [as_draw_matrix(diffs[k], f"diffs[{k}]") for k in range(diffs.shape[0])]
    elif isinstance(diffs, (str, bytes)) or not isinstance(diffs, (Sequence, np.ndarray)):
        raise DataError("diffs must be a sequence of (draws × prompts) arrays", "pass one difference array per rho")
    else:
        arrays = [as_draw_matrix(d, f"diffs[{k}]") for k, d in enumerate(diffs)]
    if len(arrays) != r.size:
        raise DataError(f"{len(arrays)} difference arrays for {r.size} rho values", "pass one array per rho, in order")
    n = arrays[0].shape[1]
    if any(a.shape[1] != n for a in arrays):
        raise DataError(f"prompt counts differ across rho: {[a.shape[1] for a in arrays]}",
                        "score the same prompts (same columns) at every rho")
    js = [a.shape[0] for a in arrays]
    if shared_draws and len(set(js)) != 1:
        raise DataError(f"shared_draws needs the same number of draws at every rho, got {js}",
                        "pass shared_draws=False for independent draws per rho")
    source, value = margin_choice(margin_dz, margin_raw)
    alpha = check_probability(alpha, "alpha", upper=0.5)
    confidence = check_probability(confidence, "confidence")
    seed = check_count(seed, "seed", minimum=0)
    n_boot = check_count(n_boot, "n_boot", minimum=100)

    notes: list[str] = []
    s_pool = math.sqrt(two_way_exact(arrays[0])[3])
    delta, c = raw_and_standardised(source, value, s_pool)
    if source == "dz" and s_pool == 0.0:
        notes.append("pooled sd at the smallest rho is 0: a d_z margin is 0 raw units; pass margin_raw")

    rng = np.random.default_rng(seed)
    cols = rng.integers(0, n, size=(n_boot, n))
    shared_rows = rng.integers(0, js[0], size=(n_boot, js[0])) if shared_draws else None
    a = (1.0 - confidence) / 2.0
    k_count = r.size
    share_hat = np.empty(k_count)
    share_b = np.empty((n_boot, k_count))
    delta_b: np.ndarray | float = delta
    points_raw = []
    for k, x in enumerate(arrays):
        j = x.shape[0]
        rows = shared_rows if shared_rows is not None else rng.integers(0, j, size=(n_boot, j))
        mu_b, tau2_b, s2_b = boot_estimates(x, rows, cols)
        if k == 0 and source == "dz":
            delta_b = value * np.sqrt(s2_b)
        share_b[:, k] = share_inside(mu_b, np.sqrt(tau2_b), delta_b)
        mu, msd, mse, _ = two_way_exact(x)
        tau = math.sqrt(max(0.0, (msd - mse) / n))
        share_hat[k] = float(share_inside(mu, tau, delta))
        _, _, eq = per_draw_tost(x, -delta, delta, alpha)
        points_raw.append((j, mu, tau, int(eq.sum())))

    curve = []
    for k, (j, mu, tau, passed) in enumerate(points_raw):
        lo, hi = (float(v) for v in np.quantile(share_b[:, k], [a, 1.0 - a]))
        curve.append(RadiusPoint(
            rho=float(r[k]), n_draws=j, mu=mu, tau=tau,
            share=Interval(float(share_hat[k]), lo, hi, confidence, "two-stage bootstrap percentile", j,
                           f"{j} draws × {n} prompts"),
            pass_fraction=wilson_ci(passed, j, confidence),
        ))

    log_r = np.log(r)
    est = float(crossing(log_r, share_hat[None, :])[0])
    boot = crossing(log_r, share_b)
    lo_log, hi_log = (float(v) for v in np.quantile(boot, [a, 1.0 - a], method="inverted_cdf"))
    if est == math.inf:
        censoring, radius = "right", float(r[-1])
        notes.append(f"the estimated share stays ≥ 1/2 up to rho = {r[-1]:g}: the radius is at least that; "
                     "extend the rho grid to locate it")
    elif est == -math.inf:
        censoring, radius = "left", float(r[0])
        notes.append(f"the estimated share is already < 1/2 at rho = {r[0]:g}: the radius is below it; "
                     "add smaller rho values to locate it")
    else:
        censoring, radius = "none", float(math.exp(est))
        below = share_hat < 0.5
        first_below = int(np.argmax(below))
        if not below[first_below:].all():
            notes.append("the estimated share is not monotone in rho: it rises back above 1/2 after the first "
                         "crossing, which is the one reported")
    if hi_log == math.inf:
        notes.append("the interval's upper end lies beyond the largest rho (reported as inf)")
    if lo_log == -math.inf:
        notes.append("the interval's lower end lies below the smallest rho (reported as 0)")
    if min(js) < 20:
        notes.append(f"as few as {min(js)} draws per rho: the share at each rho rests on few directions")
    return EquivalenceRadius(
        curve=tuple(curve),
        radius=radius,
        ci=(math.exp(lo_log), math.exp(hi_log)),
        confidence=confidence,
        censoring=censoring,
        is_lower_bound=censoring == "right",
        is_upper_bound=censoring == "left",
        boot_right=float(np.mean(boot == math.inf)),
        boot_left=float(np.mean(boot == -math.inf)),
        margin_source=source,
        margin_dz=c,
        delta=delta,
        alpha=alpha,
        n_prompts=n,
        n_boot=n_boot,
        seed=seed,
        shared_draws=bool(shared_draws),
        assumptions=(
            "every array is scored on the same prompts in the same column order",
            "at each rho: additive draw + prompt + error model with normal draw effects N(mu, tau^2)",
            "the radius is the first crossing of 1/2 by the estimated share, linear in log rho between grid points",
            "bootstrap: prompts resampled jointly across rho, draws "
            + ("with the same indices at every rho" if shared_draws else "independently per rho"),
        ),
        notes=tuple(notes),
    )
