"""Finalisation: from finished units to ``results.json`` (the parquet via :mod:`~steerid.audit.tables`).

What goes into ``results.json`` is a pure function of the checkpointed unit results (read back through JSON) and
the resolved config, so a resumed run writes byte-identical files to an uninterrupted one:
no timings, timestamps or paths that change between runs go into ``results.json``.

Strict JSON (schema 2): any JSON reader (a browser's ``JSON.parse``) reads the file. A NaN or ±inf
(an undefined ratio, a CI without bounds) is written as ``null``, and the top-level ``non_finite``
object maps its JSON Pointer to ``"NaN"`` / ``"Infinity"`` / ``"-Infinity"``;
:func:`steerid.io.restore_non_finite` gives Python readers the floats back. Schema 1 files (bare
``NaN``) are still read.

Multiplicity. Each E1-style unit (generation ``e1`` and ``likelihood``) already Holm-adjusts its
own family-level TOSTs (signs × ρ) — ``p_tost_holm``. Across the audit, every family-level TOST
of every such unit (traits × layers × methods × α × environments × signs × ρ, both routes) forms
one family for a second Holm adjustment, stored beside the first as ``p_tost_holm_audit`` with the
verdict it implies, ``verdict_audit``. The summary and the report's headline use the audit-level
verdict.
"""

from __future__ import annotations

import copy
import json
import math
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from steerid import __version__
from steerid.answers import ROUTES, trait_answers
from steerid.claims import paper_claims
from steerid.audit.checkpoint import Checkpoint
from steerid.audit.config import AuditConfig
from steerid.audit.grid import Unit
from steerid.audit.tables import E1_ROUTES, write_parquet
from steerid.audit.trait_records import card_entry, trait_records
from steerid.errors import ScorerError
from steerid.experiments.analysis import verdict, verdict_relative
from steerid.experiments.measures import DEFAULT_OFF_TARGET, OFF_TARGET
from steerid.io import atomic_write_json, atomic_write_text, strict_json_text
from steerid.provenance import machine, utc_now
from steerid.report import render_report
from steerid.scorers.base import load_card
from steerid.scorers.registry import scorers_for_trait
from steerid.stats import holm

SCHEMA_VERSION = 2
"""2: strict JSON (a non-finite float is ``null``, listed under ``non_finite``); 1 wrote bare NaN/Infinity."""
ROUTE_NAMES = ROUTES


def _families(unit: dict[str, Any]) -> list[dict[str, Any]]:
    if unit.get("experiment") in E1_ROUTES and unit.get("status") == "ok":
        return unit["result"].get("families", [])
    return []


def audit_holm(units: list[dict[str, Any]], level: float) -> dict[str, Any]:
    """Holm across every family-level TOST of the audit; writes ``p_tost_holm_audit`` / ``verdict_audit``,
    and — as a second, separate family — across every relative-margin test (``p_relative_holm_audit`` /
    ``verdict_relative_audit``)."""
    families = [f for u in units for f in _families(u)]
    relative = [f for f in families if f.get("tost_relative")]
    if relative:
        for family, p in zip(relative, holm([f["tost_relative"]["p_tost"] for f in relative], alpha=level).p_adjusted):
            family["p_relative_holm_audit"] = float(p)
            family["verdict_relative_audit"] = verdict_relative(family["steers"], family["tost_relative"], float(p), level)
    pvalues = [f["tost"]["p_tost"] for f in families]
    finite = [p for p in pvalues if isinstance(p, (int, float)) and math.isfinite(p)]
    if not families:
        return {"method": "holm", "level": level, "n_tests": 0}
    adjusted = holm(pvalues, alpha=level).p_adjusted
    for family, p in zip(families, adjusted):
        p = float(p)
        family["p_tost_holm_audit"] = p
        family["verdict_audit"] = verdict(family["steers"], family["tost"], p, level) if math.isfinite(p) else \
            "inconclusive"
    return {"method": "holm", "level": level, "n_tests": len(finite), "n_relative_tests": len(relative),
            "scope": "every family-level TOST of the e1 and likelihood units (traits × layers × methods × α × "
                     "environments × signs × ρ); the relative-margin tests are a second family, adjusted alike"}


