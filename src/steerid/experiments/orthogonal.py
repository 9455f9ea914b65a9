"""E1 — orthogonal perturbation: does v + v⊥ steer like v?

For each sign s ∈ {+1, −1}, each ρ and each of ``n_draws`` independent draws v⊥_k ⟂ v with
‖v⊥_k‖ = ρ‖v‖ (see :mod:`steerid.experiments.conditions`), every prompt is generated under all
conditions in one batch with common random numbers, and only the continuations are scored.

Reported per sign:
  * efficacy of ±v vs ``none`` (mean shift, bootstrap CI, d_z with CI, one-sided paired t);
    no equivalence claim is made for a sign that does not steer;
Reported per (sign, ρ):
  * the family test: paired TOST of mean_k score(s·v + v⊥_k) − score(s·v) (per prompt, averaged
    over the draws) at ±``margin_dz``·sd — both one-sided p-values, 90 % CI, power, n needed —
    Holm-adjusted across the (sign, ρ) families of the unit;
  * per draw the same TOST (unadjusted), and the fraction of draws that pass with its Wilson CI:
    equivalence can hold for one v⊥ and fail for another, so the spread over draws is reported;
  * per draw under ``config.plan`` (:mod:`steerid.experiments.existence`): the paired Fieller relative
    TOST and the d_z TOST, the decision corrected over the unit's tries, and the unit's existence
    claim ("not identifiable" only when some try's adjusted p < level) with its evidence and power plan;
  * relative efficacy shift(s·v + v⊥) / shift(s·v) on the draw-averaged shift, bootstrap CI;
  * a verdict: not steering / equivalent / not equivalent / inconclusive (underpowered);
  * the relative test (``margin_rel`` = ε): paired ratio TOST of the draw-averaged shift of
    s·v + v⊥ against the shift of s·v — equivalent when it lies within (1 ± ε) of v's own effect
    (Holm across the unit's families), with its own verdict ``verdict_relative``;
  * the same TOST on every secondary measure (continuation log-likelihood under the unsteered
    model, other traits' scorers), since a v⊥ may keep the target score but change another aspect;
plus efficacy of v⊥ alone and of an equal-norm random direction (controls).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from steerid.experiments.analysis import (
    efficacy,
    equivalence,
    planned_power,
    relative_efficacy,
    relative_equivalence,
    verdict,
    verdict_relative,
)
from steerid.experiments.base import ExperimentContext
from steerid.experiments.conditions import ConditionRuns, ScoreFn, e1_conditions, run_conditions
from steerid.experiments.draws import draw_rows, holm_draws, look_sizes, radius, run_in_looks, summarise_family
from steerid.experiments.existence import apply_plan, n_tries
from steerid.stats.existence import SequentialRelativeTost
from steerid.results import ResultMixin, Summary, jsonable, records_table
from steerid.stats import holm, tost_sample_size_paired, wilson_ci
from steerid.stats.plan import EquivalencePlan


@dataclass(frozen=True)
class OrthogonalConfig:
    """Settings of E1."""

    alpha_rel: float = 0.1
    rhos: tuple[float, ...] = (0.5, 1.0, 2.0)
    n_draws: int = 8
    signs: tuple[int, ...] = (1, -1)
    plan: EquivalencePlan = field(default_factory=EquivalencePlan)
    max_new_tokens: int = 32
    greedy: bool = False
    temperature: float = 0.7
    top_k: int = 0
    top_p: float = 1.0
    decode_dtype: str = "model"
    n_examples: int = 3
    likelihood_scope: str = "all"
    """Steering scope of the likelihood route's teacher forcing (``all`` or ``generated``); generation steers all."""


#: Columns of the per-family table in the E1 (and likelihood) summaries.
FAMILY_COLUMNS = (("sign", "sign"), ("ρ", "rho"), ("steers", "steers"), ("draws", "n_draws"),
                  ("draws equiv.", "n_draws_equivalent"), ("pass fraction", "fraction_pass.estimate"),
                  ("family p", "tost.p_tost"), ("Holm p", "tost.p_tost_holm"), ("verdict", "verdict"))


