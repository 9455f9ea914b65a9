"""The report's first screen: the verdict table, the per-draw forest figure, the claims table and the
"how to read this" text, from parsed ``results.json`` only.

* **Verdict table**: one row per answer (trait × route, and strength/environment where the run has
  several): the verdict with the error rate it was tested at over every try it chose from, the draws
  shown equivalent / shown different / undecided under that control, the estimated share of
  equivalent directions with its CI, the equivalence radius, the farthest equivalent cosine, power.
* **Forest figure**: per draw, r − 1 = (shift(v + v⊥) − shift(v)) / shift(v) with the interval at
  the level its decision used, against ±ε (:mod:`steerid.report.records`; d_z for older runs). No
  draw-averaged v + v⊥ anywhere: the average of the draws is not a vector anyone steers with.
* **Claims table**: the paper's six claims, one row per claim × trait, as ``results.json`` states them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from steerid.report import figures
from steerid.report.records import AnswerView, FamilyView, Interval, answer_views, mapping, number

KIND_CLASS = {"not identifiable": "v-not-identifiable", "identifiable here": "v-identifiable",
              "undecided": "v-undecided"}
MAX_PANELS = 9


def _num(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


def interval_text(iv: Interval, digits: int = 2) -> str:
    """``estimate [low, high]``; "unstable, no CI" for an interval that does not contain its estimate."""
    if iv.estimate is None:
        return "—"
    if not iv.bounded:
        return f"{iv.estimate:.{digits}f} (unbounded CI)"
    if not iv.coherent:
        return "unstable, no CI"
    return f"{iv.estimate:.{digits}f} [{iv.low:.{digits}f}, {iv.high:.{digits}f}]"


def _multi(config: dict[str, Any], key: str) -> bool:
    value = config.get(key)
    return isinstance(value, list) and len(value) > 1


def _where(a: AnswerView, config: dict[str, Any]) -> str:
    parts = [a.route]
    if _multi(config, "alphas_rel") and a.alpha_rel is not None:
        parts.append(f"α {a.alpha_rel:g}")
    if _multi(config, "environments") and a.environment and a.route != "likelihood":
        parts.append(a.environment.replace("_", " "))
    return " · ".join(parts)


def error_statement(a: AnswerView) -> str:
    """The error rate the verdict was tested at, over what it chose from (the answer's own statement first)."""
    if a.error_text:
        return a.error_text
    if not a.error_controlled:
        text = "older run: verdict from unadjusted per-draw d_z TOSTs"
        if a.correction:
            text += "; counts Holm-adjusted over the unit's draws"
            if a.kind == "not identifiable" and a.counts[0] == 0:
                text += ", where no draw survives"
        return text
    corr = a.correction or "no correction"
    size = f" over {a.family_size} tries" if a.family_size else ""
    level = f"family-wise {a.level:g}, " if a.level is not None else ""
    return f"{level}{corr}{size}"


def _evidence(a: AnswerView) -> str:
    e = a.evidence
    if not e:
        return ""
    sign = e.get("sign")
    sign_txt = "+v" if sign == 1 else "−v" if sign == -1 else ""
    p_adj = number(e.get("p_adjusted"))
    return (f"evidence: draw {e.get('draw', '—')} {sign_txt} ρ {e.get('rho', '—')}, p_adjusted "
            f"{'—' if p_adj is None else f'{p_adj:.2g}'} ({e.get('method', '—')} over {e.get('family_size', '—')})")


def verdict_rows(views: list[AnswerView], config: dict[str, Any]) -> list[dict[str, Any]]:
    """The verdict table's rows (one per answer)."""
    rows = []
    for a in views:
        n_eq, n_diff, n_und = a.counts
        n_draws = sum(len(f.draws) for f in a.families if f.steers)
        not_steering = [f.sign_label for f in a.families if not f.steers]
        anti = [(f.sign_label, interval_text(f.anti_steerable)) for f in a.families if f.anti_steerable is not None]
        rows.append({
            "trait": a.trait, "where": _where(a, config), "kind": a.kind, "kind_class": KIND_CLASS.get(a.kind, "v-undecided"),
            "error": error_statement(a), "evidence": _evidence(a),
            "n_eq": n_eq, "n_diff": n_diff, "n_und": n_und, "n_draws": n_draws,
            "no_claim": ", ".join(not_steering),
            "share": interval_text(a.share), "radius": _num(a.radius, 3), "farthest": _num(a.farthest_cosine, 3),
            "power": _pct(a.power), "anti": anti,
        })
    return rows


def _panel_views(views: list[AnswerView], config: dict[str, Any]) -> tuple[list[AnswerView], bool]:
    """Every answer, or only those at the first strength and environment when there are too many panels."""
    views = [a for a in views if a.families]
    if len(views) <= MAX_PANELS:
        return views, False
    alphas = config.get("alphas_rel") if isinstance(config.get("alphas_rel"), list) else []
    envs = config.get("environments") if isinstance(config.get("environments"), list) else []
    keep = [a for a in views if (not alphas or a.alpha_rel == alphas[0])
            and (a.route == "likelihood" or not envs or a.environment == envs[0])]
    return keep[:MAX_PANELS * 2], True


def _group_label(f: FamilyView, multi_rho: bool) -> str:
    parts = [f.sign_label]
    if multi_rho and f.rho is not None:
        parts.append(f"ρ {f.rho:g}")
    if f.sampler:
        parts.append(f.sampler)
    return " ".join(parts)


def forest(views: list[AnswerView], config: dict[str, Any]) -> tuple[str | None, str]:
    """The per-draw forest figure (SVG) and its caption (the scale, margin and level stated)."""
    panels_views, trimmed = _panel_views(views, config)
    multi_rho = _multi(config, "rhos")
    panels, levels, margins, scales, controlled = [], set(), set(), set(), set()
    for a in panels_views:
        groups = []
        for f in a.families:
            rows = []
            for d in f.draws:
                rows.append({"label": f"#{d.draw}" if d.draw is not None else "", "estimate": d.interval.estimate,
                             "low": d.interval.low, "high": d.interval.high, "decision": d.decision})
                if d.interval.level is not None:
                    levels.add(round(d.interval.level, 6))
                if d.margin is not None:
                    margins.add(round(d.margin, 6))
                scales.add(d.scale)
                controlled.add(d.error_controlled)
            if rows:
                groups.append({"label": _group_label(f, multi_rho), "rows": rows})
        if groups:
            panels.append({"title": f"{a.trait} · {_where(a, config)}", "groups": groups})
    if not panels:
        return None, ""
    relative = scales == {"relative"}
    margin = max(margins) if margins else number(config.get("margin_rel" if relative else "margin_dz"))
    svg = figures.draw_forest(panels, margin, "relative" if relative else "dz")
    if levels:
        lv = sorted(levels)
        level_txt = (f"{100 * lv[0]:.4g} %" if len(lv) == 1 else f"{100 * lv[0]:.4g}–{100 * lv[-1]:.4g} %")
    else:
        level_txt = "—"
    if relative:
        caption = ("Each line is one random orthogonal direction v⊥ (norm ρ‖v‖): the relative difference of its shift from "
                   "v's own, (shift(v+v⊥) − shift(v)) / shift(v), with its paired Fieller interval at "
                   f"{level_txt} confidence — the level its error-controlled decision used — against the band of ±"
                   f"{_pct(margin)} of v's shift. "
                   "Colour: that decision. A dashed line with arrows: the interval is unbounded (v's own shift is not "
                   "resolved well enough for a ratio); a triangle: the interval runs past the axis.")
    elif controlled == {True}:
        caption = ("Each line is one random orthogonal direction v⊥ (norm ρ‖v‖): its paired difference from v in d_z units "
                   f"(mean difference ÷ its SD) with the interval at {level_txt} confidence — the level its error-controlled "
                   f"decision used — against the ±{margin if margin is not None else '—'} d_z band (the plan decides on "
                   "the d_z margin). Colour: that decision.")
    else:
        caption = ("This run predates the per-draw relative test: each line is one random orthogonal direction's "
                   "paired difference from v in d_z units (mean difference ÷ its SD) with its "
                   f"{level_txt} interval against the ±{margin if margin is not None else '—'} d_z band, coloured by the "
                   "per-draw decision at that unadjusted level (not error-controlled).")
    if trimmed:
        caption += " Shown at the first strength and environment; the others are in the tables below."
    return svg, caption


def claims_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The claims table: rows grouped by claim (the claim's text spans its rows)."""
    records = [c for c in results.get("claims") or [] if isinstance(c, dict)]
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for c in records:
        groups[c.get("claim_id", c.get("claim"))].append(c)
    rows = []
    for members in groups.values():
        for i, c in enumerate(members):
            verdict = str(c.get("verdict") or "not tested")
            reason = str(c.get("reason") or "")
            key = c.get("config_key")
            if verdict == "not tested" and key and str(key) not in reason:
                reason = (reason + "; " if reason else "") + f"tested by config key {key}"
            rows.append({"claim": c.get("claim", ""), "claim_id": c.get("claim_id", ""), "span": len(members) if i == 0 else 0,
                         "trait": c.get("trait") or "—", "route": c.get("route") or "",
                         "verdict": verdict, "verdict_class": "c-" + verdict.replace(" ", "-"),
                         "test": c.get("test") or "—", "effect": _value(c.get("effect")), "ci": _ci(c.get("ci")),
                         "n": _value(c.get("n")), "reason": reason})
    return rows


def _value(x: Any) -> str:
    if x is None:
        return "—"
    v = number(x)
    if v is not None:
        if isinstance(x, int):
            return str(x)
        return f"{v:.2e}" if abs(v) < 1e-3 and v != 0 else f"{v:.3f}"
    if isinstance(x, dict):
        est = number(x.get("estimate"))
        return _value(est) if est is not None else "—"
    return str(x)


def _ci(x: Any) -> str:
    if isinstance(x, (list, tuple)) and len(x) == 2:
        lo, hi = number(x[0]), number(x[1])
        return "—" if lo is None and hi is None else f"[{_value(lo)}, {_value(hi)}]"
    if isinstance(x, dict):
        return _ci([x.get("low"), x.get("high")])
    return "—" if x is None else str(x)


def plan_sentence(results: dict[str, Any]) -> str:
    """The equivalence plan in one sentence (``EquivalencePlan.describe``), or the older run's margins."""
    plan = mapping(results.get("equivalence_plan"))
    if plan:
        from steerid.errors import ConfigError
        from steerid.stats.plan import EquivalencePlan

        try:
            return EquivalencePlan.from_dict(plan).describe()
        except (ConfigError, TypeError, ValueError):
            pass  # a plan this version cannot read: describe it from the config below
    config = mapping(results.get("config"))
    dz, rel = number(config.get("margin_dz")), number(config.get("margin_rel"))
    level = number(config.get("test_alpha"))
    text = (f"This run predates the equivalence plan: each draw was decided by a paired TOST at ±{_num(dz)} d_z "
            f"(level {level:g} per draw" if level is not None else
            f"This run predates the equivalence plan: each draw was decided by a paired TOST at ±{_num(dz)} d_z (")
    text += ", not corrected over the draws a verdict chose from)."
    if rel is not None:
        text += f" The draw-averaged relative test (±{rel:.0%} of v's shift) is reported in the summary table."
    return text


def margin_header(results: dict[str, Any]) -> str:
    """The margins and level for the header line: the plan's, or an older run's config."""
    plan = mapping(results.get("equivalence_plan"))
    config = mapping(results.get("config"))
    rel, dz = number(plan.get("margin_rel")), number(plan.get("margin_dz"))
    level = number(plan.get("level"))
    if plan and rel is not None and dz is not None and level is not None:
        first, second = (f"±{_pct(rel)} of v's shift", f"±{dz:g} d_z") if plan.get("margin") != "dz" else \
            (f"±{dz:g} d_z", f"±{_pct(rel)} of v's shift")
        return f"margin {first} (second statement {second}) · level {level:g} per claim ({plan.get('effective_correction', plan.get('correction'))})"
    dz, level = number(config.get("margin_dz")), number(config.get("test_alpha"))
    return f"margin ±{_num(dz)} d_z · level {_num(level)} per draw (unadjusted)"


def margins(results: dict[str, Any]) -> dict[str, float | None]:
    """The d_z and relative margins of the run: the equivalence plan's, else an older run's config."""
    plan, config = mapping(results.get("equivalence_plan")), mapping(results.get("config"))
    out: dict[str, float | None] = {}
    for key, name in (("dz", "margin_dz"), ("rel", "margin_rel")):
        value = number(plan.get(name))
        out[key] = value if value is not None else number(config.get(name))
    return out


def build_first_screen(results: dict[str, Any]) -> dict[str, Any]:
    """The first screen's context: verdict rows, forest SVG and caption, claims rows, plan sentence."""
    config = mapping(results.get("config"))
    views = answer_views(results)
    svg, caption = forest(views, config)
    rows = verdict_rows(views, config)
    return {"verdict_rows": rows, "verdict_has_anti": any(r["anti"] for r in rows),
            "verdict_error_controlled": any(a.error_controlled for a in views),
            "forest_svg": svg, "forest_caption": caption, "claims_rows": claims_rows(results),
            "plan_sentence": plan_sentence(results), "margin_header": margin_header(results), "margins": margins(results)}
