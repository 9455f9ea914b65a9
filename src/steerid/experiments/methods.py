"""E5 — method equivalence: vectors from different extraction methods, angle vs behaviour.

Given vectors {v_m} from mean_diff, pca, probe and lda at one site, report the cosine matrix
cos(v_a, v_b) = v̂_aᵀ v̂_b, then run every method's ±v (same displacement norm α·m) on the same
prompts in shared batches and test behavioural equivalence of each method against the reference
(the first method) with a paired TOST on the primary measure. Two vectors far apart in angle
whose steering is equivalent are the non-identifiability the protocol is about; two that are
close but behave differently would point to a measurement problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from steerid.experiments.analysis import efficacy, equivalence
from steerid.experiments.base import ExperimentContext
from steerid.experiments.conditions import Condition, ScoreFn, run_conditions
from steerid.results import ResultMixin, Summary, Table
from steerid.stats import holm
from steerid.stats.plan import EquivalencePlan
from steerid.vector import SteeringVector


@dataclass(frozen=True)
class MethodsConfig:
    alpha_rel: float = 0.1
    signs: tuple[int, ...] = (1, -1)
    plan: EquivalencePlan = field(default_factory=EquivalencePlan)
    max_new_tokens: int = 32
    greedy: bool = False
    temperature: float = 0.7


@dataclass(repr=False)
class MethodsResult(ResultMixin):
    """E5: pairwise cosines of the methods' vectors, each one's efficacy and their paired comparisons."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("methods",)

    methods: list[str]
    cosine: list[list[float]]
    efficacy: dict[str, dict[str, Any]]
    comparisons: list[dict[str, Any]]

    def summary(self) -> Summary:
        """Cosine between every pair of extraction methods."""
        rows = tuple((name, *row) for name, row in zip(self.methods, self.cosine))
        return Summary("E5 method equivalence", rows=[("methods", ", ".join(self.methods)),
                                                      ("comparisons", len(self.comparisons))],
                       tables=[Table(("cosine", *self.methods), rows)])


def cosine_matrix(vectors: dict[str, SteeringVector]) -> np.ndarray:
    """Pairwise cosines of the unit directions."""
    units = np.stack([v.direction for v in vectors.values()])
    return units @ units.T


def run(config: MethodsConfig, ctx: ExperimentContext, vectors: dict[str, SteeringVector],
        measures: dict[str, ScoreFn]) -> MethodsResult:
    """Cosine matrix and behavioural TOSTs of each method vs the first (reference) method."""
    names = list(vectors)
    scale = config.alpha_rel * ctx.token_norm
    dim = ctx.lm.info.hidden_size
    conditions = [Condition("none", "none", 0, None, None, np.zeros(dim))]
    for s in config.signs:
        for m in names:
            conditions.append(Condition(f"{'+' if s > 0 else '-'}{m}", "vector", s, None, None, s * scale * vectors[m].direction))
    runs = run_conditions(ctx, conditions, measures, max_new_tokens=config.max_new_tokens, greedy=config.greedy,
                          temperature=config.temperature, loglik=False)
    primary = next(iter(measures))
    none = runs.score(primary, "none")
    eff = {c.name: efficacy(runs.score(primary, c.name), none, expected_sign=c.sign, seed=ctx.seed)
           for c in conditions[1:]}
    comparisons = []
    for s in config.signs:
        tag = "+" if s > 0 else "-"
        ref = runs.score(primary, f"{tag}{names[0]}")
        for m in names[1:]:
            comparisons.append({"sign": s, "reference": names[0], "method": m,
                                "cosine": float(vectors[m].direction @ vectors[names[0]].direction),
                                "tost": equivalence(runs.score(primary, f"{tag}{m}"), ref,
                                                    margin_dz=config.plan.margin_dz, level=config.plan.level)})
    if comparisons:
        adjusted = holm([c["tost"]["p_tost"] for c in comparisons], alpha=config.plan.level).p_adjusted
        for c, p in zip(comparisons, adjusted):
            c["p_tost_holm"] = float(p)
            c["equivalent"] = bool(p < config.plan.level)
    return MethodsResult(methods=names, cosine=cosine_matrix(vectors).tolist(), efficacy=eff, comparisons=comparisons)


# E5 (its name in audit configs, the CLI and the report) — aliases of the descriptive names.
E5Config = MethodsConfig
E5Result = MethodsResult
