"""Turn parsed ``results.json`` into the report template's context (tables, figures, warnings)."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Any

from steerid.answers import ROUTE_TITLES, ROUTES
from steerid.report import figures
from steerid.report.first_screen import build_first_screen, interval_text
from steerid.report.records import FamilyView, Interval
from steerid.report.traits import trait_lines

ROUTE_TITLE = {experiment: ROUTE_TITLES[route] for experiment, route in ROUTES.items()}
_LEGACY_DRAW = re.compile(r"^([+-])v\+v⊥\[ρ=([^,\]]+),")  # condition names of units without family records


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _ok(units: list[dict[str, Any]], experiment: str) -> list[dict[str, Any]]:
    return [u for u in units if u.get("experiment") == experiment and u.get("status", "ok") == "ok"]


def _first_cell(config: dict[str, Any]) -> dict[str, Any]:
    return {"layer": (config.get("layers") or [None])[0], "method": (config.get("methods") or [None])[0],
            "alpha_rel": (config.get("alphas_rel") or [None])[0],
            "environment": (config.get("environments") or [None])[0]}


def draw_groups(unit: dict[str, Any], eff: dict[str, Any]) -> list[tuple[str, float | None, list[dict[str, Any]]]]:
    """The v+v⊥ draws of one unit's efficacy, grouped by family: ``[(sign, ρ, [efficacy entries…])]``.

    Sign, ρ and each draw's condition come from the family records (``sign``, ``rho``,
    ``draws[*].condition``); only a record without families falls back to reading the condition names.
    """
    groups = []
    for f in _families(unit):
        members = [eff[d.condition] for d in f.draws if d.condition in eff]
        if members:
            groups.append(("+" if f.sign > 0 else "-", f.rho, members))
    if groups:
        return groups
    legacy: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for name, e in eff.items():  # older units without family records
        m = _LEGACY_DRAW.match(name)
        if m:
            legacy[(m.group(1), m.group(2))].append(e)
    return [(sign, _as_float(rho), members) for (sign, rho), members in legacy.items()]


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _families(unit: dict[str, Any]) -> list[FamilyView]:
    result = unit.get("result")
    families = result.get("families") if isinstance(result, dict) else None
    return [FamilyView.of(f) for f in families or [] if isinstance(f, dict)]


def _add_sign_points(series: dict[str, list], unit: dict[str, Any], eff: dict[str, Any], x: Any) -> None:
    """Append the point at ``x`` of each series of one cell, ``(x, mean shift, ci_low, ci_high)``: ±v, and
    every single v+v⊥ draw under ``"{sign}v+v⊥ ρ=…"`` (one point per draw, never their average)."""
    for sign in ("+", "-"):
        if f"{sign}v" in eff:
            e = eff[f"{sign}v"]
            series[f"{sign}v"].append((x, e["mean_shift"], e.get("ci_low"), e.get("ci_high")))
    for sign, rho, members in draw_groups(unit, eff):
        for e in members:
            series[f"{sign}v+v⊥ ρ={'?' if rho is None else f'{rho:g}'}"].append(
                (x, e["mean_shift"], e.get("ci_low"), e.get("ci_high")))


def _primary(u: dict[str, Any]) -> str:
    return u["result"].get("primary", "likelihood")


def _warnings(results: dict[str, Any]) -> list[dict[str, str]]:
    out = [{"level": "info", "text": line} for line in trait_lines(results.get("traits") or {})]
    for name, card in sorted((results.get("scorers") or {}).items()):
        if not card.get("validated"):
            out.append({"level": "warn", "text": f"scorer '{name}' has no validation card: its scores are unvalidated"})
        elif not card.get("meets_target"):
            out.append({"level": "warn", "text": f"scorer '{name}' is below its accuracy target "
                        f"({_pct(card.get('accuracy'))} held-out vs target {_pct(card.get('target'))}): "
                        "treat its measurements with caution"})
    summary = results.get("summary") or []
    under = [r for r in summary if r.get("steers") and r.get("underpowered")]
    if under:
        worst = min((r.get("power") for r in under if _finite(r.get("power"))), default=None)
        need = max((r.get("n_required") or 0 for r in under), default=0)
        out.append({"level": "warn", "text": f"{len(under)} equivalence test(s) on steering vectors are underpowered "
                    f"(power at the margin as low as {_pct(worst)}; n = {need} needed for 80 %): "
                    "'inconclusive' there is weak evidence either way"})
    not_steering = sorted({f"{r['trait']} {r['sign']} ({r['route']}{', ' + r['environment'] if r.get('environment') and r['route'] != 'likelihood' else ''})"
                           for r in summary if not r.get("steers")})
    if not_steering:
        out.append({"level": "info", "text": "no equivalence claim is made where v itself does not steer: "
                    + ", ".join(not_steering)})
    for u in results.get("units") or []:
        if u.get("status") == "error":
            out.append({"level": "warn", "text": f"{u['experiment']} for {u['trait']} could not be done: {u.get('error')}"})
    for u in results.get("unavailable") or []:
        out.append({"level": "warn", "text": f"{u['experiment']} for {u['trait']} was not run: {u.get('reason')}"})
    return out


def _num(x: Any, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if _finite(x) else "—"


def _p(x: Any) -> str:
    return "—" if not _finite(x) else (f"{x:.1e}" if x < 1e-3 else f"{x:.3f}")


def _draw_tables(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One table per (E1-style unit, sign, ρ) family: every draw's own numbers and decision."""
    tables = []
    for u in _ok(results.get("units") or [], "likelihood") + _ok(results.get("units") or [], "e1"):
        route = ROUTES[u["experiment"]]
        for record in u["result"].get("families") or []:
            family = FamilyView.of(record)
            if not family.draws:
                continue
            het = record.get("heterogeneity") or {}
            c = family.claim
            control = (f"{c.correction} over {c.family_size} tries at family-wise {c.level:g}"
                       if c.correction and c.family_size and c.level is not None else c.correction or "unadjusted")
            note = (f"{c.n_equivalent} shown equivalent, {c.n_not_equivalent} shown different, {c.n_undecided} undecided "
                    f"of {len(family.draws)} ({control})"
                    + (f"; draws differ: F p {_p(het.get('p_value'))}, τ = {_num(het.get('tau_over_se'), 1)}× a draw's s.e."
                       if het else "")
                    + (f"; share equivalent {interval_text(family.share)}" if family.share.estimate is not None else "")
                    + ("" if family.steers else "; v does not steer here: no claim"))
            rows = []
            for d, raw in zip(family.draws, [r for r in record["draws"] if isinstance(r, dict)]):
                shift, rel = raw.get("shift") or {}, raw.get("relative_efficacy") or {}
                tost = raw.get("dz_tost") or raw.get("tost") or {}  # the d_z test at the decision's level, where stored
                seq = raw.get("sequential") or {}
                level = f" at {100 * d.interval.level:.4g} %" if d.interval.level is not None else ""
                rows.append({"draw": d.draw,
                             "shift": interval_text(Interval.of(shift, "mean_shift", "ci_low", "ci_high"), 3),
                             "rel": ("unstable, no CI" if rel.get("unstable") and _finite(rel.get("estimate"))
                                     else interval_text(Interval.of(rel))),
                             "diff": (interval_text(d.interval) + level) if d.scale == "relative" else "—",
                             "p": _p(tost.get("p_tost")), "p_adj": _p(d.p_adjusted),
                             "decision": d.controlled_decision + (f" (n {seq['stopping_n']})" if seq.get("stopping_n") else ""),
                             "blind": ", ".join(raw.get("blind_spots") or []) or "—"})
            tables.append({"title": f"{u['trait']} · {route} · {family.sign_label} · ρ {_num(family.rho, 3)} · α {u.get('alpha_rel')}"
                           + (f" · {u['environment']}" if u.get("environment") and route == "generation" else "")
                           + (f" · {family.sampler}" if family.sampler else ""),
                           "note": note, "rows": rows})
    return tables


