r"""Per-draw decisions under the equivalence plan and the unit's existence claim (E1 and the likelihood route).

For every draw j of a unit (both signs, every ρ) with per-prompt shifts T_j = score(s·v + v⊥_j) − score(none)
and S = score(s·v) − score(none):

* ``relative_tost`` — the paired Fieller TOST of μ_T/μ_S within (1 ± ε)
  (:func:`steerid.stats.existence.relative_tost`), its interval at the level the decision uses;
* ``dz_tost`` — the d_z TOST of T − S at ±δ·sd beside it (the old ``tost`` record is kept as it was);
* ``decision`` / ``p_adjusted`` / ``ci_level`` — from the plan's deciding margin, corrected over the
  unit's K tries (:mod:`steerid.stats.existence.decide`; sequential: the split design of
  :mod:`steerid.stats.existence.sequential`).

**Stated rule where v's shift is not shown.** A sign whose v does not steer (``steers`` false) makes no
claim: its draws are tries with p = 1 (they stay in K, fixed by the design) and are 'undecided'; within
the relative test itself a draw is never equivalent unless v's shift is shown in the same test.

**The claim.** K = every draw of the unit + the farthest-vector candidate when that search ran
(``extra_tries``; its try is the held-out confirm of the first ladder rung, p = the largest of its
measures' p). "not identifiable" when some try's adjusted p < level (evidence: the try with the
smallest adjusted p); "identifiable here" when every draw is shown different and no farther vector
was found; otherwise "undecided". The share of equivalent directions
(:func:`steerid.stats.fraction_equivalent`) is a separate, population statement.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from steerid.experiments.conditions import ConditionRuns
from steerid.stats.existence import (
    DECISIONS,
    RelativePilot,
    claims,
    decide,
    dz_tost,
    existence_power,
    existence_sample_size,
    relative_tost,
)
from steerid.stats.plan import EquivalencePlan

FARTHEST = "farthest"


def _f(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def method(plan: EquivalencePlan, n_tries: int) -> str:
    """One phrase naming the test and correction behind a decision."""
    test = (f"paired Fieller TOST ±{plan.margin_rel:.0%} of v's shift" if plan.margin == "relative"
            else f"paired TOST ±{plan.margin_dz:g} d_z")
    corr = {"bonferroni": f"Bonferroni over {n_tries} tries", "holm": f"Holm over {n_tries} tries",
            "none": "no correction"}[plan.effective_correction]
    seq = ", group-sequential (level split over the tries, then spent over the looks)" if plan.sequential else ""
    return f"{test}, {corr}{seq}"


def n_tries(runs: ConditionRuns, signs, rhos, extra_tries: int = 0) -> int:
    """K of the unit: every v + v⊥ draw of the design plus ``extra_tries`` (the farthest-vector candidate)."""
    return sum(c.kind == "v_plus_perp" and c.sign in signs and c.rho in rhos for c in runs.conditions) + extra_tries


def per_draw(families: list[dict[str, Any]], runs: ConditionRuns, primary: str, plan: EquivalencePlan, *,
             n_tries_total: int, levels: dict[str, float] | None = None) -> None:
    """Add ``relative_tost``, ``dz_tost``, ``p_try`` and ``p_difference_try`` to every draw (in place).

    Intervals are drawn at one-sided ``levels[condition]`` (default: the try level, level / K)."""
    none = runs.score(primary, "none")
    for f in families:
        s = int(f["sign"])
        S = runs.score(primary, f"{'+' if s > 0 else '-'}v") - none
        for d in f["draws"]:
            a = (levels or {}).get(d["condition"], plan.try_level(n_tries_total))
            T = runs.score(primary, d["condition"]) - none
            rel = relative_tost(T, S, sign=s, margin=plan.margin_rel, level=a)
            dz = dz_tost(T - S, margin_dz=plan.margin_dz, level=a)
            d["relative_tost"] = {"estimate": _f(rel["estimate"]), "ci_low": _f(rel["ci_low"]),
                                  "ci_high": _f(rel["ci_high"]), "p_lower": float(rel["p_lower"]),
                                  "p_upper": float(rel["p_upper"]), "p_shift": float(rel["p_shift"]),
                                  "p_tost": float(rel["p_tost"]), "margin": plan.margin_rel, "ci_level": 1 - 2 * a,
                                  "bounded": bool(np.isfinite(rel["ci_low"])), "n": int(T.size)}
            d["dz_tost"] = {"mean": float(dz["mean"]), "low": float(dz["low"]), "high": float(dz["high"]),
                            "ci_low": float(dz["ci_low"]), "ci_high": float(dz["ci_high"]),
                            "p_tost": float(dz["p_tost"]), "margin_dz": plan.margin_dz, "ci_level": 1 - 2 * a,
                            "n": int(T.size)}
            deciding = rel if plan.margin == "relative" else dz
            claimable = bool(f["steers"])
            d["p_try"] = float(deciding["p_tost"]) if claimable else 1.0
            d["p_difference_try"] = float(deciding["p_difference"]) if claimable else 1.0
            d["margin_kind"] = plan.margin
            if not claimable:
                d["note"] = "v's shift is not shown for this sign: no claim (counted as a try with p 1)"


def _sequential_p(d: dict[str, Any], plan: EquivalencePlan) -> tuple[str, float, float]:
    """(decision, p_adjusted, ci_level) of a draw decided by its sequential monitor."""
    seq = d["sequential"]
    if "p_adjusted" in seq:  # split sequential relative TOST
        p_adj, a_k = seq["p_adjusted"], seq["alpha_nominal"]
    else:  # d_z monitor: its stopping look
        last = seq.get("last_look") or {}
        a_k = last.get("alpha_nominal", plan.level)
        p = max(last.get("p_lower", 1.0), last.get("p_upper", 1.0))
        p_adj = min(1.0, p * plan.level / a_k)
    decision = ("equivalent" if seq["decision"] == "equivalent" else
                "not equivalent" if seq.get("shown_different") else "undecided")
    return decision, float(p_adj), 1 - 2 * float(a_k)


def _stopping_interval(d: dict[str, Any], plan: EquivalencePlan, level_ci: float) -> None:
    """Put the interval the sequential decision rested on (the repeated interval at the draw's stopping
    look) in the deciding margin's record, so every reader draws the interval the decision used."""
    seq = d["sequential"]
    if plan.margin == "relative" and "p_adjusted" in seq:
        rel = d["relative_tost"]
        rel.update({k: _f(seq[k]) if seq.get(k) is not None else None
                    for k in ("estimate", "ci_low", "ci_high", "p_lower", "p_upper", "p_shift", "p_tost")})
        rel.update(ci_level=level_ci, n=seq.get("stopping_n"), bounded=rel["ci_low"] is not None)
    elif plan.margin == "dz" and seq.get("ci") is not None:
        d["dz_tost"].update(ci_low=float(seq["ci"][0]), ci_high=float(seq["ci"][1]), low=float(seq["low"]),
                            high=float(seq["high"]), ci_level=level_ci, n=seq.get("stopping_n"))


