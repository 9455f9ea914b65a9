"""``run_audit``: config → grid of units → checkpointed, resumable execution → results → report.

Order of work, chosen so that a user mistake costs nothing and leaves nothing behind:

1. unknown executor or trait names fail before ``--out`` is touched or the model loads;
2. ``--out`` is created (or checked), locked, and refused if it holds something else;
3. the model loads and the config is resolved against it (a run directory this call created is
   removed again if that fails);
4. a changed config is refused (unless ``force``); ``config.yaml`` is written; the units not yet
   in the checkpoint run, each appended to the checkpoint as it finishes;
5. ``results.json``, ``results.parquet``, ``provenance.json`` and ``report.html`` are (re)written
   from the checkpoint alone, so a resumed run's files equal an uninterrupted run's.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steerid.audit.checkpoint import (LOCK, Checkpoint, RunLock, check_existing_config, check_foreign,
                                      clear_run_files, prepare_run_dir)
from steerid.audit.config import AuditConfig, resolve
from steerid.audit.custom_traits import NO_TRAIT, is_trait_path, trait_free_config
from steerid.audit.grid import Unit, expand_grid
from steerid.audit.progress import Reporter
from steerid.errors import ConfigError
from steerid.io import atomic_write_json, atomic_write_text, sha256_file
from steerid.traits import list_traits

EXECUTORS = ("local", "ray")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class AuditOutcome:
    """What an audit produced (paths, unit counts, wall time and the summary rows of results.json)."""

    run_dir: Path
    results_path: Path
    report_path: Path
    n_units: int
    n_run: int
    n_skipped: int
    n_unavailable: int
    wall_seconds: float
    summary: list[dict[str, Any]] = field(default_factory=list)


def _check_traits(config: AuditConfig) -> None:
    """Fail fast (before touching --out or loading the model) on unknown trait names or unusable trait dirs."""
    if config.vector is not None:  # identify: the vector's trait replaces the profile's traits
        if config.vector_trait is None:
            return
        config = config.model_copy(update={"traits": [config.vector_trait]})
    if isinstance(config.traits, list) or config.scorer is not None:
        resolve(config, n_layers=10**6, available_traits=list_traits())


def load_and_resolve(config: AuditConfig, device: str = "cpu", lm: Any = None
                     ) -> tuple[AuditConfig, dict[str, Any], str | None]:
    """Load the model (cached per process, or ``lm`` as given) and resolve the config against it.

    Returns ``(resolved config, model info dict, sha256 of the given vector file or None)``.
    """
    # Deferred imports (measured): the model stack (torch, transformers, experiments) costs ~5 s of
    # imports, and a config error must fail at once (`import steerid.audit` takes 0.2 s).
    from steerid.audit.worker import load_cached_model, remember_model
    from steerid.vector import SteeringVector

    if lm is None:
        lm = load_cached_model(config.model, config.dtype, config.seed, device)
    else:  # the caller's model: the config names it, and this process's workers use it
        config = config.model_copy(update={"model": lm.info.spec, "dtype": lm.info.dtype})
        remember_model(lm, config.seed)
    vector_sha = None
    if config.vector is not None:
        vector = SteeringVector.load(config.vector)
        vector.check_compatible(lm.info)
        site = vector.site
        site.check(lm.info.n_layers)
        trait = config.vector_trait or vector.provenance.trait
        if config.vector_trait is None and trait in (None, "", "custom", NO_TRAIT):
            config, notice = trait_free_config(config)
            trait = NO_TRAIT
            print(notice, file=sys.stderr)
        elif trait not in list_traits() and not is_trait_path(trait):
            raise ConfigError(f"the vector's trait '{trait}' is not a built-in trait, so steerid has no prompts or "
                              "scorer for it", "pass --trait PATH/TO/TRAIT_DIR [--scorer hf:PATH --label-map "
                              f"pos=..,neg=..], or --trait with one of: {', '.join(list_traits())}")
        vector_sha = sha256_file(config.vector)
        config = config.model_copy(update={"vector": str(Path(config.vector).resolve()),
                                           "vector_trait": None if trait == NO_TRAIT else trait,
                                           "traits": [trait], "layers": [site.layer], "point": site.point,
                                           "methods": [vector.provenance.method or "given"]})
    resolved = resolve(config, n_layers=lm.info.n_layers, available_traits=list_traits(), dtype=lm.info.dtype)
    return resolved, lm.info.to_dict(), vector_sha


def run_audit(config: AuditConfig, out: str | Path, *, executor: str = "local", ray_address: str | None = None,
              force: bool = False, quiet: bool = False, console: Any = None, render: bool = True,
              device: str = "cpu", lm: Any = None) -> AuditOutcome:
    """Run (or resume) an audit into ``out`` and write its results and report.

    Args:
        config: the (unresolved) audit config, e.g. from :func:`steerid.audit.profiles.build_config`.
        out: run directory (created; run the same call again to resume).
        executor: ``local`` (this process) or ``ray`` (units as Ray tasks).
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``; the resolved device is recorded
            in results.json / provenance.json and, when not the CPU, in the unit ids.
        lm: an already loaded :class:`~steerid.models.LoadedModel` to use instead of loading
            ``config.model`` (local executor only; its ``info.spec`` must be ``config.model``).

    Raises:
        ConfigError: invalid or changed config (without ``force``), unknown executor or device.
        OutputError: unusable output directory, or another audit holds its lock.
        ModelError: the model cannot be loaded (or CUDA was asked for and is not available).
    """
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor '{executor}'", "use --executor local or --executor ray")
    if device not in DEVICES:
        raise ConfigError(f"unknown device '{device}'", "use --device auto, cpu or cuda")
    if lm is not None and executor != "local":
        raise ConfigError("an already loaded model can only run with the local executor",
                          "pass a model spec string to use the ray executor")
    wall = time.perf_counter()
    _check_traits(config)
    created = not Path(out).expanduser().exists()
    run_dir = prepare_run_dir(Path(out))
    with RunLock(run_dir):
        check_foreign(run_dir)
        try:
            resolved, model_info, vector_sha = load_and_resolve(config, device, lm)
            check_existing_config(run_dir, resolved, force)
        except BaseException:
            if created:  # nothing of this run exists yet: leave no empty run directory behind
                (run_dir / LOCK).unlink(missing_ok=True)
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        # deferred for the same measured reason as in load_and_resolve (model and statistics stack)
        from steerid.audit.executors import execute
        from steerid.audit.results import finalize

        if force:
            clear_run_files(run_dir)
        if not (run_dir / "config.yaml").exists():
            atomic_write_text(run_dir / "config.yaml", resolved.to_yaml())
        run_device = model_info.get("device", "cpu")
        units = expand_grid(resolved, weights_hash=model_info["weights_hash"], vector_sha256=vector_sha,
                            device=run_device)
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
                execute(executor, resolved, run_dir, todo, sink, reporter, ray_address=ray_address, device=run_device)

        results_path, report_path, summary = finalize(run_dir, resolved, model_info, units, checkpoint,
                                                      list(unavailable.values()), render=render)
        elapsed = time.perf_counter() - wall
        timings["last_run"] = {"wall_seconds": round(elapsed, 2), "cpu_seconds": round(time.process_time(), 2),
                               "units_run": len(todo), "units_skipped": len(units) - len(todo), "executor": executor,
                               "device": run_device, "load_average": [round(x, 2) for x in os.getloadavg()]}
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
