"""``steerid audit``: config → grid of units → checkpointed, resumable execution → results → report.

Run directory layout (``--out RUN``)::

    RUN/config.yaml          the resolved config (written first; a different config is refused)
    RUN/checkpoint.jsonl     one checksummed line per finished unit (append-only, fsync'ed)
    RUN/vectors/*.safetensors  extracted vectors (deterministic)
    RUN/results.json         every unit's result + audit-level Holm + summary (no timings)
    RUN/results.parquet      one row per unit × condition × measure (+ equivalence rows)
    RUN/provenance.json      versions, model hash, seed, machine
    RUN/timings.json         wall time per unit (kept out of results.json)
    RUN/report.html          the self-contained report
    RUN/.steerid.lock        held while an audit runs

Kill it at any moment and run the same command again: finished units are skipped, a torn last
checkpoint line is dropped and its unit redone, and the final files are byte-identical to an
uninterrupted run's. Executors: ``local`` (this process) or ``ray`` (units as Ray tasks, one model
load per Ray worker); both give identical results because each unit depends only on its spec
(fixed torch threads, seeds from the audit seed and the unit id).

Example:
    >>> from steerid.audit import run_audit
    >>> from steerid.audit_config import build_config
    >>> outcome = run_audit(build_config("smoke"), "runs/smoke")   # doctest: +SKIP
    >>> outcome.report_path                                         # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from steerid.audit_checkpoint import CHECKPOINT, LOCK, Checkpoint, RunLock
from steerid.audit_config import AuditConfig, resolve, validate_config
from steerid.audit_units import Unit, expand_grid
from steerid.errors import ConfigError, OutputError
from steerid.io import atomic_write_json, atomic_write_text, sha256_file

log = logging.getLogger(__name__)

RUN_FILES = ("config.yaml", CHECKPOINT, "results.json", "results.parquet", "provenance.json", "timings.json",
             "report.html")
RUN_DIRS = ("vectors",)


@dataclass
class AuditOutcome:
    """What an audit produced."""

    run_dir: Path
    results_path: Path
    report_path: Path
    n_units: int
    n_run: int
    n_skipped: int
    n_unavailable: int
    wall_seconds: float
    summary: list[dict[str, Any]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# run directory
# --------------------------------------------------------------------------------------------


def _prepare_dir(out: Path) -> Path:
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out '{out}' exists and is not a directory", "choose a new directory path for --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create run directory '{out}' ({exc.strerror})", "choose a writable --out") from exc
    probe = out / ".steerid-write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"run directory '{out}' is not writable ({exc.strerror})", "choose a writable --out") from exc
    return out


def _is_run_dir(out: Path) -> bool:
    return (out / "config.yaml").exists()


def _check_foreign(out: Path) -> None:
    """Refuse a non-empty directory that is not a steerid run (we never write into or clear those)."""
    ours = set(RUN_FILES) | set(RUN_DIRS) | {LOCK}
    foreign = [p.name for p in out.iterdir() if p.name not in ours and not p.name.startswith(".")]
    if foreign and not _is_run_dir(out):
        raise OutputError(f"'{out}' is not empty and is not a steerid run directory (holds {foreign[0]!r})",
                          "choose a new or empty directory for --out")


def _clear(out: Path) -> None:
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for name in RUN_DIRS:
        shutil.rmtree(out / name, ignore_errors=True)


def _diff_keys(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            keys.extend(_diff_keys(va, vb, f"{prefix}{key}."))
        elif va != vb:
            keys.append(prefix + key)
    return keys


def _check_existing_config(out: Path, config: AuditConfig, force: bool) -> None:
    path = out / "config.yaml"
    if not path.exists():
        return
    try:
        old = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        old_config = validate_config(old, f"{path}")
    except (yaml.YAMLError, UnicodeDecodeError, ConfigError) as exc:
        if force:
            return
        raise ConfigError(f"{path} is unreadable or from another steerid version ({exc})",
                          "use another --out, or --force to start over") from exc
    if old_config.config_hash() == config.config_hash():
        return
    if force:
        return
    changed = _diff_keys(old_config.to_dict(), config.to_dict())
    raise ConfigError(f"{out} holds an audit with a different config (changed: {', '.join(changed[:6])})",
                      "use another --out, or add --force to discard it and start over")


# --------------------------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------------------------


class Reporter:
    """Progress display: rich bars (overall + current unit with ETA) or, with ``quiet``, log lines."""

    def __init__(self, units: list[Unit], quiet: bool, console: Any = None) -> None:
        self.units = units
        self.quiet = quiet
        self.total_cost = sum(u.cost for u in units) or 1.0
        self.done_cost = 0.0
        self.done_seconds = 0.0
        self.n_done = 0
        self.start = time.perf_counter()
        self.progress = None
        self.console = console
        self._unit_task = None

    def __enter__(self) -> "Reporter":
        if not self.quiet and self.units:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                                       TimeElapsedColumn)
            from rich.text import Text

            class EtaColumn(ProgressColumn):
                def render(self, task):  # type: ignore[override]
                    estimate = task.fields.get("estimate")
                    if estimate is None:
                        return Text("eta ?", style="progress.remaining")
                    remaining = max(0.0, estimate - (task.elapsed or 0.0))
                    return Text(f"eta ~{int(remaining) // 60}:{int(remaining) % 60:02d}", style="progress.remaining")

            console = self.console or Console(stderr=True)
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), EtaColumn(),
                                     console=console, transient=False, redirect_stdout=False, redirect_stderr=False)
            self.progress.__enter__()
            self._overall = self.progress.add_task("audit", total=len(self.units), estimate=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(None, None, None)

    def _estimate(self, unit: Unit) -> float | None:
        if self.done_cost <= 0:
            return None
        return unit.cost * self.done_seconds / self.done_cost

    def _overall_estimate(self) -> float | None:
        if self.done_cost <= 0:
            return None
        return (time.perf_counter() - self.start) * self.total_cost / self.done_cost

    def started(self, unit: Unit, index: int) -> Callable[[str], None]:
        if self.progress is None:
            return lambda _stage: None
        if self._unit_task is not None:
            self.progress.remove_task(self._unit_task)
        stages = ["model", "vector", "experiment", "done"]
        self._unit_task = self.progress.add_task(f"  {unit.label}", total=len(stages), estimate=self._estimate(unit))

        def step(stage: str) -> None:
            if stage in stages and self.progress is not None and self._unit_task is not None:
                self.progress.update(self._unit_task, completed=stages.index(stage) + 1,
                                     description=f"  {unit.label} [{stage}]")

        return step

    def finished(self, unit: Unit, seconds: float, status: str) -> None:
        self.n_done += 1
        self.done_cost += unit.cost
        self.done_seconds += seconds
        if self.progress is not None:
            self.progress.update(self._overall, advance=1, estimate=self._overall_estimate())
        else:
            note = "" if status == "ok" else f" ({status})"
            print(f"steerid: [{self.n_done}/{len(self.units)}] {unit.label}: {seconds:.1f} s{note}",
                  file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# executors
# --------------------------------------------------------------------------------------------


def _run_local(config: AuditConfig, run_dir: Path, units: list[Unit], sink: Callable[[Unit, dict, float, float], None],
               reporter: Reporter) -> None:
    from steerid.audit_worker import get_worker

    worker = get_worker(config, run_dir)
    for index, unit in enumerate(units):
        step = reporter.started(unit, index)
        start, cpu = time.perf_counter(), time.process_time()
        result = worker.run_unit(unit, step)
        sink(unit, result, time.perf_counter() - start, time.process_time() - cpu)


def _ray_execute(config_data: dict[str, Any], run_dir: str, unit: Unit) -> tuple[dict[str, Any], float, float]:
    """Body of a Ray task: this worker process's cached :class:`Worker` runs the unit."""
    import logging as _logging

    from steerid.audit_worker import get_worker

    _logging.getLogger("transformers").setLevel(_logging.ERROR)
    config = AuditConfig.model_validate(config_data)
    start, cpu = time.perf_counter(), time.process_time()
    result = get_worker(config, Path(run_dir)).run_unit(unit)
    return result, time.perf_counter() - start, time.process_time() - cpu


