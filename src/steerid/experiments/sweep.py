"""E2 — strength sweep: E1 repeated across relative strengths α, giving dose-response curves.

For each α in ``alphas_rel`` the E1 condition set is built with displacement norm α·m (m the
median token norm at the site) and analysed as in E1. The curves are the mean shift vs ``none``
of ±v and of the draw-averaged ±v+v⊥ per ρ, each with its CI, as functions of α; the question is
whether the two curves coincide at every strength, not only at one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from steerid.experiments.base import ExperimentContext
from steerid.experiments.conditions import ScoreFn
from steerid.experiments.orthogonal import OrthogonalConfig, OrthogonalResult
from steerid.experiments.orthogonal import run as run_e1
from steerid.results import ResultMixin, Summary, Table, jsonable


@dataclass(frozen=True)
class SweepConfig:
    """α grid (relative) and the E1 settings used at each α."""

    alphas_rel: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.4)
    e1: OrthogonalConfig = OrthogonalConfig(n_draws=4)


@dataclass(repr=False)
class SweepResult(ResultMixin):
    """E2: the E1 result at every α (``points``) and the dose-response ``curves`` per series."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("points", "curves")

    points: list[dict[str, Any]]
    curves: dict[str, list[dict[str, Any]]]

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"points": self.points, "curves": self.curves})

    def summary(self) -> Summary:
        """Dose-response: the mean shift and its CI per series and α."""
        rows = tuple((name, p.get("alpha_rel"), p.get("mean_shift"), (p.get("ci_low"), p.get("ci_high")))
                     for name, points in self.curves.items() for p in points)
        return Summary("E2 alpha sweep (dose-response)", rows=[("alphas", len(self.points))],
                       tables=[Table(("series", "α_rel", "mean shift", "CI"), rows)])


def dose_response(per_alpha: list[tuple[float, OrthogonalResult]]) -> dict[str, list[dict[str, Any]]]:
    """Curves ``{series: [{alpha, mean_shift, ci_low, ci_high}]}`` for ±v and ±v+v⊥ (per ρ, averaged
    over draws) on the primary measure."""
    curves: dict[str, list[dict[str, Any]]] = {}
    for alpha, result in per_alpha:
        eff = result.efficacy.get(result.primary, {})
        for name, e in eff.items():
            if "⊥" in name and "#" in name:
                continue
            curves.setdefault(name, []).append({"alpha_rel": alpha, "mean_shift": e["mean_shift"],
                                                "ci_low": e["ci_low"], "ci_high": e["ci_high"]})
        for fam in result.families:
            tag = "+" if fam["sign"] > 0 else "-"
            rel = fam.get("relative_efficacy") or {}
            curves.setdefault(f"{tag}v+v⊥[ρ={fam['rho']:g}] relative", []).append(
                {"alpha_rel": alpha, "mean_shift": rel.get("estimate"), "ci_low": rel.get("low"), "ci_high": rel.get("high")})
    return curves


def run(config: SweepConfig, ctx: ExperimentContext, measures: dict[str, ScoreFn] | None = None) -> SweepResult:
    """Run E1 at every α (α = 0 is the null control: nothing may steer there)."""
    per_alpha = []
    for alpha in config.alphas_rel:
        per_alpha.append((alpha, run_e1(replace(config.e1, alpha_rel=alpha), ctx, measures)))
    points = [{"alpha_rel": a, "result": r.to_dict()} for a, r in per_alpha]
    return SweepResult(points=points, curves=dose_response(per_alpha))


# E2 (its name in audit configs, the CLI and the report) — aliases of the descriptive names.
E2Config = SweepConfig
E2Result = SweepResult