def _pct(x: Any) -> str:
    return f"{100 * x:.0f} %" if _finite(x) else "—"


def _summary_tables(results: dict[str, Any]) -> list[dict[str, Any]]:
    by_trait: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in results.get("summary") or []:
        by_trait[row["trait"]].append(row)
    return [{"trait": trait, "rows": rows} for trait, rows in by_trait.items()]


def _spectra_figure(results: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    cov_curves, fish_curves, tols, d_cov, d_fish = {}, {}, [], None, None
    table = []
    multi_layer = len(results["config"].get("layers", [])) > 1
    for u in _ok(results["units"], "e6"):
        label = u["trait"] + (f" L{u['layer']}" if multi_layer else "")
        res = u.get("result") or {}
        cov, fish = res.get("covariance") or {}, res.get("fisher") or {}
        if cov.get("eigenvalues"):
            cov_curves[label] = cov["eigenvalues"]
            d_cov = cov.get("d", d_cov)
        if fish.get("eigenvalues"):
            fish_curves[label] = fish["eigenvalues"]
            d_fish = fish.get("d", d_fish)
            tols = [n.get("tolerance") for n in fish.get("null_space", [])] or tols
        vec = res.get("vector") or {}
        table.append({"trait": u["trait"], "layer": u["layer"], "d": fish.get("d") or cov.get("d"),
                      "n_prompts": u.get("n"), "n_tokens": cov.get("n"),
                      "effective_rank": cov.get("effective_rank") or {},
                      "fisher_null": fish.get("null_space") or [], "fisher_k": fish.get("k"),
                      "fisher_method": fish.get("method"), "fisher_points": fish.get("n_positions"),
                      "fisher_note": fish.get("note"), "cov_note": cov.get("note"),
                      "v_cov_share": vec.get("covariance_share"), "v_fisher": vec.get("fisher_rayleigh_over_max"),
                      "v_range_mass": {k.split("@", 1)[1]: v for k, v in vec.items() if k.startswith("fisher_range_mass@")}})
    series = {}
    if cov_curves:
        series["activation covariance"] = {"curves": cov_curves, "tolerances": [], "d": d_cov}
    if fish_curves:
        series["output Fisher  F = Jᵀ(diag p − ppᵀ)J"] = {"curves": fish_curves, "tolerances": tols, "d": d_fish}
    return figures.spectra(series), table


def _e4(results: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    groups: dict[str, dict[str, float]] = {}
    tables = []
    multi_alpha = len(results["config"].get("alphas_rel", [])) > 1
    for u in _ok(results["units"], "e4"):
        res = u.get("result") or {}
        key = u["trait"] + (f" α={u['alpha_rel']:g}" if multi_alpha else "")
        values: dict[str, float] = {}
        rows = []
        for c in res.get("conditions", []):
            if c.get("family") in ("none", "neg"):
                label = "v vs none" if c["family"] == "none" else "v vs −v"
                values[label] = c.get("kl_mean")
                rows.append({"comparison": label, "kl": c.get("kl_mean"), "kl_ci": c.get("kl_ci"), "js": c.get("js_mean"),
                             "js_ci": c.get("js_ci"), "n": c.get("n")})
        for f in res.get("families", []):
            label = f"v vs v+v⊥ ρ={f['rho']:g}" if f.get("family") == "orth" else f"v vs random ρ={f['rho']:g}"
            values[label] = f.get("kl_mean")
            rows.append({"comparison": label + " (draw mean)", "kl": f.get("kl_mean"), "kl_ci": f.get("kl_ci"),
                         "js": f.get("js_mean"), "js_ci": f.get("js_ci"), "n": f.get("n")})
        ratios = [{"label": f"KL(v‖v+v⊥) / KL(v‖{r['denominator']}) ρ={r['rho']:g}",
                   "estimate": r["interval"].get("estimate"), "ci": [r["interval"].get("low"), r["interval"].get("high")]}
                  for r in res.get("ratios", [])]
        if values:
            groups[key] = values
        tables.append({"trait": u["trait"], "alpha_rel": u["alpha_rel"], "rows": rows, "ratios": ratios,
                       "n_used": res.get("n_used"), "n_prompts": res.get("n_prompts"),
                       "tokens": res.get("mean_continuation_tokens")})
    fig = figures.bars(groups, "mean KL(p_v ‖ p_c) (nats)", "next-token KL on the +v continuation", log=True) if groups else None
    return fig, tables


def _e7(results: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    strips: dict[str, dict[str, list[float]]] = {}
    tables = []
    for u in _ok(results["units"], "e7"):
        res = u.get("result") or {}
        per = {"null": [d["kl_mean"] for d in res.get("draws", []) if d.get("family") == "null"],
               "range": [d["kl_mean"] for d in res.get("draws", []) if d.get("family") == "range"]}
        strips[u["trait"]] = per
        kl = res.get("kl") or {}
        score = res.get("score") or {}
        ratio = kl.get("ratio_range_over_null") or {}
        tables.append({"trait": u["trait"], "sub": res.get("subspaces") or {},
                       "kl_null": (kl.get("null") or {}).get("mean"), "kl_range": (kl.get("range") or {}).get("mean"),
                       "ratio": ratio.get("estimate"), "ratio_ci": [ratio.get("low"), ratio.get("high")],
                       "p": max(kl.get("wilcoxon_p", math.nan), kl.get("paired_t_p", math.nan)),
                       "null_less": kl.get("null_less_than_range"),
                       "score_tost_null": (score.get("tost_null") or {}).get("p_tost"),
                       "score_equivalent_null": (score.get("tost_null") or {}).get("equivalent"),
                       "null_draws_passing": score.get("null_draws_passing_tost"),
                       "perturbation_norm": res.get("perturbation_norm")})
    return figures.strips(strips, "mean KL(p_v ‖ p_{v+δ}) per draw (nats)", "null-space vs range perturbations"), tables


def _recovery(results: dict[str, Any]) -> tuple[list[tuple[str, str | None]], list[dict[str, Any]]]:
    figs, tables = [], []
    for u in _ok(results["units"], "recovery"):
        res = u.get("result") or {}
        stab = res.get("stability") or {}
        if stab.get("methods"):
            figs.append((u["trait"], figures.cosine_matrix(stab["methods"], stab["cosines"], f"{u['trait']}: methods on the same pairs")))
        tables.append({"trait": u["trait"], "n": u.get("n"), "stability": stab.get("stability", []),
                       "min_agreement": stab.get("min_agreement"),
                       "benchmark": res.get("benchmark")})
    return figs, tables


def build(results: dict[str, Any]) -> dict[str, Any]:
    config = results["config"]
    units = results["units"]
    traits = config.get("traits") if isinstance(config.get("traits"), list) else []
    first = _first_cell(config)
    figs: list[dict[str, Any]] = []

    def add(fid: str, section: str, title: str, svg: str | None, caption: str = "") -> None:
        if svg:
            figs.append({"id": fid, "section": section, "title": title, "svg": svg, "caption": caption})

    # per trait: efficacy panels, dose-response, environments, cosine (the per-draw forest is on the first screen)
    e1_units = _ok(units, "e1") + _ok(units, "likelihood")
    for trait in traits:
        mine = [u for u in e1_units if u["trait"] == trait]
        panels = []
        for route in ("likelihood", "e1"):
            cell = [u for u in mine if u["experiment"] == route and u["layer"] == first["layer"]
                    and u["method"] == first["method"] and u["alpha_rel"] == first["alpha_rel"]
                    and (route == "likelihood" or u.get("environment") == first["environment"])]
            if cell:
                u = cell[0]
                eff = u["result"]["efficacy"][_primary(u)]
                panels.append((f"{route if route == 'likelihood' else 'generation'} · α={u['alpha_rel']:g} · n={u.get('n')}",
                               eff, _primary(u), draw_groups(u, eff)))
        add(f"efficacy-{trait}", "efficacy", f"{trait}: efficacy per condition", figures.efficacy_panels(panels),
            "Mean shift of the primary measure vs the unsteered condition, 95 % CI. Each v+v⊥ row shows every draw "
            "separately (one dot and interval per direction, never their average); v⊥ alone and an equal-norm random "
            "direction are controls.")
        # dose-response over α
        if len(config.get("alphas_rel", [])) > 1:
            curves: dict[str, dict[str, list]] = {}
            measures: dict[str, str] = {}
            for route in ("likelihood", "e1"):
                cells = [u for u in mine if u["experiment"] == route and u["layer"] == first["layer"]
                         and u["method"] == first["method"]
                         and (route == "likelihood" or u.get("environment") == first["environment"])]
                series: dict[str, list] = defaultdict(list)
                for u in cells:
                    eff = u["result"]["efficacy"][_primary(u)]
                    measures[ROUTE_TITLE[route]] = _primary(u)
                    _add_sign_points(series, u, eff, u["alpha_rel"])
                if series:
                    curves[ROUTE_TITLE[route]] = dict(series)
            add(f"dose-{trait}", "dose", f"{trait}: dose-response over α (E2)", figures.dose_response(curves, measures),
                "Shift vs none as a function of the relative strength; solid: ±v with its 95 % CI band; "
                "small open markers: each v+v⊥ draw at each strength.")
        # environments side by side (E3)
        if len(config.get("environments", [])) > 1:
            env_rows: dict[str, list] = defaultdict(list)
            measure = ""
            for u in mine:
                if u["experiment"] != "e1" or u["alpha_rel"] != first["alpha_rel"] or u["layer"] != first["layer"] \
                        or u["method"] != first["method"]:
                    continue
                measure = _primary(u)
                eff = u["result"]["efficacy"][measure]
                _add_sign_points(env_rows, u, eff, u["environment"])
            add(f"environments-{trait}", "environments", f"{trait}: environments side by side (E3)",
                figures.environments(dict(env_rows), measure),
                "Generation E1 at the first α in each prompt environment: ±v (filled, 95 % CI) and each v+v⊥ draw (small open markers).")
        for u in _ok(units, "e5"):
            if u["trait"] == trait:
                res = u["result"]
                add(f"cosine-{trait}", "methods", f"{trait}: cosine between extraction methods (E5)",
                    figures.cosine_matrix(res.get("methods", []), res.get("cosine", []), f"{trait}, L{u['layer']}"))

    spectra_svg, spectra_table = _spectra_figure(results)
    add("spectra", "nullspace", "Null space: covariance and output-Fisher spectra (E6)", spectra_svg,
        "Eigenvalues relative to the largest (log scale). Dotted lines: the tolerances τ at which the Fisher null-space "
        "dimension is counted (directions with λ < τ·λ_max). The covariance null space is a threshold choice; with "
        "fewer tokens than dimensions its rank is bounded by the token count.")
    e4_svg, e4_tables = _e4(results)
    add("logit-distance", "e4", "Logit distance (E4)", e4_svg,
        "Mean KL divergence between next-token distributions on generated positions; v vs v+v⊥ is read against the "
        "v-vs-none distance (the scale that matters).")

    e5_tables = []
    for u in _ok(units, "e5"):
        e5_tables.append({"trait": u["trait"], "layer": u["layer"], "alpha_rel": u["alpha_rel"],
                          "comparisons": u["result"].get("comparisons", []), "efficacy": u["result"].get("efficacy", {})})
    e7_svg, e7_tables = _e7(results)
    add("spanning", "spanning", "Null-space vs range perturbations (E7)", e7_svg,
        "Each dot is one perturbation δ of norm ρ·‖αv̂‖ drawn from the Fisher null space (τ·λ_max cut) or its range, "
        "added to +v; y: mean next-token KL from +v over the prompts' generated positions.")
    rec_figs, recovery_tables = _recovery(results)
    for trait, svg in rec_figs:
        add(f"recovery-{trait}", "recovery", f"{trait}: agreement of extraction methods (recovery)", svg,
            "Cosines between the methods' directions fitted on the same pairs.")
    errors = [u for u in units if u.get("status") == "error"]

    examples = []
    for trait in traits:
        for u in _ok(units, "e1"):
            if u["trait"] == trait and u["alpha_rel"] == first["alpha_rel"] and u.get("environment") == first["environment"] \
                    and u["layer"] == first["layer"] and u["method"] == first["method"]:
                exs = u["result"].get("examples", [])
                if exs:
                    conditions = list(exs[0]["continuations"])
                    examples.append({"trait": trait, "alpha_rel": u["alpha_rel"], "conditions": conditions, "items": exs})
                break

    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"ok": 0, "error": 0, "unavailable": 0})
    for u in units:
        counts[u["experiment"]]["ok" if u.get("status", "ok") == "ok" else "error"] += 1
    for u in results.get("unavailable") or []:
        counts[u["experiment"]]["unavailable"] += 1

    sections_present = {f["section"] for f in figs}
    first_screen = build_first_screen(results)
    return {
        "results": results, "config": config, "model": results.get("model") or {}, "first": first,
        "scorers": results.get("scorers") or {}, "warnings": _warnings(results),
        **first_screen, "sequential": results.get("sequential"),
        "draw_tables": _draw_tables(results),
        "summary_tables": _summary_tables(results), "figures": figs, "sections_present": sections_present,
        "spectra_table": spectra_table, "e4_tables": e4_tables, "e5_tables": e5_tables, "e7_tables": e7_tables,
        "recovery_tables": recovery_tables, "examples": examples, "unit_counts": dict(counts),
        "multiple_testing": results.get("multiple_testing") or {}, "provenance": results.get("provenance") or {},
        "figure_ids": (["draw-forest"] if first_screen["forest_svg"] else []) + [f["id"] for f in figs], "errors": errors,
    }