def _run_ray(config: AuditConfig, run_dir: Path, units: list[Unit], sink: Callable[[Unit, dict, float, float], None],
             reporter: Reporter, address: str | None) -> None:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray is a dependency
        raise ConfigError("the ray executor needs the 'ray' package", "pip install ray, or use --executor local") from exc
    started = False
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")
        try:
            if address:
                ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
            else:
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"at {address}" if address else "locally"
            raise OutputError(f"could not start or join a Ray runtime {where} ({str(exc).splitlines()[0][:160]})",
                              "check --ray-address (e.g. ray://host:10001 or auto), or use --executor local") from exc
        started = True
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(num_cpus=min(config.threads, cpus), max_retries=0)(_ray_execute)
        config_data = config.to_dict()
        pending = {remote.remote(config_data, str(run_dir.resolve()), unit): unit for unit in units}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                unit = pending.pop(ref)
                try:
                    result, seconds, cpu_seconds = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.as_instanceof_cause()
                    from steerid.errors import SteerIdError

                    if isinstance(cause, SteerIdError):
                        raise cause from None
                    raise
                sink(unit, result, seconds, cpu_seconds)
    finally:
        if started:
            ray.shutdown()


# --------------------------------------------------------------------------------------------
# the audit
# --------------------------------------------------------------------------------------------


