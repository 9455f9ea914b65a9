"""Structural constraints that restore the identifiability of steering vectors.

Behaviour alone fixes a steering vector only up to directions the model ignores (v and v + v⊥
steer alike); each constraint picks one representative by an extra assumption:

| name | class | assumption |
|---|---|---|
| ``gauge`` | :class:`GaugeFix` | only the activation row space / the logit map's row space matters |
| ``sparse`` | :class:`SparseDirection` | the direction uses few atoms of a basis |
| ``multienv`` | :class:`MultiEnvInvariance` | the direction is shared by every environment |
| ``crosslayer`` | :class:`CrossLayerConsistency` | the direction persists across layers |
| ``ica`` | :class:`ICARecovery` | traits mix as independent non-Gaussian sources |

:class:`Stability` / :func:`compare_methods` measure resampling stability of any extraction
method, and :func:`run_benchmark` (``steerid.recover.benchmark``, loads a tiny model) checks
every constraint on planted directions.
"""

from __future__ import annotations

from typing import Any

from steerid.errors import DataError
from steerid.recover.crosslayer import CrossLayerConsistency, capture_layers
from steerid.recover.gauge import GaugeFix, GaugeResult
from steerid.recover.ica import ICARecovery
from steerid.recover.multienv import MultiEnvInvariance
from steerid.recover.sparse import SparseDirection
from steerid.recover.stability import MethodComparison, Stability, compare_methods

CONSTRAINTS: dict[str, type] = {
    "gauge": GaugeFix,
    "sparse": SparseDirection,
    "multienv": MultiEnvInvariance,
    "crosslayer": CrossLayerConsistency,
    "ica": ICARecovery,
}


def make_constraint(name: str, **params: Any) -> Any:
    """Build an unfitted constraint by name.

    Raises:
        DataError: Unknown name or a parameter the constraint does not take.

    Example:
        >>> make_constraint("gauge", variance=0.9).variance
        0.9
    """
    if name not in CONSTRAINTS:
        raise DataError(f"unknown constraint {name!r}", f"use one of: {', '.join(CONSTRAINTS)}")
    try:
        return CONSTRAINTS[name](**params)
    except TypeError as exc:
        raise DataError(f"constraint {name!r} does not take these parameters ({exc})",
                        f"see help(steerid.recover.{CONSTRAINTS[name].__name__})") from exc


def __getattr__(name: str) -> Any:
    """Lazy access to the benchmark (it loads a model, so it is not imported eagerly)."""
    if name in ("run_benchmark", "BenchmarkResult", "BenchmarkRow"):
        from steerid.recover import benchmark

        return getattr(benchmark, name)
    raise AttributeError(f"module 'steerid.recover' has no attribute {name!r}")


__all__ = [
    "CONSTRAINTS",
    "CrossLayerConsistency",
    "GaugeFix",
    "GaugeResult",
    "ICARecovery",
    "MethodComparison",
    "MultiEnvInvariance",
    "SparseDirection",
    "Stability",
    "capture_layers",
    "compare_methods",
    "make_constraint",
    "run_benchmark",
    "BenchmarkResult",
    "BenchmarkRow",
]