def decide_unit(families: list[dict[str, Any]], plan: EquivalencePlan, *, n_tries_total: int,
                farthest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Decisions of every try of the unit under ``plan`` (draws updated in place) and the claim record."""
    draws = [(f, d) for f in families for d in f["draws"]]
    tries = [{"condition": d["condition"], "sign": "+v" if f["sign"] > 0 else "-v", "rho": f["rho"],
              "draw": d.get("draw"), "p": d["p_try"], "p_difference": d["p_difference_try"]} for f, d in draws]
    far_p = farthest_p(farthest)
    if far_p is not None:
        tries.append({"condition": FARTHEST, "sign": "+v", "rho": None, "draw": None, "p": far_p,
                      "p_difference": math.nan, "cosine": (farthest or {}).get("cosine")})
    k = n_tries_total
    if plan.sequential:
        a = plan.try_level(k)
        codes = []
        for (f, d), t in zip(draws, tries):
            if "sequential" in d and f["steers"]:
                decision, p_adj, level_ci = _sequential_p(d, plan)
                _stopping_interval(d, plan, level_ci)
            else:
                decision, p_adj, level_ci = "undecided", 1.0, 1 - 2 * a
            d["decision"], d["p_adjusted"], d["ci_level"] = decision, p_adj, level_ci
            t["p_adjusted"] = p_adj
            codes.append(decision)
        if far_p is not None:
            p_adj = far_p if plan.effective_correction == "none" else min(1.0, k * far_p)
            tries[-1]["p_adjusted"] = p_adj
            codes.append("equivalent" if p_adj < plan.level else "undecided")
    else:
        p = np.array([t["p"] for t in tries] + [1.0] * max(0, k - len(tries)))
        pd_ = np.array([t["p_difference"] for t in tries] + [1.0] * max(0, k - len(tries)))
        out = decide(p, pd_, plan)
        codes = [DECISIONS[int(c)] for c in out["codes"][:len(tries)]]
        a = plan.try_level(k)
        for (_, d), t, c, pa in zip(draws, tries, codes, out["p_adjusted"]):
            interval = d.get("relative_tost" if plan.margin == "relative" else "dz_tost") or {}
            d["decision"], d["p_adjusted"] = c, float(pa)
            d["ci_level"] = interval.get("ci_level", 1 - 2 * a)  # Holm: the draw's step level
            t["p_adjusted"] = float(pa)
        if far_p is not None:
            tries[-1]["p_adjusted"] = float(out["p_adjusted"][len(draws)])
            codes[-1] = "equivalent" if codes[-1] == "equivalent" else "undecided"
    for f in families:
        dec = [d["decision"] for d in f["draws"]]
        f["claim"] = {"family_size": k, "correction": plan.effective_correction, "level": plan.level,
                      "margin": plan.margin, "sequential": plan.sequential,
                      "n_equivalent": dec.count("equivalent"), "n_not_equivalent": dec.count("not equivalent"),
                      "n_undecided": dec.count("undecided")}
    code_ints = np.array([{"equivalent": 1, "not equivalent": -1}.get(c, 0) for c in codes[:len(draws)]])
    summary = claims(code_ints) if len(draws) else {"n_equivalent": 0, "n_not_equivalent": 0, "n_undecided": 0}
    steering = any(f["steers"] for f in families)
    equivalent = [t for t, c in zip(tries, codes) if c == "equivalent"]
    far_found = far_p is not None and codes[-1] == "equivalent"
    if not steering:
        verdict = "not steering"
    elif equivalent:
        verdict = "not identifiable"
    elif draws and int(summary["n_not_equivalent"]) == len(draws) and not (farthest or {}).get("verdict") == "found":
        verdict = "identifiable here"
    else:
        verdict = "undecided"
    evidence = None
    if verdict == "not identifiable":
        best = min(equivalent, key=lambda t: t["p_adjusted"])
        evidence = {"condition": best["condition"], "sign": best["sign"], "rho": best["rho"], "draw": best["draw"],
                    "p": _f(best["p"]), "p_adjusted": _f(best["p_adjusted"]), "method": method(plan, k),
                    "family_size": k}
    return {"verdict": verdict, "family_size": k, "correction": plan.effective_correction, "level": plan.level,
            "margin": plan.margin, "margin_rel": plan.margin_rel, "margin_dz": plan.margin_dz,
            "sequential": plan.sequential, "method": method(plan, k), "evidence": evidence,
            "n_equivalent": int(summary["n_equivalent"]) + int(far_found),
            "n_not_equivalent": int(summary["n_not_equivalent"]), "n_undecided": int(summary["n_undecided"]),
            "farthest_p": far_p, "farthest_equivalent": bool(far_found),
            "error_statement": (f"P(false 'not identifiable') ≤ {plan.level:g} over the {k} tries "
                                f"({plan.effective_correction})" if plan.effective_correction != "none" else
                                f"no correction: a false 'not identifiable' has probability up to "
                                f"{1 - (1 - plan.level) ** k:.2f} over {k} tries")}


def farthest_p(farthest: dict[str, Any] | None) -> float | None:
    """The farthest-vector try's p: the first confirm rung's largest per-measure p (None when it did not run
    or recorded no confirm p)."""
    if not farthest:
        return None
    ladder = farthest.get("ladder") or []
    if ladder and ladder[0].get("p") is not None:
        return float(ladder[0]["p"])
    if not ladder:  # nothing passed the search: the try was made and failed
        return 1.0
    return None


def power_plan(families: list[dict[str, Any]], runs: ConditionRuns, primary: str, plan: EquivalencePlan, *,
               n_tries_total: int) -> dict[str, Any]:
    """The unit's power plan: n for 80 % power of one truly equivalent try under the corrected design,
    on both margins; the relative margin's from a pilot (the first ``plan.first_look`` prompts of the
    steering signs' draws, the sign needing more prompts kept)."""
    n = runs.scores[primary].shape[1]
    n_pilot = min(n, plan.first_look)
    none = runs.score(primary, "none")
    best: dict[str, Any] | None = None
    for s in sorted({int(f["sign"]) for f in families if f["steers"]}):
        names = [d["condition"] for f in families if int(f["sign"]) == s for d in f["draws"]]
        if not names or n_pilot < 3:
            continue
        S = (runs.score(primary, f"{'+' if s > 0 else '-'}v") - none)[:n_pilot]
        T = np.stack([(runs.score(primary, c) - none)[:n_pilot] for c in names])
        pilot = RelativePilot.from_data(T, S, sign=s, margin=plan.margin_rel)
        rec = existence_sample_size(n_tries_total, plan, pilot)
        rec["sign"] = "+v" if s > 0 else "-v"
        rec["power_at_n"] = existence_power(n, n_tries_total, plan, pilot)
        if best is None or (rec["n_needed"] or math.inf) > (best["n_needed"] or math.inf):
            best = rec
    if best is None:
        best = existence_sample_size(n_tries_total, plan, None)
        best["power_at_n"] = existence_power(n, n_tries_total, plan, None)
    best["n"] = n
    best["pilot_prompts"] = n_pilot
    best["underpowered"] = best["n_needed"] is None or n < best["n_needed"]
    return best


def apply_plan(families: list[dict[str, Any]], runs: ConditionRuns, primary: str, plan: EquivalencePlan, *,
               n_tries_total: int) -> dict[str, Any]:
    """Per-draw tests, decisions and the unit's claim record (with its power plan)."""
    per_draw(families, runs, primary, plan, n_tries_total=n_tries_total)
    if not plan.sequential and plan.effective_correction == "holm":
        per_draw(families, runs, primary, plan, n_tries_total=n_tries_total,
                 levels=holm_levels(families, plan, n_tries_total))
    record = decide_unit(families, plan, n_tries_total=n_tries_total)
    record["power_plan"] = power_plan(families, runs, primary, plan, n_tries_total=n_tries_total)
    return record


def holm_levels(families: list[dict[str, Any]], plan: EquivalencePlan, n_tries_total: int) -> dict[str, float]:
    """Holm's step level of each draw, level / (K − r) for the draw of rank r (0-based, by p): a draw
    decided equivalent at its step has its interval at that level inside the margin. (Tries not yet
    known, such as the farthest candidate, are ranked last.)"""
    draws = sorted((d for f in families for d in f["draws"]), key=lambda d: d["p_try"])
    return {d["condition"]: plan.level / (n_tries_total - r) for r, d in enumerate(draws)}


def add_farthest(result: dict[str, Any] | Any, plan: EquivalencePlan) -> None:
    """Re-decide the unit's claim with the farthest-vector try included (a result dict or object with
    ``families``, ``existence`` and ``farthest_equivalent``), in place."""
    get = result.get if isinstance(result, dict) else lambda k, default=None: getattr(result, k, default)
    existence = get("existence")
    if not existence:
        return
    record = decide_unit(get("families"), plan, n_tries_total=existence["family_size"],
                         farthest=get("farthest_equivalent"))
    record["power_plan"] = existence.get("power_plan")
    if isinstance(result, dict):
        result["existence"] = record
    else:
        result.existence = record


def size_from_results(results: dict[str, Any], plan: EquivalencePlan, n_tries_total: int, *,
                      power: float = 0.8) -> list[dict[str, Any]]:
    """Prompts each E1-style unit of a finished run would need under ``plan`` with ``n_tries_total`` tries,
    from the pilot its power plan stored (to size a profile: e.g. the demo's n per trait and route)."""
    out = []
    for u in results.get("units") or []:
        pp = ((u.get("result") or {}).get("existence") or {}).get("power_plan") or {}
        if u.get("status") != "ok" or not pp:
            continue
        pilot = RelativePilot(**pp["pilot"]) if pp.get("pilot") else None
        if pilot is not None and abs(pilot.margin - plan.margin_rel) > 1e-12:
            pilot = None  # estimated at another ε: its combinations' noise does not apply
        rec = existence_sample_size(n_tries_total, plan, pilot, power=power)
        out.append({"trait": u.get("trait"), "experiment": u.get("experiment"), "alpha_rel": u.get("alpha_rel"),
                    "environment": u.get("environment"), "n_needed": rec["n_needed"], "n_relative": rec["n_relative"],
                    "n_dz": rec["n_dz"], "pilot": rec["pilot"]})
    return out