def _provenance(config: AuditConfig, model_info: dict[str, Any]) -> dict[str, Any]:
    from steerid.audit_results import run_provenance
    from steerid.provenance import utc_now

    return {**run_provenance(config, model_info), "model": model_info, "python_executable": sys.executable,
            "host": platform.node(), "written_at": utc_now()}


def _check_traits(config: AuditConfig) -> None:
    """Fail fast (before touching --out or loading the model) on unknown trait names."""
    if isinstance(config.traits, list):
        from steerid.audit_config import resolve as _resolve
        from steerid.traits import list_traits

        _resolve(config, n_layers=10**6, available_traits=list_traits())


def load_and_resolve(config: AuditConfig) -> tuple[AuditConfig, dict[str, Any], str | None]:
    """Load the model (cached per process) and resolve the config against it."""
    from steerid.audit_worker import load_cached_model
    from steerid.traits import list_traits

    lm = load_cached_model(config.model, config.dtype, config.seed)
    vector_sha = None
    if config.vector is not None:
        from steerid.vector import SteeringVector

        vector = SteeringVector.load(config.vector)
        vector.check_compatible(lm.info)
        site = vector.site
        site.check(lm.info.n_layers)
        trait = config.vector_trait or vector.provenance.trait
        if trait not in list_traits():
            raise ConfigError(f"the vector's trait '{trait}' is not a built-in trait, so there is nothing to score it with",
                              f"pass --trait with one of: {', '.join(list_traits())}")
        vector_sha = sha256_file(config.vector)
        config = config.model_copy(update={"vector": str(Path(config.vector).resolve()), "vector_trait": trait,
                                           "traits": [trait], "layers": [site.layer], "point": site.point,
                                           "methods": [vector.provenance.method or "given"]})
    resolved = resolve(config, n_layers=lm.info.n_layers, available_traits=list_traits())
    return resolved, lm.info.to_dict(), vector_sha


