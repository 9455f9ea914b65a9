"""E6 — null space: the activation covariance spectrum and the output-Fisher spectrum at the site."""

from __future__ import annotations

from typing import Any

from steerid.audit.config import AuditConfig, E6Settings
from steerid.audit.units import UnitSettings


class Settings(UnitSettings):
    e6: E6Settings


def cost(config: AuditConfig) -> float:
    return config.e6.n_prompts * 6.0 + config.e6.fisher_prompts * config.e6.positions * 80


def run(settings: Settings, ctx: Any) -> dict[str, Any]:
    from steerid.experiments import nullspace

    s = settings.e6
    n = max(s.n_prompts, s.fisher_prompts)
    items = ctx.eval_items(ctx.unit.environment or "in_distribution", n)
    config = nullspace.E6Config(tolerances=tuple(s.tolerances), fisher_prompts=s.fisher_prompts,
                                fisher_positions=s.positions, k=s.k, max_new_tokens=s.max_new_tokens,
                                alpha_rel=None if ctx.unit.alpha_rel is None else float(ctx.unit.alpha_rel))
    return {"n": len(items), "result": nullspace.run(config, ctx.experiment_context(ctx.prompts(items)[:n])).to_dict()}
