"""From finished units to ``results.json``, ``results.parquet`` and the summary table.

Everything here is a pure function of the checkpointed unit results (read back through JSON) and
the resolved config, so a resumed run writes byte-identical files to an uninterrupted one:
no timings, timestamps or paths that change between runs go into ``results.json``.

Multiplicity. Each E1-style unit (generation ``e1`` and ``likelihood``) already Holm-adjusts its
own family-level TOSTs (signs × ρ) — ``p_tost_holm``. Across the audit, every family-level TOST
of every such unit (traits × layers × methods × α × environments × signs × ρ, both routes) forms
one family for a second Holm adjustment, stored beside the first as ``p_tost_holm_audit`` with the
verdict it implies, ``verdict_audit``. The summary and the report's headline use the audit-level
verdict.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from steerid import __version__
from steerid.answers import trait_answers
from steerid.audit_config import AuditConfig

SCHEMA_VERSION = 1
E1_ROUTES = ("e1", "likelihood")
ROUTE_NAMES = {"e1": "generation", "likelihood": "likelihood"}


def _families(unit: dict[str, Any]) -> list[dict[str, Any]]:
    if unit.get("experiment") in E1_ROUTES and unit.get("status") == "ok":
        return unit["result"].get("families", [])
    return []


def audit_holm(units: list[dict[str, Any]], alpha: float) -> dict[str, Any]:
    """Holm across every family-level TOST of the audit; writes ``p_tost_holm_audit`` / ``verdict_audit``,
    and — as a second, separate family — across every relative-margin test (``p_relative_holm_audit`` /
    ``verdict_relative_audit``)."""
    from steerid.experiments.analysis import verdict, verdict_relative
    from steerid.stats import holm

    families = [f for u in units for f in _families(u)]
    relative = [f for f in families if f.get("tost_relative")]
    if relative:
        for family, p in zip(relative, holm([f["tost_relative"]["p_tost"] for f in relative], alpha=alpha).p_adjusted):
            family["p_relative_holm_audit"] = float(p)
            family["verdict_relative_audit"] = verdict_relative(family["steers"], family["tost_relative"], float(p), alpha)
    pvalues = [f["tost"]["p_tost"] for f in families]
    finite = [p for p in pvalues if isinstance(p, (int, float)) and math.isfinite(p)]
    if not families:
        return {"method": "holm", "alpha": alpha, "n_tests": 0}
    adjusted = holm(pvalues, alpha=alpha).p_adjusted
    for family, p in zip(families, adjusted):
        p = float(p)
        family["p_tost_holm_audit"] = p
        family["verdict_audit"] = verdict(family["steers"], family["tost"], p, alpha) if math.isfinite(p) else \
            "inconclusive"
    return {"method": "holm", "alpha": alpha, "n_tests": len(finite), "n_relative_tests": len(relative),
            "scope": "every family-level TOST of the e1 and likelihood units (traits × layers × methods × α × "
                     "environments × signs × ρ); the relative-margin tests are a second family, adjusted alike"}


def scorer_summary(traits: list[str]) -> dict[str, Any]:
    """Validation cards (accuracy, target, meets_target) of the scorers the audit's measures use."""
    from steerid.experiments.measures import DEFAULT_OFF_TARGET, OFF_TARGET
    from steerid.scorers.base import load_card
    from steerid.scorers.registry import scorers_for_trait

    names: list[str] = []
    for trait in traits:
        try:
            wanted = [*scorers_for_trait(trait), OFF_TARGET.get(trait, DEFAULT_OFF_TARGET)]
        except Exception as exc:  # noqa: BLE001 - a trait without scorers is reported, not fatal here
            from steerid.errors import ScorerError

            if not isinstance(exc, ScorerError):
                raise
            continue
        names.extend(n for n in wanted if n not in names)
    out: dict[str, Any] = {}
    for name in names:
        card = load_card(name)
        if card is None:
            out[name] = {"name": name, "validated": False, "accuracy": None, "target": None, "meets_target": False}
            continue
        metrics = card.get("metrics", {}) or {}
        target = card.get("target", {}) or {}
        out[name] = {
            "name": name, "trait": card.get("trait"), "validated": True,
            "accuracy": metrics.get("accuracy"), "n_test": metrics.get("n"),
            "target": target.get("value") if isinstance(target, dict) else target,
            "meets_target": bool(card.get("meets_target", False)),
            "undecided_rate": metrics.get("undecided_rate"),
            "higher_means": card.get("higher_means"),
        }
    return out


