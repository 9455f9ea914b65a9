"""Likelihood efficacy: steering measured without generation.

For each likelihood item (prompt x, trait-positive continuation y⁺, trait-negative y⁻) and each
condition Δ,

    L(Δ) = (1/|y⁺|) log p(y⁺ | x; Δ) − (1/|y⁻|) log p(y⁻ | x; Δ)

(per-token means, so the two continuations' lengths do not matter). Efficacy of a condition is the
paired shift L(Δ) − L(0) over items; equivalence of v and v+v⊥ is a paired TOST on
L(v+v⊥) − L(v). Teacher forcing makes this deterministic and cheap (one forward of the prompt per item and
condition, then both continuations from its cache; no sampling noise), so it reaches far higher power per second than generation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from steerid.engine.decode import choose_dtype, in_dtype
from steerid.experiments.base import ExperimentContext
from steerid.experiments.conditions import Condition, ConditionRuns, e1_conditions
from steerid.experiments.draws import radius
from steerid.experiments.orthogonal import FAMILY_COLUMNS, OrthogonalConfig, analyse, collect, existence_record
from steerid.engine.generation import continuation_logprobs
from steerid.results import ResultMixin, Summary, jsonable, records_table
from steerid.stats import tost_sample_size_paired
from steerid.experiments.analysis import planned_power


def likelihood_scores(ctx: ExperimentContext, conditions: Sequence[Condition], positives: Sequence[str],
                      negatives: Sequence[str], dtype: str = "model", scope: str = "all") -> np.ndarray:
    """L(Δ) for every condition × item, shape (C, P); prompts are ``ctx.prompts``. ``dtype``
    (``model``, ``auto``, ``float32``, ``bfloat16``; see :func:`steerid.engine.decode.choose_dtype`) is
    the dtype of the teacher-forced forwards (a copy of the model when it differs). ``scope`` is the
    steering scope: ``all`` steers prompt and reply (a deployed vector steers the whole context),
    ``generated`` the reply only — the prompt is then the same under every condition and runs once per
    item (:func:`steerid.engine.generation.continuation_logprobs`)."""
    rows = len(ctx.prompts) * len(conditions)
    lm = ctx.lm if dtype == "model" else in_dtype(ctx.lm, choose_dtype(dtype, ctx.lm.device, rows=min(rows, ctx.batch_size)))
    n_p, n_c = len(ctx.prompts), len(conditions)
    prompts = [ctx.prompts[p] for p in range(n_p) for _ in range(n_c)]
    deltas = np.stack([conditions[c].delta for _ in range(n_p) for c in range(n_c)])
    pairs = [(positives[p], negatives[p]) for p in range(n_p) for _ in range(n_c)]
    both = continuation_logprobs(lm, prompts, pairs, site=ctx.site, deltas=deltas, batch_size=ctx.batch_size,
                                 reduce="mean", scope=scope)
    return (both[:, 0] - both[:, 1]).reshape(n_p, n_c).T


@dataclass(repr=False)
class LikelihoodResult(ResultMixin):
    """E1 analysed on the likelihood measure (same fields as E1's families / efficacy)."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("n_items", "displacement_norm", "planned_power")

    config: dict[str, Any]
    n_items: int
    displacement_norm: float
    planned_power: float
    n_required: int | None
    efficacy: dict[str, dict[str, dict[str, Any]]]
    families: list[dict[str, Any]]
    equivalence_radius: dict[str, Any] | None = None
    sequential: dict[str, Any] | None = None
    n_available: int | None = None
    farthest_equivalent: dict[str, Any] | None = None
    existence: dict[str, Any] | None = None

    def summary(self) -> Summary:
        """Design, then one row per (sign, ρ) family on the likelihood measure."""
        return Summary("E1 on the likelihood measure: v vs v + v⊥", rows=[
            ("items", self.n_items), ("items available", self.n_available), ("displacement norm ‖αv‖", self.displacement_norm),
            ("planned power", self.planned_power), ("n for 80% power", self.n_required),
        ], tables=[records_table(self.families, FAMILY_COLUMNS)])


def run(config: OrthogonalConfig, ctx: ExperimentContext, extra_tries: int = 0) -> LikelihoodResult:
    """E1 on the likelihood measure. ``ctx.prompts`` are formatted item prompts; the positive and
    negative continuations come from ``ctx.extra['positives']`` / ``ctx.extra['negatives']``.
    ``extra_tries``: 1 when the farthest-vector search will join the unit's existence claim
    (then :func:`steerid.experiments.existence.add_farthest` re-decides it)."""
    scale = config.alpha_rel * ctx.token_norm
    conditions = e1_conditions(ctx.vector.direction, scale, rhos=config.rhos, n_draws=config.n_draws,
                               signs=config.signs, seed=ctx.seed)
    positives, negatives = ctx.extra["positives"], ctx.extra["negatives"]

    def block(part: slice) -> ConditionRuns:
        sub = dataclasses.replace(ctx, prompts=list(ctx.prompts[part]))
        return ConditionRuns(conditions, [], {"likelihood": likelihood_scores(sub, conditions, positives[part],
                                                                             negatives[part], config.decode_dtype,
                                                                             config.likelihood_scope)})

    runs, sequential, monitors = collect(block, len(ctx.prompts), conditions, "likelihood", config, extra_tries)
    eff, families = analyse(runs, config, "likelihood", seed=ctx.seed, monitors=monitors)
    existence = existence_record(runs, config, "likelihood", families, extra_tries)
    n = runs.scores["likelihood"].shape[1]
    return LikelihoodResult(config=jsonable(config.__dict__), n_items=n, displacement_norm=scale,
                            planned_power=planned_power(n, config.plan.margin_dz, config.plan.level),
                            n_required=tost_sample_size_paired(config.plan.margin_dz, alpha=config.plan.level),
                            efficacy=eff, families=families,
                            equivalence_radius=radius(runs, conditions, "likelihood", config.signs, config.rhos,
                                                      margin_dz=config.plan.margin_dz, level=config.plan.level,
                                                      seed=ctx.seed),
                            sequential=sequential, n_available=len(ctx.prompts), existence=existence)
