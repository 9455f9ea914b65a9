"""Answer first: one sentence per trait and route that a practitioner can act on.

Built from the finished units (never from a model) and stored in ``results.json`` under
``answers``; the report's first screen and the CLI print them. The sentence is about the
*draws* — how many random orthogonal directions of norm ρ‖v‖ steer equivalently to v — not
about their average, which is not a vector anyone steers with:

* **not identifiable** — an *existence* claim: some try of the unit (a draw of either sign at any ρ,
  or the farthest-vector candidate) is shown equivalent with its p-value adjusted over every try
  the claim chose from (the equivalence plan's correction: family-wise error ≤ level;
  :mod:`steerid.experiments.existence`). The answer's ``evidence`` names that try with its p,
  adjusted p, method and family size; each draw is a different vector, at cosine 1/√(1+ρ²) to v,
  that steers the same;
* **identifiable here** — every draw is shown different from v at the family-wise level and no
  farther equivalent vector was found (``evidence`` null: not an existence claim);
* **undecided** — neither, with the n the corrected design needs; or v itself does not steer.

The headline is the existence claim, because identifiability is an existence property — one
equivalent vector is enough to make v non-identifiable, and only the claim can say "identifiable
here". The share of equivalent directions (:func:`steerid.stats.fraction_equivalent`, a
random-effects model of the draws on the d_z margin, with its own interval) answers a different
question — how typical such vectors are — and is given right after it, never as the verdict.
Results written before the equivalence plan (no ``existence`` record) are read as before.

Where the d_z verdict and the relative (±ε of v's own shift) verdict of the draw-averaged
test disagree, the sentence says which says what and why they can differ.
"""

from __future__ import annotations

import math
from typing import Any

ROUTES = {"likelihood": "likelihood", "e1": "generation"}
"""The routes of E1, experiment key → route name (the one definition; tables, results and the report read it)."""
ROUTE_TITLES = {"likelihood": "likelihood (teacher-forced log-prob difference)", "generation": "generation (scored continuations)"}
"""Route name → the report's title for it."""
ROUTE_SHORT = {"likelihood": "lik", "generation": "gen"}
"""Route name → its short form in table cells."""