def _null_fraction(units: list[dict[str, Any]], trait: str, layer: int) -> dict[str, Any] | None:
    for u in units:
        if u.get("experiment") == "e6" and u.get("trait") == trait and u.get("layer") == layer and u.get("status") == "ok":
            return null_space_summary(u)
    return None


def null_space_summary(unit: dict[str, Any]) -> dict[str, Any]:
    """Null-space facts from an E6 unit: Fisher null-space fractions per τ, covariance ranks, the vector's place."""
    res = unit.get("result") or {}
    fisher = res.get("fisher") or {}
    cov = res.get("covariance") or {}
    out: dict[str, Any] = {"fisher": [{"tolerance": e.get("tolerance"), "fraction": e.get("fraction"),
                                       "dimension": e.get("dimension"), "kind": e.get("kind")}
                                      for e in fisher.get("null_space", []) or []]}
    out["covariance_effective_rank_fraction"] = cov.get("effective_rank_fraction")
    out["vector"] = res.get("vector")
    return out


def _headline(null: dict[str, Any] | None) -> dict[str, Any]:
    """Fisher null-space fraction at τ = 1e-3 (else the first τ) with its kind, and the covariance's at 99 %."""
    out: dict[str, Any] = {"null_space_fraction": None, "null_space_kind": None, "null_space_tolerance": None,
                           "covariance_null_fraction": None}
    if not null:
        return out
    entries = null.get("fisher") or []
    entry = next((e for e in entries if e.get("tolerance") == 1e-3), entries[0] if entries else None)
    if entry:
        out.update(null_space_fraction=entry.get("fraction"), null_space_kind=entry.get("kind"),
                   null_space_tolerance=entry.get("tolerance"))
    ranks = null.get("covariance_effective_rank_fraction") or {}
    share = ranks.get("0.99", ranks.get(0.99))
    if isinstance(share, (int, float)):
        out["covariance_null_fraction"] = 1.0 - float(share)
    return out


