"""Tables derived from ``results.json``: the parquet rows and the CLI's compact summary rows.

``results.parquet`` holds one row per unit × condition × measure (``row_kind = "efficacy"``)
plus one per equivalence family (``row_kind = "equivalence"``), with fixed column dtypes so
that readers need no schema guessing. :func:`summary_table_rows` renders the summary rows of
``results.json`` as short text cells for the terminal table printed after an audit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from steerid.answers import ROUTE_SHORT, ROUTES
from steerid.io import atomic_write_with
from steerid.results import ratio_ci_text

E1_ROUTES = tuple(ROUTES)  # the experiments that are routes of E1 (steerid.answers.ROUTES)
"""The experiments that run the E1 protocol (generation and teacher-forced likelihood)."""


_COLUMNS = ["unit_id", "experiment", "trait", "layer", "method", "alpha_rel", "environment", "row_kind", "measure",
            "condition", "n", "mean_shift", "ci_low", "ci_high", "dz", "p_value", "steers", "sign", "rho",
            "p_tost", "p_tost_holm", "p_tost_holm_audit", "ci90_low", "ci90_high", "margin_low", "margin_high",
            "power", "relative_efficacy", "relative_efficacy_low", "relative_efficacy_high", "verdict",
            "margin_rel", "p_relative", "p_relative_holm_audit", "verdict_relative"]


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def table_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per unit × condition × measure (``row_kind = efficacy``) and per equivalence family."""
    rows: list[dict[str, Any]] = []
    for u in results["units"]:
        if u.get("status") != "ok":
            continue
        head = {k: u.get(k) for k in ("unit_id", "experiment", "trait", "layer", "method", "alpha_rel", "environment")}
        res = u.get("result") or {}
        if u["experiment"] in ("e1", "likelihood", "e5"):
            efficacy = res.get("efficacy", {})
            if u["experiment"] == "e5":
                efficacy = {"primary": efficacy}
            for measure, per_condition in efficacy.items():
                for condition, eff in per_condition.items():
                    rows.append({**head, "row_kind": "efficacy", "measure": measure, "condition": condition,
                                 "n": _num(eff.get("n")), "mean_shift": _num(eff.get("mean_shift")),
                                 "ci_low": _num(eff.get("ci_low")), "ci_high": _num(eff.get("ci_high")),
                                 "dz": _num(eff.get("dz")), "p_value": _num(eff.get("p_value")),
                                 "steers": bool(eff.get("steers")), "sign": _num(eff.get("sign")),
                                 "rho": _num(eff.get("rho"))})
        if u["experiment"] in E1_ROUTES:
            primary = res.get("primary", "likelihood")
            for f in res.get("families", []):
                tag = "+v" if f["sign"] > 0 else "-v"
                t = f["tost"]
                rel = f.get("relative_efficacy") or {}
                rows.append({**head, "row_kind": "equivalence", "measure": primary,
                             "condition": f"{tag}+v⊥[ρ={f['rho']:g}] vs {tag}", "n": _num(t.get("n")),
                             "mean_shift": _num(t.get("mean_diff")), "dz": _num(t.get("dz")),
                             "steers": bool(f["steers"]), "sign": _num(f["sign"]), "rho": _num(f["rho"]),
                             "p_tost": _num(t.get("p_tost")), "p_tost_holm": _num(t.get("p_tost_holm")),
                             "p_tost_holm_audit": _num(f.get("p_tost_holm_audit")),
                             "ci90_low": _num((t.get("ci90") or [None, None])[0]),
                             "ci90_high": _num((t.get("ci90") or [None, None])[1]),
                             "margin_low": _num(t.get("low")), "margin_high": _num(t.get("high")),
                             "power": _num(t.get("power")), "relative_efficacy": _num(rel.get("estimate")),
                             "relative_efficacy_low": _num(rel.get("low")), "relative_efficacy_high": _num(rel.get("high")),
                             "verdict": f.get("verdict_audit", f.get("verdict")),
                             "margin_rel": _num((f.get("tost_relative") or {}).get("margin")),
                             "p_relative": _num((f.get("tost_relative") or {}).get("p_tost")),
                             "p_relative_holm_audit": _num(f.get("p_relative_holm_audit")),
                             "verdict_relative": f.get("verdict_relative_audit", f.get("verdict_relative"))})
    return [{c: r.get(c) for c in _COLUMNS} for r in rows]


def write_parquet(results: dict[str, Any], path: Path) -> None:
    """``results.parquet``: :func:`table_rows` with fixed column dtypes, written atomically."""
    frame = pd.DataFrame(table_rows(results), columns=_COLUMNS)
    for col in ("layer",):
        frame[col] = frame[col].astype("Int64")
    for col in ("alpha_rel", "n", "mean_shift", "ci_low", "ci_high", "dz", "p_value", "sign", "rho", "p_tost",
                "p_tost_holm", "p_tost_holm_audit", "ci90_low", "ci90_high", "margin_low", "margin_high", "power",
                "relative_efficacy", "relative_efficacy_low", "relative_efficacy_high", "margin_rel", "p_relative",
                "p_relative_holm_audit"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["steers"] = frame["steers"].astype("boolean")
    for col in ("unit_id", "experiment", "trait", "method", "environment", "row_kind", "measure", "condition", "verdict",
                "verdict_relative"):
        frame[col] = frame[col].astype("string")
    atomic_write_with(path, lambda tmp: frame.to_parquet(tmp, index=False, engine="pyarrow"))


def summary_table_rows(summary: Iterable[dict[str, Any]]) -> list[list[str]]:
    """Compact text rows of the summary (for the CLI)."""
    def fmt(x: Any, digits: int = 2) -> str:
        return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"

    rows = []
    for r in summary:
        rel = r.get("relative_efficacy")
        lo, hi = r.get("relative_efficacy_ci") or [None, None]
        route = ROUTE_SHORT[r["route"]]
        cell = f"{route} α={r['alpha_rel']:g} ρ={r['rho']:g}"
        if r["route"] != "likelihood":
            cell += f" {r['environment'][:5]}"
        rows.append([r["trait"], cell, r["sign"], f"{'yes' if r['steers'] else 'no'} {fmt(r.get('dz'))}",
                     ratio_ci_text(rel, lo, hi, unstable=bool(r.get("relative_efficacy_unstable"))), r["verdict"], fmt(r.get("p_tost_holm_audit"), 3),
                     fmt(r.get("power")),
                     "—" if r.get("draws_equivalent_corrected") is None else
                     f"{r['draws_equivalent_corrected']}/{r['draws_not_equivalent_corrected']}/"
                     f"{r['draws_undecided_corrected']} of {r['family_size']}",
                     "—" if r.get("verdict_relative") is None else
                     f"{r['verdict_relative']} ({fmt(r.get('p_relative_holm_audit'), 3)})",
                     ("≤" if r.get("null_space_kind") == "upper_bound" else "") + fmt(r.get("null_space_fraction"), 3)])
    return rows


SUMMARY_HEADER = ["trait", "cell", "sign", "steers (d_z)", "rel. eff. v+v⊥ [95% CI]", "verdict (d_z)", "p Holm", "power",
                  "draws ≡/≠/? (corrected, of K)",
                  "verdict ±ε of v (p Holm)", "null frac"]
