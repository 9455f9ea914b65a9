r"""The paper's six claims, checked one by one for the user's model and vector (``results.json`` ``claims``).

Built from the finished units and the scorer cards only (never from a model). One record per claim and
(trait, route) — ``claim_id`` 1–6, ``claim``, ``trait``, ``route`` (or null), ``verdict`` ('holds' |
'does not hold' | 'undecided' | 'not tested'), ``reason``, ``test``, ``effect``, ``ci`` [lo, hi], ``n``
and ``config_key`` (the key that would test it, when not tested). What "holds" means was fixed before
any result was looked at (README, "What the claims' verdicts mean"):

1. **95–100 % of v's efficacy.** Per draw of a steering sign, the ratio μ_T/μ_S of v + v⊥'s shift to v's
   with its paired Fieller interval at the level the per-draw decision uses (family-wise over the unit's
   draws, so the intervals hold simultaneously). *holds*: every interval's lower end ≥ 0.95; *does not
   hold*: some interval lies wholly below 0.95; else *undecided*. effect: median per-draw ratio; ci: the
   lowest lower end and highest upper end over the draws (the spread is in ``reason``).
2. **Negligible effect sizes.** Per draw, the d_z TOST of v + v⊥ − v at ±δ (the plan's ``margin_dz``),
   interval at the decision's level. *holds*: every draw's interval inside ±δ·sd; *does not hold*:
   some draw's interval wholly outside; else *undecided*. effect: the largest |d_z| over draws; ci: that
   draw's interval in d_z units.
3. **Classifiers agree at the output level** (generation route). Among the draws equivalent on the
   target scorer, each secondary measure's paired TOST (±δ d_z, each at the level: a conjunction).
   *holds*: the target scorer meets its accuracy target and every such draw is equivalent on every
   secondary measure; *does not hold*: some such draw is shown different on a secondary measure
   (its two-sided difference p Bonferroni-adjusted over draws × measures < level) — a blind spot; else
   *undecided*. effect: share of target-equivalent draws equivalent on every secondary (Wilson CI).
4. **The equivalence class is large** (E6). Null-space dimension of the output Fisher at tolerance 1e-3
   of λ_max (the covariance's beside it). *holds*: the dimension is determined (an eigenvalue below the
   tolerance was reached) and ≥ d/2; *does not hold*: the dimension (or its upper bound) < d/2; else
   *undecided*. effect: null fraction; ci: its range over the tolerances run (not a sampling interval).
5. **Persists across prompt distributions (E3) and strengths (E2).** Every (α, environment) unit of
   the trait and route says "not identifiable" (error-controlled). *holds*: all of ≥ 2 units do;
   *does not hold*: some unit is "identifiable here"; else *undecided* (with the undecided units'
   power). effect: share of units not identifiable (Wilson CI).
6. **Structural constraints restore identifiability** (recovery). *holds*: some recovery method
   returns the same vector across resamples (its ``stable`` flag: bootstrap cosines ≥ ``min_cosine``);
   *does not hold*: none does; whether the recovered vector still steers like v is not measured by that
   unit and is said so. effect: the best median cosine; ci: its bootstrap [5th percentile, median].

A claim resting on a scorer below its accuracy target (1–3 and 5 on the generation route) is
*undecided* with that reason, never *holds*.
"""

from __future__ import annotations

import math
from statistics import median
from typing import Any

from steerid.answers import ROUTES, trait_answers
from steerid.stats.proportion import wilson_ci

CLAIMS = {
    1: "v + v⊥ reaches 95–100 % of v's efficacy",
    2: "with negligible effect sizes (d_z of v + v⊥ vs v within the margin)",
    3: "pre-trained semantic classifiers agree at the output level",
    4: "the equivalence class is large (null space of the covariance and the output Fisher)",
    5: "this persists across prompt distributions (E3) and strengths (E2)",
    6: "structural constraints restore identifiability",
}
RATIO_FLOOR = 0.95
FISHER_TOLERANCE = 1e-3


