"""``steerid audit``, ``steerid identify`` and ``steerid report``.

The audit machinery is imported inside each command (its model stack costs ~5 s to import; a
config error must fail at once, and ``--help`` must not pay for it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich import box

from steerid.cli.common import (DTYPE_ALIASES, DTYPES, EXECUTORS, IDENTIFY_EXPERIMENTS, DeviceOpt, ModelArg, app,
                                check_alpha, choice, choice_option, comma_list, console, err_console, metavar,
                                new_table, quiet_libraries)
from steerid.errors import VectorError

ExecutorOpt = Annotated[str, choice_option("--executor", "executor", EXECUTORS,
                                           "local (this process) or ray (units as Ray tasks)",
                                           fix="use --executor local or --executor ray")]
RayAddressOpt = Annotated[Optional[str], typer.Option("--ray-address", help="join this Ray cluster (e.g. auto or ray://host:10001) instead of starting a local one")]
AuditDtypeOpt = Annotated[Optional[str], typer.Option(
    "--dtype", parser=choice("dtype", DTYPES, aliases=DTYPE_ALIASES, fix="use --dtype auto, float32 or bfloat16"),
    metavar=metavar(DTYPES), help="model dtype (default: the profile's); auto = bfloat16 on CUDA, float32 on the CPU")]
ScorerOpt = Annotated[Optional[str], typer.Option(
    "--scorer", help="hf:PATH (a local HF text classifier; needs --label-map) or a registered scorer name; default: "
                     "the built-in trait's scorer, or a head auto-trained on a trait directory's pairs")]
LabelMapOpt = Annotated[Optional[str], typer.Option(
    "--label-map", help="which labels of an hf: classifier are the trait's poles, e.g. pos=LABEL_1,neg=LABEL_0")]
ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
OPTION_SOURCES = {"model": "the MODEL argument", "traits": "--traits", "dtype": "--dtype", "scorer": "--scorer",
                  "label_map": "--label-map", "experiments": "--experiments", "vector": "--vector",
                  "vector_trait": "--trait", "alphas_rel": "--alpha"}
"""Which option set each config override (an invalid value is blamed on it, not on the config file)."""
LEFT = ("trait", "cell", "verdict (d_z)", "verdict ±ε of v (p Holm)", "sign")


def _print_answers(results_path: Path) -> None:
    """The report's answer-first sentences, one per trait and route."""
    try:
        answers = json.loads(Path(results_path).read_text(encoding="utf-8")).get("answers") or []
    except (OSError, json.JSONDecodeError) as exc:
        print(f"steerid: could not read the answers from {results_path}: {exc}", file=sys.stderr)
        return
    for answer in answers:
        print(f"[{answer['kind']}] {answer['text']}")
    _print_claims(results_path)


def _print_claims(results_path: Path) -> None:
    """The paper's claims, one line each: verdict, reason, test, effect [CI], n (results.json ``claims``)."""
    try:
        claims = json.loads(Path(results_path).read_text(encoding="utf-8")).get("claims") or []
    except (OSError, json.JSONDecodeError) as exc:
        print(f"steerid: could not read the claims from {results_path}: {exc}", file=sys.stderr)
        return
    if claims:
        print("the paper's claims, checked for this model and vector:")
    for c in claims:
        where = " · ".join(str(x) for x in (c.get("trait"), c.get("route")) if x)
        if c["verdict"] == "not tested":
            print(f"  {c['claim_id']}. [{c['verdict']}] {c['claim']}{f' ({where})' if where else ''}: {c['reason']} "
                  f"— set {c['config_key']}")
            continue
        lo, hi = c.get("ci") or [None, None]
        fig = "" if c.get("effect") is None else (
            f"; effect {c['effect']:.3g}" + (f" [{lo:.3g}, {hi:.3g}]" if lo is not None and hi is not None else "")
            + (f", n {c['n']}" if c.get("n") is not None else ""))
        print(f"  {c['claim_id']}. [{c['verdict']}] {c['claim']}{f' ({where})' if where else ''}: {c['reason']}{fig}")


def _scorer_overrides(scorer: str | None, label_map: str | None) -> dict[str, Any]:
    """``--scorer`` / ``--label-map`` checked at once (one line, exit 2) and as config overrides."""
    from steerid.errors import ScorerError
    from steerid.traits.scoring import parse_label_map, parse_scorer_spec

    if label_map is not None and scorer is None:
        raise ScorerError("--label-map given without --scorer hf:PATH", "add --scorer hf:PATH or drop --label-map")
    if scorer is not None:
        kind, _ = parse_scorer_spec(scorer)
        if kind == "hf" and label_map is None:
            raise ScorerError(f"--scorer {scorer} needs --label-map", "add --label-map pos=LABEL_1,neg=LABEL_0 "
                              "with the model's label names")
        if kind != "hf" and label_map is not None:
            raise ScorerError("--label-map applies to hf: scorers only", "drop --label-map")
    if label_map is not None:
        parse_label_map(label_map)
    return {"scorer": scorer, "label_map": label_map}


def _print_outcome(outcome: Any, quiet: bool) -> None:
    from steerid.audit.tables import SUMMARY_HEADER, summary_table_rows

    if not quiet and outcome.summary:
        rows = summary_table_rows(outcome.summary)
        table = new_table("summary (TOST of v+v⊥ vs v; p Holm-adjusted across the audit)", SUMMARY_HEADER,
                          names=[r[0] for r in rows], left=LEFT, box=box.SIMPLE_HEAD)
        for row in rows:
            table.add_row(*row)
        console.print(table)  # piped: the console renders at the table's natural width (no folded cells)
        anti = [f"{r['trait']} {r['route']} {r['sign']} ρ={r['rho']:g}: {r['anti_steerable']:.2f}"
                + (f" (noise alone {r['anti_steerable_noise']:.2f})" if r.get("anti_steerable_noise") is not None else "")
                for r in outcome.summary if r.get("anti_steerable") is not None]
        if anti:
            print("anti-steerable inputs (s·v moves the measure the wrong way): " + "; ".join(anti))
    if not quiet:
        _print_answers(outcome.results_path)
    extra = f", {outcome.n_unavailable} unavailable" if outcome.n_unavailable else ""
    print(f"steerid: {outcome.n_run} unit(s) run, {outcome.n_skipped} already done{extra}, "
          f"{outcome.wall_seconds:.0f} s", file=sys.stderr)
    print(f"report: {outcome.report_path}")


