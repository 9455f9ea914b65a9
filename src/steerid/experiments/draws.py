r"""Per-draw truth: each v⊥ draw judged on its own, how much the draws differ, and how far it holds.

For one sign s and one ρ, draw j gives per-prompt differences on the primary measure

    D[j, i] = score(s·v + v⊥_j)_i − score(s·v)_i        (j = 1…J draws, i = 1…n prompts).

* **Per-draw verdicts.** Each row D[j] gets its own paired TOST (margin ±margin_dz·sd), its shift
  vs ``none`` with CI, its relative efficacy shift(s·v + v⊥_j) / shift(s·v) with CI, and the same
  TOST on every secondary measure; Holm across all per-draw primary TOSTs of the unit. A draw
  that is equivalent on the target but not on a secondary measure X is a *blind spot* ("same
  target score, different X").
* **Heterogeneity** (:func:`steerid.stats.draw_heterogeneity`): prompts as blocks, the F test of
  a draw effect and its variance τ² — draws with their own systematic effects show τ ≫ the
  per-draw standard error, which a draw-averaged test hides.
* **Fraction equivalent** (:func:`steerid.stats.fraction_equivalent`): the share of random
  orthogonal directions at this ρ that are equivalent, Φ((δ−μ)/τ) − Φ((−δ−μ)/τ), with a
  two-stage bootstrap CI, beside the raw pass fraction.
* **Equivalence radius** (:func:`steerid.stats.equivalence_radius`): with several ρ, the ρ at
  which that share crosses ½.

Optionally the primary per-draw verdict is a group-sequential TOST
(:class:`steerid.stats.SequentialTost`): :func:`run_in_looks` collects prompts look by look
and stops once every draw is decided.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from steerid.experiments.analysis import efficacy, equivalence, relative_efficacy
from steerid.experiments.conditions import Condition, ConditionRuns
from steerid.experiments.steerability import steerability_of_family
from steerid.stats import (
    SequentialTost,
    draw_heterogeneity,
    equivalence_radius,
    fraction_equivalent,
    holm,
    planned_looks,
    sequential_plan,
)
from steerid.stats.existence import SequentialRelativeTost
from steerid.stats.plan import EquivalencePlan

N_BOOT = 1000


def differences(runs: ConditionRuns, measure: str, members: Sequence[Condition], sign: int) -> np.ndarray:
    """(J, n) per-prompt differences score(s·v + v⊥_j) − score(s·v) on ``measure``."""
    base = runs.score(measure, f"{'+' if sign > 0 else '-'}v")
    return np.stack([runs.score(measure, c.name) - base for c in members])


def draw_rows(runs: ConditionRuns, members: Sequence[Condition], sign: int, primary: str, *, margin_dz: float,
              level: float, seed: int) -> list[dict[str, Any]]:
    """One record per draw: primary TOST, shift vs none, relative efficacy, secondary TOSTs, blind spots."""
    tag = "+" if sign > 0 else "-"
    none = runs.score(primary, "none")
    shift_v = runs.score(primary, f"{tag}v") - none
    rows = []
    for c in members:
        tost = equivalence(runs.score(primary, c.name), runs.score(primary, f"{tag}v"), margin_dz=margin_dz, level=level)
        shift = efficacy(runs.score(primary, c.name), none, expected_sign=sign, seed=seed)
        secondary = {m: equivalence(runs.score(m, c.name), runs.score(m, f"{tag}v"), margin_dz=margin_dz, level=level)
                     for m in runs.scores if m != primary}
        rows.append({
            "condition": c.name, "draw": c.draw, "tost": tost,
            "shift": {k: shift[k] for k in ("mean_shift", "ci_low", "ci_high", "dz", "p_value") if k in shift},
            "relative_efficacy": relative_efficacy(runs.score(primary, c.name) - none, shift_v, seed=seed)
            if abs(float(shift_v.mean())) > 0 else None,
            "secondary": secondary,
        })
    return rows


def summarise_family(family: dict[str, Any], runs: ConditionRuns, members: Sequence[Condition], primary: str, *,
                     margin_dz: float, level: float, seed: int) -> None:
    """Add heterogeneity and the fraction equivalent to a (sign, ρ) family, in place."""
    D = differences(runs, primary, members, family["sign"])
    family["heterogeneity"] = None
    family["fraction_equivalent"] = None
    if D.shape[0] >= 2 and D.shape[1] >= 3 and np.ptp(D) > 0:
        family["heterogeneity"] = draw_heterogeneity(D, alpha=level).to_dict()
        frac = fraction_equivalent(D, margin_dz=margin_dz, alpha=level, seed=seed, n_boot=N_BOOT).to_dict()
        frac.pop("heterogeneity", None)  # the same object is reported beside it
        family["fraction_equivalent"] = frac
    # per-input view: which prompts s·v (and each s·v + v⊥) moves the intended way (steerid.stats.steerability)
    family["steerability"] = steerability_of_family(runs, members, primary, family["sign"], level=level)


def holm_draws(families: list[dict[str, Any]], level: float) -> None:
    """Holm across every per-draw primary TOST of the unit; mark blind spots (in place)."""
    draws = [d for f in families for d in f["draws"]]
    if not draws:
        return
    adjusted = holm([d["tost"]["p_tost"] for d in draws], alpha=level).p_adjusted
    for d, p in zip(draws, adjusted):
        d["tost"]["p_tost_holm"] = float(p)
        d["equivalent_holm"] = bool(p < level)
        primary_ok = d.get("sequential", {}).get("decision") == "equivalent" if "sequential" in d else d["tost"]["equivalent"]
        d["blind_spots"] = [m for m, t in d["secondary"].items() if primary_ok and not t["equivalent"]]
    for f in families:
        decided = [d.get("sequential", {}).get("decision") for d in f["draws"]]
        f["n_draws_equivalent"] = sum(
            (dec == "equivalent") if dec is not None else bool(d["tost"]["equivalent"]) for d, dec in zip(f["draws"], decided))
        f["n_draws_equivalent_holm"] = sum(bool(d["equivalent_holm"]) for d in f["draws"])
        f["n_blind_spots"] = sum(bool(d["blind_spots"]) for d in f["draws"])


def radius(runs: ConditionRuns, conditions: Sequence[Condition], primary: str, signs: Sequence[int],
           rhos: Sequence[float], *, margin_dz: float, level: float, seed: int) -> dict[str, Any] | None:
    """Equivalence radius per sign when at least two ρ were run (None otherwise)."""
    if len(rhos) < 2:
        return None
    out: dict[str, Any] = {}
    for s in signs:
        blocks = []
        for rho in sorted(rhos):
            members = [c for c in conditions if c.kind == "v_plus_perp" and c.sign == s and c.rho == rho]
            blocks.append(differences(runs, primary, members, s))
        if min(b.shape[0] for b in blocks) < 2:
            continue
        out["+v" if s > 0 else "-v"] = equivalence_radius(sorted(rhos), blocks, margin_dz=margin_dz, alpha=level,
                                                           seed=seed, n_boot=N_BOOT).to_dict()
    return out or None


# ---------------------------------------------------------------------------------------------
# sequential collection


def extend(a: ConditionRuns | None, b: ConditionRuns) -> ConditionRuns:
    """Runs of ``a``'s prompts followed by ``b``'s (same conditions, same measures)."""
    if a is None:
        return b
    texts = [x + y for x, y in zip(a.texts, b.texts)] if a.texts else []
    scores = {m: np.concatenate([a.scores[m], b.scores[m]], axis=1) for m in a.scores}
    return ConditionRuns(a.conditions, texts, scores)


def look_sizes(n_available: int, first_look: int, n_max: int | None = None) -> tuple[int, ...]:
    """Planned cumulative look sizes: ``first_look``, doubling, up to min(n_max, n_available)."""
    top = n_available if n_max is None else min(n_available, n_max)
    first = min(first_look, top)
    return (top,) if first >= top else planned_looks(first, top)


def run_in_looks(run_block: Callable[[slice], ConditionRuns], conditions: Sequence[Condition], primary: str,
                 signs: Sequence[int], rhos: Sequence[float], looks: Sequence[int], *, margin_dz: float, level: float,
                 spending: str = "obrien-fleming", eq_plan: EquivalencePlan | None = None,
                 n_tries: int | None = None) -> tuple[ConditionRuns, dict[str, Any], dict[str, Any]]:
    """Collect prompts look by look until every per-draw sequential TOST has decided.

    ``run_block(slice)`` runs the prompts of that slice under every condition. The per-draw
    monitors share one plan over ``looks`` at one-sided ``level`` (the try level: the claim's level
    already split over the tries); the d_z margin is frozen from each draw's SD at the first look.
    With ``eq_plan.margin == "relative"`` each draw gets a
    :class:`steerid.stats.existence.SequentialRelativeTost` on (shift of s·v + v⊥, shift of s·v).
    Returns the runs collected, a record of the looks and the monitors by condition.
    """
    plan = sequential_plan(tuple(looks), alpha=level, spending=spending)
    members = {c.name: c for c in conditions if c.kind == "v_plus_perp" and c.sign in signs and c.rho in rhos}
    relative = eq_plan is not None and eq_plan.margin == "relative"
    monitors: dict[str, Any] = {
        name: SequentialRelativeTost(plan, margin=eq_plan.margin_rel, sign=c.sign, level=eq_plan.level)
        if relative else SequentialTost(plan, margin_dz=margin_dz) for name, c in members.items()}
    runs: ConditionRuns | None = None
    start = 0
    history = []
    for n in plan.looks:
        runs = extend(runs, run_block(slice(start, n)))
        start = n
        for name, monitor in monitors.items():
            if not monitor.stopped:
                c = members[name]
                base = runs.score(primary, f"{'+' if c.sign > 0 else '-'}v")
                if relative:
                    none = runs.score(primary, "none")
                    monitor.update(runs.score(primary, name) - none, base - none)
                else:
                    monitor.update(runs.score(primary, name) - base)
        open_ = sum(not m.stopped for m in monitors.values())
        history.append({"n": n, "undecided_draws": open_})
        if open_ == 0:
            break
    assert runs is not None
    record = {"looks": list(plan.looks), "spending": spending, "stopping_n": start, "history": history,
              "stopped_early": start < plan.looks[-1], "t_boundaries": [float(t) for t in plan.t_boundaries],
              "alpha_nominal": [float(a) for a in plan.alpha_nominal]}
    return runs, record, monitors
