"""Identifiability experiments E1–E7 (each ``run(config, ctx) -> Result``).

Classes carry descriptive names; the short names used by audit configs, the CLI and the report
(``e1`` … ``e7``) remain as module-level aliases (``E1Config = OrthogonalConfig``, …) and in
:data:`EXPERIMENTS`, which maps each short name to its module, config and result class:

| name | module | config | result |
|---|---|---|---|
| e1 | ``orthogonal`` | :class:`OrthogonalConfig` | :class:`OrthogonalResult` |
| e2 | ``sweep`` | :class:`SweepConfig` | :class:`SweepResult` |
| e3 | ``environments`` | :class:`OrthogonalConfig` | :class:`EnvironmentsResult` |
| e4 | ``logit_distance`` | :class:`LogitDistanceConfig` | :class:`LogitDistanceResult` |
| e5 | ``methods`` | :class:`MethodsConfig` | :class:`MethodsResult` |
| e6 | ``nullspace`` | :class:`NullSpaceConfig` | :class:`NullSpaceResult` |
| e7 | ``spanning`` | :class:`SpanningConfig` | :class:`SpanningResult` |

The modules load torch and a model stack, so this package imports none of them itself.
"""

from __future__ import annotations

EXPERIMENTS: dict[str, tuple[str, str, str]] = {
    "e1": ("steerid.experiments.orthogonal", "OrthogonalConfig", "OrthogonalResult"),
    "e2": ("steerid.experiments.sweep", "SweepConfig", "SweepResult"),
    "e3": ("steerid.experiments.environments", "OrthogonalConfig", "EnvironmentsResult"),
    "e4": ("steerid.experiments.logit_distance", "LogitDistanceConfig", "LogitDistanceResult"),
    "e5": ("steerid.experiments.methods", "MethodsConfig", "MethodsResult"),
    "e6": ("steerid.experiments.nullspace", "NullSpaceConfig", "NullSpaceResult"),
    "e7": ("steerid.experiments.spanning", "SpanningConfig", "SpanningResult"),
}

__all__ = ["EXPERIMENTS"]
