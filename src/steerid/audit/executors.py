"""Executors: run a list of units and hand each result to a sink, in this process or as Ray tasks.

Both give identical results: a unit's result depends only on its spec (fixed torch threads,
seeds from the audit seed and the unit id), never on where or in which order it runs. The Ray
executor starts a local runtime (2 CPUs) unless ``address`` names a cluster; each Ray worker
process loads the model once and reuses it across its tasks (:func:`~steerid.audit.worker.get_worker`).
A :class:`~steerid.errors.SteerIdError` raised inside a task is re-raised here as itself.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from steerid.audit.config import AuditConfig
from steerid.audit.grid import Unit
from steerid.audit.progress import Reporter
from steerid.audit.worker import get_worker
from steerid.errors import ConfigError, OutputError, SteerIdError

Sink = Callable[[Unit, dict, float, float], None]
"""``sink(unit, result, wall_seconds, cpu_seconds)``: called once per finished unit, in this process."""

EXECUTORS = ("local", "ray")


def run_local(config: AuditConfig, run_dir: Path, units: list[Unit], sink: Sink, reporter: Reporter,
              device: str = "cpu") -> None:
    """Run ``units`` one after the other in this process."""
    worker = get_worker(config, run_dir, device)
    for index, unit in enumerate(units):
        step = reporter.started(unit, index)
        start, cpu = time.perf_counter(), time.process_time()
        result = worker.run_unit(unit, step)
        sink(unit, result, time.perf_counter() - start, time.process_time() - cpu)


def _ray_execute(config_data: dict[str, Any], run_dir: str, unit: Unit,
                 device: str = "cpu") -> tuple[dict[str, Any], float, float]:
    """Body of a Ray task: this worker process's cached :class:`Worker` runs the unit."""
    logging.getLogger("transformers").setLevel(logging.ERROR)
    config = AuditConfig.model_validate(config_data)
    start, cpu = time.perf_counter(), time.process_time()
    result = get_worker(config, Path(run_dir), device).run_unit(unit)
    return result, time.perf_counter() - start, time.process_time() - cpu


def run_ray(config: AuditConfig, run_dir: Path, units: list[Unit], sink: Sink, reporter: Reporter,
            address: str | None, device: str = "cpu") -> None:
    """Run ``units`` as Ray tasks (``num_cpus = config.threads`` each); results reach ``sink`` as they finish."""
    try:
        import ray  # an optional dependency: only the ray executor imports it
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
        resources = {"num_gpus": 1} if device == "cuda" else {}
        remote = ray.remote(num_cpus=min(config.threads, cpus), max_retries=0, **resources)(_ray_execute)
        config_data = config.to_dict()
        pending = {remote.remote(config_data, str(run_dir.resolve()), unit, device): unit for unit in units}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                unit = pending.pop(ref)
                try:
                    result, seconds, cpu_seconds = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.as_instanceof_cause()
                    if isinstance(cause, SteerIdError):
                        raise cause from None
                    raise
                sink(unit, result, seconds, cpu_seconds)
    finally:
        if started:
            ray.shutdown()


def execute(executor: str, config: AuditConfig, run_dir: Path, units: list[Unit], sink: Sink, reporter: Reporter,
            *, ray_address: str | None = None, device: str = "cpu") -> None:
    """Dispatch to :func:`run_local` or :func:`run_ray`."""
    if executor == "ray":
        run_ray(config, run_dir, units, sink, reporter, ray_address, device)
    else:
        run_local(config, run_dir, units, sink, reporter, device)