def scorer_summary(traits: list[str], custom_cards: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Validation cards (accuracy, target, meets_target) of the scorers the audit's measures use.

    ``custom_cards`` (trait → card of the scorer that replaced its registered ones, from
    :func:`~steerid.audit.trait_records.trait_records`) come from the scorer itself, not the
    packaged cards; such a trait's off-target scorer is still listed.
    """
    custom_cards = custom_cards or {}
    names: list[str] = []
    for trait in traits:
        off = OFF_TARGET.get(trait, DEFAULT_OFF_TARGET)
        if trait in custom_cards:
            names.extend(n for n in [off] if n not in names)
            continue
        try:
            wanted = [*scorers_for_trait(trait), off]
        except ScorerError:  # a trait without scorers is reported (no card), not fatal here
            continue
        names.extend(n for n in wanted if n not in names)
    out: dict[str, Any] = {name: card_entry(name, load_card(name)) for name in names}
    for card in custom_cards.values():
        out[card["name"]] = card_entry(card["name"], card)
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
                # the per-draw decisions under the equivalence plan (family-wise over the unit's tries)
                "draws_equivalent_corrected": (f.get("claim") or {}).get("n_equivalent"),
                "draws_not_equivalent_corrected": (f.get("claim") or {}).get("n_not_equivalent"),
                "draws_undecided_corrected": (f.get("claim") or {}).get("n_undecided"),
                "family_size": (f.get("claim") or {}).get("family_size"),
                "correction": (f.get("claim") or {}).get("correction"),
                **_headline(null),
                **_steerability_columns(f.get("steerability")),
                "unit_id": u["unit_id"],
            })
    return rows


def _steerability_columns(record: dict[str, Any] | None) -> dict[str, Any]:
    """Summary columns of a family's per-input steerability (:mod:`steerid.stats.steerability`)."""
    if not record:
        return {"anti_steerable": None, "anti_steerable_ci": [None, None], "anti_steerable_noise": None,
                "steerability_kappa": None}
    frac = record["v"]["fraction_anti"]
    return {"anti_steerable": frac["estimate"], "anti_steerable_ci": [frac["ci_low"], frac["ci_high"]],
            "anti_steerable_noise": (record["v"].get("noise") or {}).get("expected_fraction_anti"),
            "steerability_kappa": record.get("median_kappa")}


def run_provenance(config: AuditConfig, model_info: dict[str, Any], traits: dict[str, Any] | None = None,
                   units: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Versions, model and trait hashes, seed and machine — without timestamps (those go to provenance.json).

    ``units`` (the unit results) give the decode dtype the workers recorded (:func:`decode_provenance`).

    ``traits`` (from :func:`~steerid.audit.trait_records.trait_records`) adds
    ``traits: {name: {source, content_hash, builtin, derived}}``.
    """
    versions: dict[str, str | None] = {}
    for package in ("torch", "transformers", "numpy", "scipy", "scikit-learn", "pandas", "pyarrow", "ray",
                    "sentence-transformers", "vaderSentiment", "matplotlib", "jinja2"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    facts = machine()
    facts.pop("torch", None)  # the torch version is listed once, under "versions"
    facts["torch_threads"] = str(config.threads)  # what every unit ran with (the driver's own count may differ)
    return {"steerid_version": __version__, "versions": versions, "model_weights_hash": model_info.get("weights_hash"),
            "model_spec": model_info.get("spec"), "seed": config.seed, "config_hash": config.config_hash(),
            "device": model_info.get("device", "cpu"), "dtype": model_info.get("dtype"),
            "decode": decode_provenance(config, units or []), "machine": facts,
            "traits": {name: {k: r.get(k) for k in ("source", "content_hash", "builtin", "derived")}
                       for name, r in (traits or {}).items()}}


def decode_provenance(config: AuditConfig, units: list[dict[str, Any]]) -> dict[str, Any]:
    """Which dtype decoding ran in, as the workers recorded it per unit (``unit["decode"]``), and on which device.

    One record when every decoding unit agrees; otherwise ``resolved`` is ``"mixed"`` and ``per_unit``
    lists each unit's (machines of a Ray cluster can differ). ``resolved`` is None when no unit decoded.
    """
    records = {u["unit_id"]: u["decode"] for u in units if isinstance(u.get("decode"), dict)}
    distinct = {json.dumps(r, sort_keys=True) for r in records.values()}
    out: dict[str, Any] = {"requested": config.decode_dtype, "resolved": None, "native_bf16": None, "device": None,
                           "engine": "steerid.engine.decode (model.generate for unsupported families)"}
    if len(distinct) == 1:
        out.update(next(iter(records.values())))
    elif distinct:
        out.update(resolved="mixed", per_unit=records)
    return out


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
                  unavailable: list[dict[str, Any]], run_dir: Path | None = None) -> dict[str, Any]:
    """The content of ``results.json`` (deterministic: no timings, no timestamps).

    ``run_dir`` is where custom scorers were cached (``RUN/scorers/``); without it their cards
    are not read.
    """
    units = copy.deepcopy(unit_results)
    holm_info = audit_holm(units, config.plan.level)
    traits = config.traits if isinstance(config.traits, list) else []
    records, custom_cards = trait_records(config, run_dir)
    results = {
        "schema_version": SCHEMA_VERSION,
        "steerid_version": __version__,
        "config_hash": config.config_hash(),
        "config": config.to_dict(),
        "model": model_info,
        "provenance": run_provenance(config, model_info, records, units),
        "traits": records,
        "scorers": scorer_summary(traits, custom_cards),
        "equivalence_plan": config.plan.to_dict(),
        "multiple_testing": holm_info,
        "summary": summary_rows(units),
        "answers": trait_answers(units),
        "sequential": sequential_summary(units),
        "units": units,
        "unavailable": unavailable,
    }
    results["claims"] = paper_claims(results)  # the paper's six claims, read from everything above
    return results


def provenance_record(config: AuditConfig, model_info: dict[str, Any], traits: dict[str, Any] | None = None,
                      units: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``provenance.json``: :func:`run_provenance` plus what changes between runs (host, time, interpreter)."""
    return {**run_provenance(config, model_info, traits, units), "model": model_info, "python_executable": sys.executable,
            "host": platform.node(), "written_at": utc_now()}


def finalize(run_dir: Path, config: AuditConfig, model_info: dict[str, Any], units: list[Unit],
             checkpoint: Checkpoint, unavailable: list[dict[str, Any]],
             render: bool = True) -> tuple[Path, Path, list[dict[str, Any]]]:
    """Write results.json, results.parquet, provenance.json and report.html from the checkpoint.

    Returns ``(results_path, report_path, summary rows)``; every file is written atomically.
    """
    finished = [checkpoint.results[u.id] for u in units if u.id in checkpoint]
    results = build_results(config, model_info, finished, unavailable, run_dir=run_dir)
    results_path = run_dir / "results.json"
    text = strict_json_text(results, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write_text(results_path, text)
    write_parquet(results, run_dir / "results.parquet")
    atomic_write_json(run_dir / "provenance.json", provenance_record(config, model_info, results["traits"], results["units"]))
    if render:
        render_report(run_dir)
    return results_path, run_dir / "report.html", results["summary"]
