"""``steerid audit``: config → grid of units → checkpointed, resumable execution → results → report.

Run directory layout (``--out RUN``)::

    RUN/config.yaml          the resolved config (written first; a different config is refused)
    RUN/checkpoint.jsonl     one checksummed line per finished unit (append-only, fsync'ed)
    RUN/vectors/*.safetensors  extracted vectors (deterministic)
    RUN/results.json         every unit's result + audit-level Holm + summary (no timings)
    RUN/results.parquet      one row per unit × condition × measure (+ equivalence rows)
    RUN/provenance.json      versions, model hash, device, dtype, seed, machine
    RUN/timings.json         wall time per unit (kept out of results.json)
    RUN/report.html          the self-contained report
    RUN/.steerid.lock        held while an audit runs

Kill it at any moment and run the same command again: finished units are skipped, a torn last
checkpoint line is dropped and its unit redone, and the final files are byte-identical to an
uninterrupted run's. Executors: ``local`` (this process) or ``ray`` (units as Ray tasks, one model
load per Ray worker); both give identical results because each unit depends only on its spec
(fixed torch threads, seeds from the audit seed and the unit id).

Modules, one concept each: :mod:`~steerid.audit.config` (schema, validation, resolution),
:mod:`~steerid.audit.profiles` (profiles, files, layering), :mod:`~steerid.audit.grid` (units and
their ids), :mod:`~steerid.audit.checkpoint` (run directory, lock, resume),
:mod:`~steerid.audit.worker` (runs one unit), :mod:`~steerid.audit.executors` (local and Ray),
:mod:`~steerid.audit.progress`, :mod:`~steerid.audit.runner` (``run_audit``),
:mod:`~steerid.audit.results` (finalisation, results.json), :mod:`~steerid.audit.tables`
(parquet and CLI rows) and :mod:`~steerid.audit.api` (``steerid.audit(...)``, ``AuditResult``).

This package is also callable: ``import steerid; steerid.audit("tiny:llama", ...)`` calls
:func:`steerid.audit.api.audit`. The package's module object is given a
:class:`types.ModuleType` subclass with ``__call__`` rather than having ``steerid/__init__``
bind a *function* over the name ``steerid.audit``: a function there would shadow the package
for attribute access (``steerid.audit.config`` and ``import steerid.audit as m; m.run_audit``
would break) and the import system re-binds the name to the module whenever a submodule is
imported first. A callable module keeps every spelling working.

Example:
    >>> import steerid
    >>> result = steerid.audit("tiny:llama", traits="sentiment", profile="smoke")  # doctest: +SKIP
    >>> from steerid.audit import run_audit, build_config
    >>> outcome = run_audit(build_config("smoke"), "runs/smoke")                   # doctest: +SKIP
"""

from __future__ import annotations

import sys
import types
from typing import Any

from steerid.audit.api import AuditResult, Cell, audit
from steerid.audit.config import AuditConfig
from steerid.audit.profiles import build_config, list_profiles
from steerid.audit.runner import AuditOutcome, run_audit


class _CallableModule(types.ModuleType):
    """``steerid.audit`` itself: a package whose call is :func:`steerid.audit.api.audit`."""

    def __call__(self, *args: Any, **kwargs: Any) -> AuditResult:
        return audit(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["AuditConfig", "AuditOutcome", "AuditResult", "Cell", "audit", "build_config", "list_profiles",
           "run_audit"]
