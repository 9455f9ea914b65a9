"""Rows and result of the planted-direction benchmark (cosines to w, drifts, invariance)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from steerid.results import ResultMixin, Summary, Table


@dataclass(repr=False)
class BenchmarkRow(ResultMixin):
    """One cell of the benchmark.

    Attributes:
        part: ``synthetic`` or the model spec.
        constraint: Constraint name (``gauge/fisher`` etc. for the model part).
        setting: ``recovery`` (ρ = 0) or ``drift``.
        n: Pairs (tokens per class for the model part).
        noise: Noise level σ.
        rho: ‖v⊥‖/‖v‖.
        baseline_cosine: Mean cos(mean difference, w).
        constrained_cosine: Mean cos(constrained estimate, w).
        baseline_drift / constrained_drift: 1 − min pairwise cosine across v⊥ draws (NaN for
            recovery rows).
        invariant: Constrained drift ≤ ½ baseline drift and cosine to w not lower (drift rows;
            None for recovery rows).
        note: Extra facts (e.g. the fitted gauge rank).
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("part", "constraint", "setting", "n", "rho", "invariant")

    part: str
    constraint: str
    setting: str
    n: int
    noise: float
    rho: float
    baseline_cosine: float
    constrained_cosine: float
    baseline_drift: float = math.nan
    constrained_drift: float = math.nan
    invariant: bool | None = None
    note: str = ""


@dataclass(repr=False)
class BenchmarkResult(ResultMixin):
    """Rows of the planted-direction benchmark plus the tiny model's behaviour check."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("size", "seed", "seconds")

    size: str
    seed: int
    seconds: float
    rows: list[BenchmarkRow]
    behaviour: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (NaN kept as float)."""
        return {"size": self.size, "seed": self.seed, "seconds": self.seconds,
                "rows": [r.to_dict() for r in self.rows], "behaviour": dict(self.behaviour),
                "headline": self.headline()}

    def headline(self) -> dict[str, bool]:
        """Per constraint: is its drift row at the largest ρ invariant (see :class:`BenchmarkRow`)?"""
        largest: dict[str, BenchmarkRow] = {}
        for row in self.rows:
            if row.setting == "drift" and (row.constraint not in largest or row.rho >= largest[row.constraint].rho):
                largest[row.constraint] = row
        return {name: bool(row.invariant) for name, row in largest.items()}

    def __repr__(self) -> str:
        return f"BenchmarkResult(size={self.size!r}, seed={self.seed}, rows={len(self.rows)}, headline={self.headline()})"

    def summary(self) -> Summary:
        """Every row (cosines to w, drifts, invariance), the headline and the behaviour check."""
        header = ("part", "constraint", "setting", "n", "σ", "ρ", "cos mean-diff", "cos constrained",
                  "drift mean-diff", "drift constrained", "invariant")
        rows = tuple((r.part, r.constraint, r.setting, r.n, r.noise, r.rho, r.baseline_cosine, r.constrained_cosine,
                      r.baseline_drift, r.constrained_drift, "–" if r.invariant is None else r.invariant)
                     for r in self.rows)
        head = self.headline()
        return Summary("Planted-direction benchmark", rows=[
            ("size", self.size), ("seed", self.seed), ("seconds", self.seconds),
            ("invariant at the largest ρ", ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in head.items())),
            *self.behaviour.items(),
        ], tables=[Table(header, rows)])

    def table(self) -> str:
        """Markdown table of all rows, then the behaviour check."""
        head = ("| part | constraint | setting | n | σ | ρ | cos mean-diff | cos constrained | drift mean-diff "
                "| drift constrained | invariant | note |")
        lines = [head, "|" + "---|" * 12]

        def fmt(x: float) -> str:
            return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"

        for r in self.rows:
            inv = "–" if r.invariant is None else ("yes" if r.invariant else "**no**")
            lines.append(f"| {r.part} | {r.constraint} | {r.setting} | {r.n} | {r.noise:g} | {r.rho:g} | "
                         f"{fmt(r.baseline_cosine)} | {fmt(r.constrained_cosine)} | {fmt(r.baseline_drift)} | "
                         f"{fmt(r.constrained_drift)} | {inv} | {r.note} |")
        if self.behaviour:
            lines.append("")
            lines.append("Behaviour (tiny model, mean over tokens and draws): " + ", ".join(
                f"{k} = {v:.3g}" for k, v in self.behaviour.items()))
        return "\n".join(lines)