def _f(x: Any, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if isinstance(x, (int, float)) and math.isfinite(x) else "—"


def _draw_decision(draw: dict[str, Any]) -> str:
    """'equivalent', 'not equivalent' or 'undecided' for one draw: its error-controlled ``decision``
    under the equivalence plan when recorded, else (older results) the sequential decision, then the TOST."""
    if draw.get("decision") in ("equivalent", "not equivalent", "undecided"):
        return draw["decision"]
    seq = draw.get("sequential")
    if seq:
        if seq["decision"] == "equivalent":
            return "equivalent"
        return "not equivalent" if seq.get("shown_different") else "undecided"
    tost = draw["tost"]
    if tost.get("equivalent"):
        return "equivalent"
    lo, hi = tost["ci90"]
    if lo > tost["high"] or hi < tost["low"] or ((lo > 0 or hi < 0) and (lo < tost["low"] or hi > tost["high"])):
        return "not equivalent"
    return "undecided"


def family_answer(unit: dict[str, Any], family: dict[str, Any]) -> dict[str, Any]:
    """Counts and verdict of one (sign, ρ) family of an E1-style unit."""
    decisions = [_draw_decision(d) for d in family.get("draws", [])]
    n_eq, n_not = decisions.count("equivalent"), decisions.count("not equivalent")
    tost = family["tost"]
    if not family["steers"]:
        kind = "not steering"
    elif n_eq:
        kind = "not identifiable"
    elif decisions and n_not == len(decisions):
        kind = "identifiable here"
    else:
        kind = "undecided"
    frac = family.get("fraction_equivalent") or {}
    het = family.get("heterogeneity") or {}
    return {
        "sign": "+v" if family["sign"] > 0 else "-v", "rho": family["rho"], "kind": kind,
        "n_draws": len(decisions), "n_equivalent": n_eq, "n_not_equivalent": n_not,
        "n_undecided": len(decisions) - n_eq - n_not, "claim": family.get("claim"),
        "share": (frac.get("share") or {}).get("estimate"), "share_ci": [(frac.get("share") or {}).get("low"),
                                                                           (frac.get("share") or {}).get("high")],
        "tau_over_se": het.get("tau_over_se"), "p_heterogeneity": het.get("p_value"),
        "n": tost.get("n"), "n_required": tost.get("n_required"), "power": tost.get("power"),
        "margin_dz": tost.get("margin_dz") if tost.get("margin_source") == "dz" else tost.get("margin_dz"),
        "blind_spots": family.get("n_blind_spots", 0),
        "verdict_dz": family.get("verdict_audit", family.get("verdict")),
        "verdict_relative": family.get("verdict_relative_audit", family.get("verdict_relative")),
        "margin_rel": (family.get("tost_relative") or {}).get("margin"),
        "sd_diff": tost.get("sd_diff"),
    }


def _clause(a: dict[str, Any], margin_dz: float, margin_txt: str | None = None) -> str:
    share = a["share"]
    share_txt = (f"; estimated share of such directions that are equivalent {_f(share)} "
                 f"[{_f(a['share_ci'][0])}, {_f(a['share_ci'][1])}]" if share is not None else "")
    het = ""
    if a["tau_over_se"] is not None and a["p_heterogeneity"] is not None and a["p_heterogeneity"] < 0.05:
        p = a["p_heterogeneity"]
        p_txt = "p < 0.001" if p < 0.001 else f"p {p:.3f}"
        het = f"; the draws differ (between-draw SD {_f(a['tau_over_se'], 1)}× a draw's s.e., {p_txt})"
    blind = f"; {a['blind_spots']} equivalent on the target but not on a secondary measure" if a["blind_spots"] else ""
    return (f"{a['sign']}: {a['n_equivalent']} of {a['n_draws']} random orthogonal directions at ρ {a['rho']:g} steer "
            f"equivalently, {a['n_not_equivalent']} shown different ({margin_txt or f'TOST ±{margin_dz:g} d_z'}, n {a['n']})"
            f"{share_txt}{het}{blind}")


def _disagreement(answers: list[dict[str, Any]]) -> str:
    notes = []
    for a in answers:
        dz, rel = a["verdict_dz"], a["verdict_relative"]
        if not rel or rel == "not steering" or dz == "not steering":
            continue
        if dz.startswith("equivalent") != rel.startswith("equivalent"):
            notes.append(f"{a['sign']}: the draw-averaged d_z test says '{dz}' but the relative test (±{_f(a['margin_rel'])} "
                         f"of v's shift) says '{rel}' — the d_z margin is a share of the spread of the paired differences "
                         f"(sd {_f(a['sd_diff'])}), the relative margin a share of v's own shift, so a large steering "
                         "effect with noisy differences can pass one and not the other")
    return "; ".join(notes)


def _existence_kind(existence: dict[str, Any], steering: list[dict[str, Any]],
                    farthest: dict[str, Any]) -> tuple[str, str]:
    """The unit's verdict from its error-controlled existence claim, and the evidence clause of the sentence."""
    verdict = existence.get("verdict")
    if verdict == "not identifiable":
        ev = existence["evidence"]
        what = ("the farthest-vector candidate" if ev["condition"] == "farthest" else
                f"draw {ev['draw']} of {ev['sign']} at ρ {ev['rho']:g}")
        return "not identifiable", (f" ({what}: p {_p(ev['p'])}, adjusted {_p(ev['p_adjusted'])} over "
                                    f"{ev['family_size']} tries, {existence['correction']}, level {existence['level']:g})")
    if verdict == "identifiable here":
        return "identifiable here", f" (every draw shown different at family-wise level {existence['level']:g})"
    return "undecided", (f" (no try survives {existence['correction']} over {existence['family_size']} tries at level "
                         f"{existence['level']:g})")


def _p(x: Any) -> str:
    return "—" if x is None else ("< 0.0001" if x < 1e-4 else f"{x:.4f}" if x < 0.01 else f"{x:.3f}")


def _figures(res: dict[str, Any], steering: list[dict[str, Any]], existence: dict[str, Any] | None,
             farthest: dict[str, Any], kind: str) -> dict[str, Any]:
    """The answer's figures: evidence (null unless the verdict is an existence claim), the share of
    equivalent directions (the steering family with the smallest estimate, with its CI), the equivalence
    radius, the farthest equivalent cosine, the power of one truly equivalent try under the corrected
    design, and both margins."""
    shares = [a for a in steering if a["share"] is not None]
    low = min(shares, key=lambda a: a["share"]) if shares else None
    radius = res.get("equivalence_radius") or {}
    radii = [r.get("radius") for r in radius.values() if isinstance(r, dict) and r.get("radius") is not None]
    plan = (res.get("config") or {}).get("plan") or {}
    power_plan = (existence or {}).get("power_plan") or {}
    return {
        "evidence": (existence or {}).get("evidence") if kind == "not identifiable" else None,
        "share": low["share"] if low else None, "share_ci": low["share_ci"] if low else [None, None],
        "share_sign": low["sign"] if low else None,
        "radius": min(radii) if radii else None,
        "farthest_cosine": farthest.get("cosine") if farthest.get("verdict") == "found" else None,
        "power": power_plan.get("power_at_n"), "n_needed": power_plan.get("n_needed"),
        "margin_rel": (existence or {}).get("margin_rel", plan.get("margin_rel")),
        "margin_dz": (existence or {}).get("margin_dz", plan.get("margin_dz")),
        "margin": (existence or {}).get("margin", plan.get("margin")),
        "method": (existence or {}).get("method"), "family_size": (existence or {}).get("family_size"),
        "error_statement": (existence or {}).get("error_statement"),
    }


def trait_answers(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (trait, route, α, environment) with a sentence and the counts behind it."""
    out = []
    for u in units:
        if u.get("experiment") not in ROUTES or u.get("status") != "ok":
            continue
        res = u["result"]
        families = res.get("families") or []
        if not families:
            continue
        answers = [family_answer(u, f) for f in families]
        margin = float((res.get("config", {}).get("plan") or {}).get("margin_dz", answers[0].get("margin_dz") or 0.2))
        route = ROUTES[u["experiment"]]
        where = f"{route} route, α {u.get('alpha_rel'):g}" + (f", {u['environment']}" if u.get("environment") else "")
        steering = [a for a in answers if a["kind"] != "not steering"]
        farthest = res.get("farthest_equivalent") or {}
        far_txt = ""
        if farthest.get("verdict") == "found":
            far_txt = (f"; the farthest equivalent vector found has cosine {_f(farthest.get('cosine'))} to v "
                       f"(confirmed on {farthest.get('n_confirm', '?')} held-out items)")
        elif farthest:
            far_txt = f"; the farthest-vector search confirmed none (best cosine {_f(farthest.get('cosine'))})"
        existence = res.get("existence")
        if existence and steering:
            kind, head_ev = _existence_kind(existence, steering, farthest)
        if not steering:
            kind = "undecided"
            text = (f"{u['trait']} ({where}): undecided — v does not steer here "
                    f"({', '.join(a['sign'] for a in answers)} not shown to move the measure), so no equivalence claim is made.")
        else:
            if not existence:  # results without the plan's decisions: the former (uncorrected) reading
                kinds = {a["kind"] for a in steering}
                kind = ("not identifiable" if "not identifiable" in kinds else
                        "identifiable here" if kinds == {"identifiable here"} and farthest.get("verdict") != "found" else
                        "undecided")
                if farthest.get("verdict") == "found":
                    kind = "not identifiable"
                head_ev = ""
            head = {"not identifiable": f"v is not identifiable at α {u.get('alpha_rel'):g}",
                    "identifiable here": "identifiable here",
                    "undecided": "undecided"}[kind] + head_ev
            margin_txt = existence["method"] if existence else None
            clauses = "; ".join(_clause(a, margin, margin_txt) for a in steering)
            need = ""
            if kind == "undecided":
                if existence:
                    req = (existence.get("power_plan") or {}).get("n_needed") or 0
                    need = (f"; needs n ≈ {req} for 80 % power of one truly equivalent draw under the correction"
                            if req else "")
                else:
                    req = max((a["n_required"] or 0) for a in steering)
                    need = f"; needs n ≈ {req} for 80 % power at the margin" if req else ""
            skipped = [a["sign"] for a in answers if a["kind"] == "not steering"]
            skip_txt = f"; {', '.join(skipped)} does not steer (no claim)" if skipped else ""
            text = f"{u['trait']} ({where}): {head} — {clauses}{far_txt}{need}{skip_txt}."
        disagreement = _disagreement(steering)
        if disagreement:
            text = text[:-1] + f". Note: {disagreement}."
        out.append({"trait": u["trait"], "route": route, "alpha_rel": u.get("alpha_rel"),
                    "environment": u.get("environment"), "kind": kind, "text": text, "families": answers,
                    "unit_id": u.get("unit_id"), **_figures(res, steering, existence, farthest, kind)})
    out.sort(key=lambda r: (r["trait"], r["route"] != "generation", r["environment"] or "", r["alpha_rel"] or 0))
    return out