def run_audit(config: AuditConfig, out: str | Path, *, executor: str = "local", ray_address: str | None = None,
              force: bool = False, quiet: bool = False, console: Any = None, render: bool = True) -> AuditOutcome:
    """Run (or resume) an audit into ``out`` and write its results and report.

    Raises:
        ConfigError: invalid or changed config (without ``force``).
        OutputError: unusable output directory, or another audit holds its lock.
    """
    if executor not in ("local", "ray"):
        raise ConfigError(f"unknown executor '{executor}'", "use --executor local or --executor ray")
    wall = time.perf_counter()
    _check_traits(config)
    created = not Path(out).expanduser().exists()
    run_dir = _prepare_dir(Path(out))
    with RunLock(run_dir):
        _check_foreign(run_dir)
        try:
            resolved, model_info, vector_sha = load_and_resolve(config)
            _check_existing_config(run_dir, resolved, force)
        except BaseException:
            if created:  # nothing of this run exists yet: leave no empty run directory behind
                (run_dir / LOCK).unlink(missing_ok=True)
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        if force:
            _clear(run_dir)
        if not (run_dir / "config.yaml").exists():
            atomic_write_text(run_dir / "config.yaml", resolved.to_yaml())
        units = expand_grid(resolved, weights_hash=model_info["weights_hash"], vector_sha256=vector_sha)
        checkpoint = Checkpoint(run_dir)
        todo = [u for u in units if u.id not in checkpoint]
        timings_path = run_dir / "timings.json"
        timings = _read_json(timings_path) or {"units": {}}
        unavailable: dict[str, dict[str, Any]] = {}

        def sink(unit: Unit, result: dict[str, Any], seconds: float, cpu_seconds: float) -> None:
            status = result.get("status", "ok")
            if status in ("ok", "error"):  # both are deterministic outcomes of the unit's spec
                checkpoint.append(unit.id, result)
            else:
                unavailable[unit.id] = {**unit.header(), "status": status, "reason": result.get("reason")}
            timings["units"][unit.id] = {"label": unit.label, "seconds": round(seconds, 3),
                                         "cpu_seconds": round(cpu_seconds, 3)}
            atomic_write_json(timings_path, timings)
            reporter.finished(unit, seconds, status)

        if checkpoint.dropped and not quiet:
            print(f"steerid: dropped {checkpoint.dropped} torn checkpoint line; its unit runs again", file=sys.stderr)
        reporter = Reporter(todo, quiet, console)
        with reporter:
            if todo:
                if executor == "ray":
                    _run_ray(resolved, run_dir, todo, sink, reporter, ray_address)
                else:
                    _run_local(resolved, run_dir, todo, sink, reporter)

        results_path, report_path, summary = finalize(run_dir, resolved, model_info, units, checkpoint,
                                                      list(unavailable.values()), render=render)
        elapsed = time.perf_counter() - wall
        timings["last_run"] = {"wall_seconds": round(elapsed, 2), "cpu_seconds": round(time.process_time(), 2),
                               "units_run": len(todo), "units_skipped": len(units) - len(todo), "executor": executor,
                               "load_average": [round(x, 2) for x in os.getloadavg()]}
        atomic_write_json(timings_path, timings)
        return AuditOutcome(run_dir=run_dir, results_path=results_path, report_path=report_path, n_units=len(units),
                            n_run=len(todo), n_skipped=len(units) - len(todo), n_unavailable=len(unavailable),
                            wall_seconds=elapsed, summary=summary)


def _read_json(path: Path) -> Any:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def finalize(run_dir: Path, config: AuditConfig, model_info: dict[str, Any], units: list[Unit],
             checkpoint: Checkpoint, unavailable: list[dict[str, Any]], render: bool = True) -> tuple[Path, Path, list]:
    """Write results.json, results.parquet, provenance.json and report.html from the checkpoint."""
    from steerid.audit_results import build_results, write_parquet

    finished = [checkpoint.results[u.id] for u in units if u.id in checkpoint]
    results = build_results(config, model_info, finished, unavailable)
    results_path = run_dir / "results.json"
    text = json.dumps(results, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=True) + "\n"
    atomic_write_text(results_path, text)
    write_parquet(results, run_dir / "results.parquet")
    atomic_write_json(run_dir / "provenance.json", _provenance(config, model_info))
    report_path = run_dir / "report.html"
    if render:
        from steerid.report import render_report

        render_report(run_dir)
    return results_path, report_path, results["summary"]


def summary_table_rows(summary: Iterable[dict[str, Any]]) -> list[list[str]]:
    """Compact text rows of the summary (for the CLI)."""
    def fmt(x: Any, digits: int = 2) -> str:
        return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"

    rows = []
    for r in summary:
        rel = r.get("relative_efficacy")
        lo, hi = r.get("relative_efficacy_ci") or [None, None]
        route = "lik" if r["route"] == "likelihood" else "gen"
        cell = f"{route} α={r['alpha_rel']:g} ρ={r['rho']:g}"
        if r["route"] != "likelihood":
            cell += f" {r['environment'][:5]}"
        rows.append([r["trait"], cell, r["sign"], f"{'yes' if r['steers'] else 'no'} {fmt(r.get('dz'))}",
                     f"{fmt(rel)} [{fmt(lo)}, {fmt(hi)}]", r["verdict"], fmt(r.get("p_tost_holm_audit"), 3),
                     fmt(r.get("power")),
                     "—" if r.get("verdict_relative") is None else
                     f"{r['verdict_relative']} ({fmt(r.get('p_relative_holm_audit'), 3)})",
                     ("≤" if r.get("null_space_kind") == "upper_bound" else "") + fmt(r.get("null_space_fraction"), 3)])
    return rows


SUMMARY_HEADER = ["trait", "cell", "sign", "steers (d_z)", "rel. eff. v+v⊥ [95% CI]", "verdict (d_z)", "p Holm", "power",
                  "verdict ±ε of v (p Holm)", "null frac"]