@app.command()
def audit(
    model: ModelArg = "smollm2-135m",
    traits: Annotated[Optional[str], typer.Option("--traits", help="all, or a comma-separated list of built-in names "
                                                                   "and trait directories (default: the profile's)")] = None,
    scorer: ScorerOpt = None,
    label_map: LabelMapOpt = None,
    profile: Annotated[str, typer.Option("--profile", help="smoke, quick or paper")] = "quick",
    config: Annotated[Optional[Path], typer.Option("--config", help="YAML file overriding fields of the profile")] = None,
    out: Annotated[Path, typer.Option("--out", help="run directory (created; rerun the same command to resume)")] = Path("runs/audit"),
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    device: DeviceOpt = "auto",
    dtype: AuditDtypeOpt = None,
    force: Annotated[bool, typer.Option("--force", help="discard a previous run with a different config in --out")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="log lines instead of progress bars and tables")] = False,
) -> None:
    """Audit the identifiability of a model's steering vectors; resumable; writes an HTML report."""
    from steerid.audit import build_config, run_audit
    from steerid.audit.profiles import parse_traits

    quiet_libraries()
    cfg = build_config(profile, config, {"model": model, "traits": parse_traits(traits),
                                         "dtype": ALIASES.get(dtype, dtype) if dtype else None,
                                         **_scorer_overrides(scorer, label_map)}, sources=OPTION_SOURCES)
    outcome = run_audit(cfg, out, executor=executor, ray_address=ray_address, force=force, quiet=quiet,
                        console=err_console, device=device)
    _print_outcome(outcome, quiet)


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="an audit's --out directory")]) -> None:
    """Re-render RUN_DIR/report.html from RUN_DIR/results.json."""
    from steerid.report import render_report

    print(f"report: {render_report(run_dir)}")


@app.command()
def identify(
    model: ModelArg = "smollm2-135m",
    vector: Annotated[Path, typer.Option("--vector", help="your steerid .safetensors vector")] = Path("vector.safetensors"),
    experiments: Annotated[Optional[tuple], typer.Option(
        "--experiments", parser=comma_list("experiment", IDENTIFY_EXPERIMENTS,
                                           fix=f"use some of: {', '.join(IDENTIFY_EXPERIMENTS)} "
                                               "(e5 compares extraction methods)"),
        metavar="E1,E2,...", help=f"comma-separated, some of: {', '.join(IDENTIFY_EXPERIMENTS)} (default: the "
                                  "--config file's experiments, else e1, likelihood, e4, e6)")] = None,
    trait: Annotated[Optional[str], typer.Option("--trait", help="built-in trait or trait directory whose prompts and "
                                                                 "scorer to use (default: the vector's)")] = None,
    scorer: ScorerOpt = None,
    label_map: LabelMapOpt = None,
    profile: Annotated[str, typer.Option("--profile", help="sizes from this profile (smoke, quick, paper)")] = "quick",
    config: Annotated[Optional[Path], typer.Option("--config", help="YAML file overriding fields of the profile")] = None,
    alpha: Annotated[Optional[float], typer.Option("--alpha", help="relative strength α (default: the profile's)")] = None,
    out: Annotated[Path, typer.Option("--out", help="output directory (results.json, report.html)")] = Path("runs/identify"),
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    device: DeviceOpt = "auto",
    dtype: AuditDtypeOpt = None,
    force: Annotated[bool, typer.Option("--force")] = False,
    quiet: Annotated[bool, typer.Option("--quiet")] = False,
    export_class: Annotated[Optional[Path], typer.Option(
        "--export-class", help="also write the equivalence class here: exact-Fisher null-space bases and every "
                               "confirmed equivalent vector (one folder per trait)")] = None,
) -> None:
    """Audit your own vector: equivalence under orthogonal perturbations, logit distance, null space."""
    from steerid.audit import build_config, run_audit
    from steerid.audit.profiles import identify_experiments

    quiet_libraries()
    if not vector.is_file():
        raise VectorError(f"vector file '{vector}' does not exist", "check the --vector path")
    if alpha is not None:
        check_alpha(alpha)
    overrides = {"model": model, "experiments": identify_experiments(config, experiments), "vector": str(vector),
                 "vector_trait": trait,
                 "alphas_rel": [alpha] if alpha is not None else None,
                 "dtype": ALIASES.get(dtype, dtype) if dtype else None, **_scorer_overrides(scorer, label_map)}
    cfg = build_config(profile, config, overrides, sources=OPTION_SOURCES)
    outcome = run_audit(cfg, out, executor=executor, ray_address=ray_address, force=force, quiet=quiet,
                        console=err_console, device=device)
    _print_outcome(outcome, quiet)
    print(f"results: {outcome.results_path}")
    if export_class is not None:
        from steerid.audit.export_class import export_class as write_class

        index = write_class(outcome.results_path.parent, export_class)
        n = sum(len(t["equivalent"]) for t in index["traits"].values())
        print(f"equivalence class: {export_class} ({len(index['traits'])} trait(s), {n} equivalent vector(s))")