@dataclass(repr=False)
class OrthogonalResult(ResultMixin):
    """Everything E1 measured; ``to_dict()`` is JSON-safe."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("primary", "n_prompts", "displacement_norm", "planned_power")

    config: dict[str, Any]
    n_prompts: int
    displacement_norm: float
    primary: str
    measures: list[str]
    planned_power: float
    n_required: int | None
    efficacy: dict[str, dict[str, dict[str, Any]]]
    families: list[dict[str, Any]]
    examples: list[dict[str, Any]] = field(default_factory=list)
    equivalence_radius: dict[str, Any] | None = None
    sequential: dict[str, Any] | None = None
    n_available: int | None = None
    existence: dict[str, Any] | None = None

    def condition_rows(self) -> list[dict[str, Any]]:
        """One row per condition × measure (for the parquet table)."""
        rows = []
        for measure, per_condition in self.efficacy.items():
            for name, eff in per_condition.items():
                rows.append({"measure": measure, "condition": name, **{k: v for k, v in eff.items() if not isinstance(v, list)}})
        return rows

    def summary(self) -> Summary:
        """Design, then one row per (sign, ρ) family: steering, draws passing, family TOST, verdict."""
        return Summary("E1 orthogonal perturbations: v vs v + v⊥", rows=[
            ("primary measure", self.primary), ("measures", ", ".join(self.measures)), ("prompts", self.n_prompts),
            ("prompts available", self.n_available), ("displacement norm ‖αv‖", self.displacement_norm),
            ("planned power", self.planned_power), ("n for 80% power", self.n_required),
        ], tables=[records_table(self.families, FAMILY_COLUMNS)])


def _sequential_record(monitor) -> dict[str, Any]:
    """Decision of one draw's sequential TOST; ``shown_different`` when its repeated CI at the
    stopping look lies wholly outside the margin (not merely "equivalence not shown by n_max")."""
    if isinstance(monitor, SequentialRelativeTost):  # the relative margin's split monitor
        return {**monitor.result, "margin": monitor.margin}
    result = monitor.result
    last = result.looks[-1] if result.looks else None
    different = bool(last is not None and (last.ci[0] > result.high or last.ci[1] < result.low))
    return {"decision": result.decision, "stopping_n": result.stopping_n, "stop_look": result.stop_look,
            "margin_dz": float(result.margin_dz), "low": float(result.low), "high": float(result.high),
            "ci": [float(x) for x in last.ci] if last is not None else None, "shown_different": different,
            "last_look": {"p_lower": float(last.p_lower), "p_upper": float(last.p_upper),
                          "alpha_nominal": float(last.alpha_nominal)} if last is not None else None}


def analyse(runs: ConditionRuns, config: OrthogonalConfig, primary: str, seed: int = 0,
            monitors: dict | None = None) -> tuple[dict, list[dict]]:
    """Efficacy of every condition, the per-(sign, ρ) families and each draw's own verdict (under ``config.plan``).

    ``monitors`` (condition name → :class:`steerid.stats.SequentialTost`) make each draw's
    primary verdict the group-sequential decision (``draws[k]["sequential"]``)."""
    plan = config.plan
    none = {m: runs.score(m, "none") for m in runs.scores}
    eff: dict[str, dict[str, dict[str, Any]]] = {m: {} for m in runs.scores}
    for m in runs.scores:
        for c in runs.conditions:
            if c.kind == "none":
                continue
            expected = c.sign if m == primary and c.kind in ("v", "v_plus_perp") else 0
            # the condition's kind, sign, ρ and draw are fields of its record (readers need not parse its name)
            eff[m][c.name] = {**efficacy(runs.score(m, c.name), none[m], expected_sign=expected, seed=seed),
                              "kind": c.kind, "sign": c.sign, "rho": c.rho, "draw": c.draw}
    families = []
    for s in config.signs:
        tag = "+" if s > 0 else "-"
        base = runs.score(primary, f"{tag}v")
        steers = eff[primary][f"{tag}v"]["steers"]
        for rho in config.rhos:
            members = [c for c in runs.conditions if c.kind == "v_plus_perp" and c.sign == s and c.rho == rho]
            draws = draw_rows(runs, members, s, primary, margin_dz=plan.margin_dz, level=plan.level, seed=seed)
            for c, d in zip(members, draws):
                if monitors and c.name in monitors:
                    d["sequential"] = _sequential_record(monitors[c.name])
            avg = np.mean([runs.score(primary, c.name) for c in members], axis=0)
            secondary = {
                m: equivalence(np.mean([runs.score(m, c.name) for c in members], axis=0), runs.score(m, f"{tag}v"),
                               margin_dz=plan.margin_dz, level=plan.level)
                for m in runs.scores if m != primary
            }
            shift_v = base - none[primary]
            family = {
                "sign": s, "rho": rho, "steers": steers, "n_draws": len(members),
                "tost": equivalence(avg, base, margin_dz=plan.margin_dz, level=plan.level),
                "draws": draws,
                "relative_efficacy": relative_efficacy(avg - none[primary], shift_v, seed=seed)
                if abs(shift_v.mean()) > 0 else None,
                "tost_relative": relative_equivalence(avg - none[primary], shift_v, margin=plan.margin_rel,
                                                      level=plan.level)
                if plan.margin_rel and steers and abs(shift_v.mean()) > 0 else None,
                "secondary": secondary,
            }
            summarise_family(family, runs, members, primary, margin_dz=plan.margin_dz, level=plan.level,
                             seed=seed)
            families.append(family)
    holm_draws(families, plan.level)
    # Holm across the unit's family-level TOSTs (signs × ρ), then verdicts
    adjusted = holm([f["tost"]["p_tost"] for f in families], alpha=plan.level).p_adjusted if families else []
    for f, p in zip(families, adjusted):
        f["tost"]["p_tost_holm"] = float(p)
        passed = f["n_draws_equivalent"]
        f["fraction_pass"] = wilson_ci(passed, len(f["draws"])).to_dict() if f["draws"] else None
        f["verdict"] = verdict(f["steers"], f["tost"], float(p), plan.level)
    relative = [f for f in families if f.get("tost_relative")]
    adjusted = holm([f["tost_relative"]["p_tost"] for f in relative], alpha=plan.level).p_adjusted if relative else []
    for f, p in zip(relative, adjusted):
        f["tost_relative"]["p_tost_holm"] = float(p)
    for f in families:
        rel = f.get("tost_relative")
        f["verdict_relative"] = (verdict_relative(f["steers"], rel, rel["p_tost_holm"] if rel else 1.0, plan.level)
                                 if plan.margin_rel else None)
    return eff, families


def existence_record(runs: ConditionRuns, config: OrthogonalConfig, primary: str, families: list[dict],
                     extra_tries: int = 0) -> dict[str, Any]:
    """The unit's per-draw decisions under ``config.plan`` and its existence claim
    (:func:`steerid.experiments.existence.apply_plan`); draws updated in place."""
    k = n_tries(runs, config.signs, config.rhos, extra_tries)
    return apply_plan(families, runs, primary, config.plan, n_tries_total=k)


def run(config: OrthogonalConfig, ctx: ExperimentContext, measures: dict[str, ScoreFn] | None = None,
        extra_tries: int = 0) -> OrthogonalResult:
    """Run E1 on ``ctx.prompts``. ``measures`` (or ``ctx.extra['measures']``) maps name → score
    function; the first is the primary (target-trait) measure. ``extra_tries``: tries of the unit's
    existence claim beyond its draws (none on the generation route)."""
    measures = dict(measures if measures is not None else ctx.extra["measures"])
    primary = next(iter(measures))
    scale = config.alpha_rel * ctx.token_norm
    conditions = e1_conditions(ctx.vector.direction, scale, rhos=config.rhos, n_draws=config.n_draws,
                               signs=config.signs, seed=ctx.seed)
    def block(part: slice) -> ConditionRuns:
        return run_conditions(ctx, conditions, measures, max_new_tokens=config.max_new_tokens, greedy=config.greedy,
                              temperature=config.temperature, top_k=config.top_k, top_p=config.top_p,
                              dtype=config.decode_dtype, prompts=part)

    runs, sequential, monitors = collect(block, len(ctx.prompts), conditions, primary, config, extra_tries)
    eff, families = analyse(runs, config, primary, seed=ctx.seed, monitors=monitors)
    existence = existence_record(runs, config, primary, families, extra_tries)
    n = runs.scores[primary].shape[1]
    return OrthogonalResult(
        config=jsonable(config.__dict__), n_prompts=n, displacement_norm=scale, primary=primary,
        measures=list(runs.scores), planned_power=planned_power(n, config.plan.margin_dz, config.plan.level),
        n_required=tost_sample_size_paired(config.plan.margin_dz, alpha=config.plan.level),
        efficacy=eff, families=families, examples=examples(runs, config.n_examples),
        equivalence_radius=radius(runs, conditions, primary, config.signs, config.rhos, margin_dz=config.plan.margin_dz,
                                  level=config.plan.level, seed=ctx.seed),
        sequential=sequential, n_available=len(ctx.prompts), existence=existence,
    )


def collect(block, n_available: int, conditions, primary: str, config: OrthogonalConfig, extra_tries: int = 0):
    """All prompts in one block, or (``config.plan.sequential``) look by look until every draw is decided.

    Each draw's monitor runs at the try level ``plan.try_level(K)`` (K = the unit's draws +
    ``extra_tries``): the level is split over the tries before it is spent over the looks. The largest
    look is the d_z power plan's n at that level (+5 % for the sequential design) on the d_z margin,
    every prompt available on the relative margin (whose power needs a pilot, reported by the unit's
    power plan). Returns (runs, sequential record or None, monitors).
    """
    plan = config.plan
    if not plan.sequential:
        return block(slice(0, n_available)), None, None
    k = sum(c.kind == "v_plus_perp" and c.sign in config.signs and c.rho in config.rhos for c in conditions) + extra_tries
    try_level = plan.try_level(max(k, 1))
    needed = tost_sample_size_paired(plan.margin_dz, alpha=try_level)
    if plan.margin == "relative":  # its power needs the noise of the combinations: no n_max before a pilot
        n_max = n_available
    else:
        n_max = n_available if needed is None else min(n_available, int(np.ceil(1.05 * needed)))
    looks = look_sizes(n_available, plan.first_look, n_max)
    runs, record, monitors = run_in_looks(block, conditions, primary, config.signs, config.rhos, looks,
                                          margin_dz=plan.margin_dz, level=try_level, spending=plan.spending,
                                          eq_plan=plan, n_tries=k)
    record.update(n_planned=needed, n_available=n_available, try_level=try_level, n_tries=k,
                  underpowered=needed is None or n_available < needed)
    return runs, record, monitors


def examples(runs: ConditionRuns, n: int, names: Sequence[str] = ("none", "+v", "-v")) -> list[dict[str, Any]]:
    """The first ``n`` prompts' continuations under the key conditions (plus one v+v⊥)."""
    wanted = [c.name for c in runs.conditions if c.name in names]
    extra = next((c.name for c in runs.conditions if c.kind == "v_plus_perp"), None)
    if extra:
        wanted.append(extra)
    n_prompts = len(runs.texts[0]) if runs.texts else 0
    return [{"prompt_index": p, "continuations": {name: runs.texts[runs.index(name)][p] for name in wanted}}
            for p in range(min(n, n_prompts))]


# E1 (its name in audit configs, the CLI and the report) — aliases of the descriptive names.
E1Config = OrthogonalConfig
E1Result = OrthogonalResult
