"""Result objects of a group-sequential paired TOST: one analysed look, the whole procedure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from steerid.results import ResultMixin, Summary, Table
from steerid.stats.sequential.plan import SequentialPlan


@dataclass(frozen=True, repr=False)
class SequentialLook(ResultMixin):
    """One analysed look of a group-sequential TOST.

    Attributes:
        look: 1-based look number k.
        n: Cumulative number of prompts n_k.
        df: n_k − 1.
        info_fraction: t_k = n_k / n_max.
        mean_diff: Mean of the first n_k differences.
        sd_diff: Their SD (ddof = 1).
        se: sd_diff / √n_k.
        t_lower: (mean − low)/se.
        t_upper: (mean − high)/se.
        p_lower: Nominal one-sided p of H₀: μ ≤ low.
        p_upper: Nominal one-sided p of H₀: μ ≥ high.
        alpha_nominal: Nominal one-sided level α_k of this look.
        z_boundary: c_k.
        t_boundary: t_{1−α_k, n_k−1}.
        ci: Repeated confidence interval mean ± t_boundary·se.
        ci_level: 1 − 2α_k.
        decision: ``"equivalent"``, ``"not equivalent"`` or ``"continue"``.
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("look", "n", "mean_diff", "decision")

    look: int
    n: int
    df: float
    info_fraction: float
    mean_diff: float
    sd_diff: float
    se: float
    t_lower: float
    t_upper: float
    p_lower: float
    p_upper: float
    alpha_nominal: float
    z_boundary: float
    t_boundary: float
    ci: tuple[float, float]
    ci_level: float
    decision: str


@dataclass(frozen=True, repr=False)
class SequentialTostResult(ResultMixin):
    """Outcome of a group-sequential paired TOST (see the module docstring).

    Attributes:
        test: Name of the procedure.
        plan: The :class:`SequentialPlan` used.
        margin_source: ``"raw"`` or ``"dz"`` (frozen from the SD at the first look).
        margin_dz: The margin in d_z units of the first-look SD (NaN if that SD is 0 or no look
            has been analysed).
        low: Lower equivalence bound in raw units (NaN before the first look).
        high: Upper equivalence bound in raw units.
        alpha: One-sided level per side.
        looks: The analysed looks, in order (up to and including the stopping look).
        stop_look: 1-based look at which the procedure stopped, None if it has not stopped.
        stopping_n: n at the stopping look, None if not stopped.
        decision: ``"equivalent"``, ``"not equivalent"`` or ``"continue"`` (not stopped yet).
        equivalent: ``decision == "equivalent"``.
        n_available: Number of differences supplied.
        assumptions: What the procedure assumes.
        notes: Data-specific remarks.
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("decision", "stopping_n", "low", "high")

    test: str
    plan: SequentialPlan
    margin_source: str
    margin_dz: float
    low: float
    high: float
    alpha: float
    looks: tuple[SequentialLook, ...]
    stop_look: int | None
    stopping_n: int | None
    decision: str
    equivalent: bool
    n_available: int
    assumptions: tuple[str, ...]
    notes: tuple[str, ...]

    def summary(self) -> Summary:
        """Plan, per-look table (repeated CIs) and decision."""
        origin = "given in raw units" if self.margin_source == "raw" else "±margin_dz × sd at look 1, then frozen"
        header = ("look", "n", "mean", "sd", "t_lo", "t_up", "t bound", "p_lo", "p_up", "nominal a", "repeated CI",
                  "decision")
        rows = tuple((lk.look, lk.n, lk.mean_diff, lk.sd_diff, lk.t_lower, lk.t_upper, lk.t_boundary, lk.p_lower,
                      lk.p_upper, lk.alpha_nominal, lk.ci, lk.decision) for lk in self.looks)
        if self.stop_look is None:
            verdict = f"not stopped: continue to n = {self._next_n()}"
        else:
            verdict = f"stopped at look {self.stop_look} (n = {self.stopping_n}): {self.decision.upper()}"
        return Summary(
            "Group-sequential paired TOST (Lan–DeMets alpha spending)",
            rows=[("looks", list(self.plan.looks)), ("spending", self.plan.spending), ("alpha per side", self.alpha),
                  ("margin (raw)", (self.low, self.high)), ("margin origin", origin),
                  ("margin in d_z at look 1", self.margin_dz)],
            tables=[Table(header, rows)], verdict=verdict,
            sections={"assumptions": self.assumptions, "notes": self.notes})

    def _next_n(self) -> int | str:
        k = len(self.looks)
        return self.plan.looks[k] if k < self.plan.n_looks else "?"