def summary_rows(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (E1-style unit, sign, ρ): does v steer, relative efficacy, verdict, power, null space."""
    rows = []
    for u in units:
        if u.get("experiment") not in E1_ROUTES or u.get("status") != "ok":
            continue
        res = u["result"]
        primary = res.get("primary", "likelihood")
        null = _null_fraction(units, u["trait"], u["layer"])
        for f in res.get("families", []):
            tag = "+v" if f["sign"] > 0 else "-v"
            eff = res["efficacy"][primary][tag]
            rel = f.get("relative_efficacy") or {}
            tost = f["tost"]
            rows.append({
                "n_draws": f.get("n_draws"), "n_draws_equivalent": f.get("n_draws_equivalent"),
                "share_equivalent": ((f.get("fraction_equivalent") or {}).get("share") or {}).get("estimate"),
                "tau_over_se": (f.get("heterogeneity") or {}).get("tau_over_se"),
                "stopping_n": (res.get("sequential") or {}).get("stopping_n"),
                "trait": u["trait"], "route": ROUTE_NAMES[u["experiment"]], "experiment": u["experiment"],
                "layer": u["layer"], "method": u["method"], "alpha_rel": u["alpha_rel"],
                "environment": u.get("environment") or "likelihood items", "measure": primary, "sign": tag,
                "rho": f["rho"], "n": tost.get("n"), "n_required": tost.get("n_required"),
                "steers": bool(f["steers"]), "shift": eff.get("mean_shift"), "shift_ci": [eff.get("ci_low"), eff.get("ci_high")],
                "dz": eff.get("dz"), "dz_ci": eff.get("dz_ci"), "p_steer": eff.get("p_value"),
                "relative_efficacy": rel.get("estimate"), "relative_efficacy_ci": [rel.get("low"), rel.get("high")],
                "relative_efficacy_unstable": rel.get("unstable"),
                "p_tost": tost.get("p_tost"), "p_tost_holm_unit": tost.get("p_tost_holm"),
                "p_tost_holm_audit": f.get("p_tost_holm_audit"), "power": tost.get("power"),
                "underpowered": bool(tost.get("underpowered")), "margin_dz": tost.get("margin_dz"),
                "ci90": tost.get("ci90"), "low": tost.get("low"), "high": tost.get("high"),
                "fraction_pass": (f.get("fraction_pass") or {}).get("estimate"),
                "fraction_pass_ci": [(f.get("fraction_pass") or {}).get("low"), (f.get("fraction_pass") or {}).get("high")],
                "verdict": f.get("verdict_audit", f.get("verdict")), "verdict_unit": f.get("verdict"),
                "margin_rel": (f.get("tost_relative") or {}).get("margin"),
                "p_relative": (f.get("tost_relative") or {}).get("p_tost"),
                "p_relative_holm_audit": f.get("p_relative_holm_audit"),
                "verdict_relative": f.get("verdict_relative_audit", f.get("verdict_relative")),
                **_headline(null),
                "unit_id": u["unit_id"],
            })
    return rows


def run_provenance(config: AuditConfig, model_info: dict[str, Any]) -> dict[str, Any]:
    """Versions, model hash, seed and machine — without timestamps (those go to provenance.json)."""
    from importlib.metadata import PackageNotFoundError, version

    from steerid.provenance import machine

    versions: dict[str, str | None] = {}
    for package in ("torch", "transformers", "numpy", "scipy", "scikit-learn", "pandas", "pyarrow", "ray",
                    "sentence-transformers", "vaderSentiment", "matplotlib", "jinja2"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    facts = machine()
    facts["torch_threads"] = str(config.threads)  # what every unit ran with (the driver's own count may differ)
    return {"steerid_version": __version__, "versions": versions, "model_weights_hash": model_info.get("weights_hash"),
            "model_spec": model_info.get("spec"), "seed": config.seed, "config_hash": config.config_hash(),
            "decode": decode_provenance(config), "machine": facts}


def decode_provenance(config: AuditConfig) -> dict[str, Any]:
    """Which dtype generation ran in (the resolved ``decode_dtype``) and why."""
    from steerid.decode import choose_dtype, native_bf16

    requested = config.decode_dtype
    resolved = config.dtype if requested == "model" else str(choose_dtype(requested, "cpu")).removeprefix("torch.")
    return {"requested": requested, "resolved": resolved, "native_bf16": native_bf16("cpu"),
            "device": "cpu", "engine": "steerid.decode (model.generate for unsupported families)"}


def sequential_summary(units: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Looks, stopping n per sequential unit and the average sample number over them (None if none ran)."""
    rows = []
    for u in units:
        seq = (u.get("result") or {}).get("sequential") if u.get("status") == "ok" else None
        if seq:
            rows.append({"unit_id": u["unit_id"], "trait": u["trait"], "experiment": u["experiment"],
                         "looks": seq["looks"], "stopping_n": seq["stopping_n"], "n_available": seq.get("n_available"),
                         "stopped_early": seq["stopped_early"], "n_planned": seq.get("n_planned")})
    if not rows:
        return None
    return {"units": rows, "average_sample_number": float(sum(r["stopping_n"] for r in rows) / len(rows)),
            "max_n": float(sum(r["looks"][-1] for r in rows) / len(rows))}


def build_results(config: AuditConfig, model_info: dict[str, Any], unit_results: list[dict[str, Any]],
                  unavailable: list[dict[str, Any]]) -> dict[str, Any]:
    """The content of ``results.json`` (deterministic: no timings, no timestamps)."""
    units = copy.deepcopy(unit_results)
    holm_info = audit_holm(units, config.test_alpha)
    traits = config.traits if isinstance(config.traits, list) else []
    return {
        "schema_version": SCHEMA_VERSION,
        "steerid_version": __version__,
        "config_hash": config.config_hash(),
        "config": config.to_dict(),
        "model": model_info,
        "provenance": run_provenance(config, model_info),
        "scorers": scorer_summary(traits),
        "multiple_testing": holm_info,
        "summary": summary_rows(units),
        "answers": trait_answers(units),
        "sequential": sequential_summary(units),
        "units": units,
        "unavailable": unavailable,
    }


# --------------------------------------------------------------------------------------------
# parquet: one row per unit × condition × measure (efficacy) plus one per equivalence family
# --------------------------------------------------------------------------------------------

_COLUMNS = ["unit_id", "experiment", "trait", "layer", "method", "alpha_rel", "environment", "row_kind", "measure",
            "condition", "n", "mean_shift", "ci_low", "ci_high", "dz", "p_value", "steers", "sign", "rho",
            "p_tost", "p_tost_holm", "p_tost_holm_audit", "ci90_low", "ci90_high", "margin_low", "margin_high",
            "power", "relative_efficacy", "relative_efficacy_low", "relative_efficacy_high", "verdict",
            "margin_rel", "p_relative", "p_relative_holm_audit", "verdict_relative"]


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def table_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
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
                                 "steers": bool(eff.get("steers"))})
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


def write_parquet(results: dict[str, Any], path) -> None:
    import pandas as pd

    from steerid.io import atomic_write_with

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