def _fin(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None


def _record(cid: int, trait: str | None, route: str | None, verdict: str, reason: str, *, test: str = "",
            effect: float | None = None, ci: list | None = None, n: int | None = None,
            config_key: str | None = None) -> dict[str, Any]:
    return {"claim_id": cid, "claim": CLAIMS[cid], "trait": trait, "route": route, "verdict": verdict,
            "reason": reason, "test": test, "effect": _fin(effect), "ci": [_fin(c) for c in (ci or [None, None])],
            "n": n, "config_key": config_key}


def _e1_units(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [u for u in units if u.get("experiment") in ROUTES and u.get("status") == "ok"
            and (u.get("result") or {}).get("families")]


def _primary_unit(units: list[dict[str, Any]]) -> dict[str, Any]:
    """The unit a per-draw claim is read from: smallest α, in-distribution (or no) environment first."""
    return sorted(units, key=lambda u: (u.get("alpha_rel") or 0, (u.get("environment") or "") != "in_distribution",
                                        u.get("environment") or ""))[0]


def _where(u: dict[str, Any]) -> str:
    return f"α {u.get('alpha_rel'):g}" + (f", {u['environment']}" if u.get("environment") else "")


def _steering_draws(u: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for f in u["result"]["families"] if f.get("steers") for d in f["draws"]]


def _scorer_gate(scorers: dict[str, Any], trait: str, route: str) -> str | None:
    """The reason a generation-route claim cannot hold: the target scorer is below its accuracy target."""
    if route != "generation":
        return None
    card = scorers.get(trait) or {}
    if card and card.get("meets_target") is False:
        return (f"the {card.get('name', trait)} scorer is below its accuracy target "
                f"({card.get('accuracy', float('nan')):.2f} < {card.get('target', float('nan')):.2f}), so a verdict resting on it "
                "cannot hold")
    return None


def _gate(rec: dict[str, Any], gate: str | None) -> dict[str, Any]:
    if gate and rec["verdict"] == "holds":
        rec["verdict"] = "undecided"
        rec["reason"] = f"{gate}; measured: {rec['reason']}"
    elif gate:
        rec["reason"] += f"; note: {gate}"
    return rec


def _no_draws(u: dict[str, Any], what: str) -> str:
    if not _steering_draws(u):
        return f"v is not shown to steer ({_where(u)}): no claim about its draws"
    return f"these results carry no per-draw {what} tests (written before the equivalence plan): re-run the audit"


def claim_efficacy(u: dict[str, Any], route: str) -> dict[str, Any]:
    """Claim 1 on one unit (module docstring)."""
    draws = [d for d in _steering_draws(u) if d.get("relative_tost")]
    if not draws:
        return _record(1, u["trait"], route, "undecided", _no_draws(u, "relative"),
                       test="paired Fieller interval of μ_T/μ_S per draw")
    est = [d["relative_tost"]["estimate"] for d in draws if _fin(d["relative_tost"]["estimate"]) is not None]
    lows = [d["relative_tost"]["ci_low"] for d in draws]
    highs = [d["relative_tost"]["ci_high"] for d in draws]
    unbounded = sum(lo is None for lo in lows)
    level = draws[0].get("ci_level", draws[0]["relative_tost"].get("ci_level"))
    if unbounded == 0 and min(lows) >= RATIO_FLOOR:
        verdict = "holds"
    elif any(hi is not None and hi < RATIO_FLOOR for hi in highs):
        verdict = "does not hold"
    else:
        verdict = "undecided"
    finite_lo = [x for x in lows if x is not None]
    finite_hi = [x for x in highs if x is not None]
    spread = f"per-draw ratios {min(est):.2f}–{max(est):.2f}" if est else "no finite ratio"
    reason = (f"{len(draws)} draws ({_where(u)}): {spread}; {sum(lo is not None and lo >= RATIO_FLOOR for lo in lows)} "
              f"intervals wholly ≥ {RATIO_FLOOR:g}, {sum(h is not None and h < RATIO_FLOOR for h in highs)} wholly below"
              + (f", {unbounded} unbounded (v's shift not shown at that level)" if unbounded else ""))
    return _record(1, u["trait"], route, verdict, reason,
                   test=f"paired Fieller interval of μ_T/μ_S per draw at {level:.4g} (family-wise over the draws)",
                   effect=median(est) if est else None,
                   ci=[min(finite_lo) if finite_lo else None, max(finite_hi) if finite_hi else None],
                   n=u["result"].get("n_prompts", u["result"].get("n_items")))


def claim_effect_size(u: dict[str, Any], route: str) -> dict[str, Any]:
    """Claim 2 on one unit (module docstring)."""
    draws = [d for d in _steering_draws(u) if d.get("dz_tost")]
    if not draws:
        return _record(2, u["trait"], route, "undecided", _no_draws(u, "d_z"), test="paired d_z TOST per draw")
    rows = []
    for d in draws:
        z = d["dz_tost"]
        sd = z["high"] / z["margin_dz"] if z["margin_dz"] else math.nan
        rows.append((z["mean"] / sd if sd > 0 else math.nan, z["ci_low"] / sd if sd > 0 else math.nan,
                     z["ci_high"] / sd if sd > 0 else math.nan, z))
    inside = [r for r in rows if r[3]["ci_low"] > r[3]["low"] and r[3]["ci_high"] < r[3]["high"]]
    outside = [r for r in rows if r[3]["ci_low"] > r[3]["high"] or r[3]["ci_high"] < r[3]["low"]]
    verdict = "holds" if len(inside) == len(rows) else "does not hold" if outside else "undecided"
    worst = max(rows, key=lambda r: abs(r[0]) if math.isfinite(r[0]) else -1)
    margin = rows[0][3]["margin_dz"]
    return _record(2, u["trait"], route, verdict,
                   f"{len(rows)} draws ({_where(u)}): {len(inside)} inside ±{margin:g} d_z, {len(outside)} wholly outside",
                   test=f"paired TOST of v+v⊥ − v at ±{margin:g} d_z per draw, interval at {rows[0][3]['ci_level']:.4g}",
                   effect=worst[0], ci=[worst[1], worst[2]],
                   n=u["result"].get("n_prompts", u["result"].get("n_items")))


def claim_classifiers(u: dict[str, Any], level: float) -> dict[str, Any]:
    """Claim 3 on one generation unit (module docstring)."""
    draws = [d for d in _steering_draws(u) if d.get("decision") == "equivalent"]
    measures = sorted({m for f in u["result"]["families"] for d in f["draws"] for m in d.get("secondary", {})})
    if not measures:
        return _record(3, u["trait"], "generation", "not tested", "no secondary measure was scored",
                       config_key="e1 measures (another trait's scorer, loglik)")
    if not draws:
        return _record(3, u["trait"], "generation", "undecided",
                       f"no draw is equivalent on the target scorer ({_where(u)}), so agreement cannot be checked",
                       test="secondary-measure TOSTs of target-equivalent draws", n=0)
    k = max(1, len(draws) * len(measures))
    agree = [d for d in draws if all(d["secondary"][m].get("equivalent") for m in measures if m in d["secondary"])]
    shown = [(d["condition"], m) for d in draws for m in measures
             if m in d["secondary"] and min(1.0, k * float(d["secondary"][m].get("p_difference", 1.0))) < level]
    verdict = "holds" if len(agree) == len(draws) else "does not hold" if shown else "undecided"
    ci = wilson_ci(len(agree), len(draws))
    reason = (f"{len(agree)} of {len(draws)} target-equivalent draws ({_where(u)}) are also equivalent on "
              f"{', '.join(measures)}" + (f"; blind spots shown on {', '.join(sorted({m for _, m in shown}))}"
                                          if shown else ""))
    return _record(3, u["trait"], "generation", verdict, reason,
                   test=f"paired TOST per secondary measure (conjunction, each at {level:g}); differences Bonferroni "
                        f"over {k} draw × measure pairs",
                   effect=len(agree) / len(draws), ci=[ci.low, ci.high], n=len(draws))


def claim_null_space(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Claim 4 from the E6 units (module docstring)."""
    e6 = [u for u in units if u.get("experiment") == "e6" and u.get("status") == "ok"]
    if not e6:
        return [_record(4, None, None, "not tested", "no null-space (E6) unit in this run",
                        config_key="experiments: [..., e6]")]
    out = []
    for u in e6:
        fisher = (u["result"] or {}).get("fisher") or {}
        rows = fisher.get("null_space") or []
        if not rows:
            out.append(_record(4, u.get("trait"), None, "undecided", "E6 computed no Fisher null space"))
            continue
        row = min(rows, key=lambda r: abs(math.log10(r["tolerance"]) - math.log10(FISHER_TOLERANCE)))
        d = fisher.get("d") or u["result"]["covariance"]["d"]
        frac = row["fraction"]
        determined = row.get("kind") == "determined"
        verdict = ("holds" if determined and frac >= 0.5 else "does not hold" if frac < 0.5 else "undecided")
        cov = u["result"].get("covariance") or {}
        cov_txt = ""
        if cov.get("effective_rank_fraction"):
            share = cov["effective_rank_fraction"]
            key = max(share, key=float)
            cov_txt = (f"; covariance: {1 - share[key]:.0%} of d outside the top directions carrying {float(key):.0%} "
                       f"of the variance (n {cov.get('n')} tokens{', rank bounded by n' if cov.get('rank_bounded_by_n') else ''})")
        fracs = [r["fraction"] for r in rows]
        out.append(_record(
            4, u.get("trait"), None, verdict,
            f"Fisher null space {row['dimension']} of d = {d} at tolerance {row['tolerance']:g}·λ_max "
            f"({'determined' if determined else 'an upper bound: only the top ' + str(fisher.get('k')) + ' eigenvalues computed'})"
            f"{cov_txt}",
            test=f"output-Fisher spectrum at the site, null = eigenvalues < tolerance·λ_max; holds when ≥ d/2 and determined",
            effect=frac, ci=[min(fracs), max(fracs)], n=fisher.get("n_positions")))
    return out


def claim_persistence(answers: list[dict[str, Any]], trait: str, route: str, config: dict[str, Any]) -> dict[str, Any]:
    """Claim 5 for one trait and route (module docstring)."""
    mine = [a for a in answers if a["trait"] == trait and a["route"] == route]
    envs = {a.get("environment") for a in mine}
    alphas = {a.get("alpha_rel") for a in mine}
    if len(mine) < 2:
        key = ("environments: [in_distribution, topic_shift, genre_shift]" if route == "generation" else
               "alphas_rel: [two or more strengths]")
        return _record(5, trait, route, "not tested", f"one (α, environment) unit only ({route} route)", config_key=key)
    kinds = [a["kind"] for a in mine]
    n_ni = kinds.count("not identifiable")
    verdict = ("holds" if n_ni == len(mine) else "does not hold" if "identifiable here" in kinds else "undecided")
    weak = [f"{_where(a)}: power {a['power']:.2f}" for a in mine
            if a["kind"] == "undecided" and isinstance(a.get("power"), (int, float))]
    ci = wilson_ci(n_ni, len(mine))
    reason = (f"{n_ni} of {len(mine)} units not identifiable over {len(alphas)} strength(s) × {len(envs)} "
              f"environment(s)" + (f"; undecided units' power {', '.join(weak)}" if weak else ""))
    return _record(5, trait, route, verdict, reason,
                   test="the unit's error-controlled existence claim in every (α, environment) unit",
                   effect=n_ni / len(mine), ci=[ci.low, ci.high], n=len(mine))


def claim_recovery(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Claim 6 from the recovery units (module docstring)."""
    rec = [u for u in units if u.get("experiment") == "recovery" and u.get("status") == "ok"]
    if not rec:
        return [_record(6, None, None, "not tested", "no recovery unit in this run",
                        config_key="experiments: [..., recovery]")]
    out = []
    for u in rec:
        stab = ((u.get("result") or {}).get("stability") or {}).get("stability") or []
        if not stab:
            out.append(_record(6, u.get("trait"), None, "undecided", "the recovery unit reported no stability"))
            continue
        best = max(stab, key=lambda s: s.get("median") or -1)
        stable = [s["method"] for s in stab if s.get("stable")]
        verdict = "holds" if stable else "does not hold"
        reason = (", ".join(f"{s['method']}: median cosine {s.get('median', float('nan')):.2f} "
                            f"(5th pct {s.get('p05', float('nan')):.2f})" for s in stab)
                  + f"; stable: {', '.join(stable) if stable else 'none'} (cosine ≥ {best.get('min_cosine', 0.95):g}); "
                  "whether the recovered vector still steers like v is not measured in this run")
        out.append(_record(6, u.get("trait"), None, verdict, reason,
                           test=f"bootstrap resampling of the pairs ({best.get('n_bootstrap')} resamples), cosine to "
                                "the full-sample vector",
                           effect=best.get("median"), ci=[best.get("p05"), best.get("median")],
                           n=best.get("n_bootstrap")))
    return out


def paper_claims(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every claim record for a ``results.json`` content (units, answers, scorers and the plan already in it)."""
    units = results.get("units") or []
    answers = results.get("answers")
    if answers is None:
        answers = trait_answers(units)
    scorers = results.get("scorers") or {}
    level = float((results.get("equivalence_plan") or {}).get("level", 0.05))
    config = results.get("config") or {}
    e1 = _e1_units(units)
    out: list[dict[str, Any]] = []
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for u in e1:
        groups.setdefault((u["trait"], ROUTES[u["experiment"]]), []).append(u)
    if not groups:
        for cid in (1, 2, 3, 5):
            out.append(_record(cid, None, None, "not tested", "no E1 unit (generation or likelihood route) in this run",
                               config_key="experiments: [e1, likelihood]"))
    for (trait, route), us in sorted(groups.items()):
        u = _primary_unit(us)
        gate = _scorer_gate(scorers, trait, route)
        out.append(_gate(claim_efficacy(u, route), gate))
        out.append(_gate(claim_effect_size(u, route), gate))
        if route == "generation":
            out.append(_gate(claim_classifiers(u, level), gate))
        out.append(_gate(claim_persistence(answers, trait, route, config), gate))
    for trait in sorted({t for t, _ in groups}):
        if (trait, "generation") not in groups:
            out.append(_record(3, trait, "generation", "not tested", "the generation route (scored continuations) did not run",
                               config_key="experiments: [..., e1]"))
    out.extend(claim_null_space(units))
    out.extend(claim_recovery(units))
    out.sort(key=lambda r: (r["claim_id"], r["trait"] or "", r["route"] or ""))
    return out
