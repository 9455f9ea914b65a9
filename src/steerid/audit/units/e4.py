"""E4 — logit distance: KL / JS of next-token distributions under v, v + v⊥, none and a random direction."""

from __future__ import annotations

from typing import Any

from steerid.audit.config import AuditConfig, E4Settings
from steerid.audit.units import UnitSettings


class Settings(UnitSettings):
    e4: E4Settings
    rhos: list[float]
    n_draws: int

    @classmethod
    def from_config(cls, config: AuditConfig) -> Settings:
        return cls.pick(config, n_draws=config.e4.n_draws or config.n_draws)


def cost(config: AuditConfig) -> float:
    draws = config.e4.n_draws or config.n_draws
    return config.e4.n_prompts * (config.e4.max_new_tokens + (2 + 2 * draws * len(config.rhos)) * 6.0)


def run(settings: Settings, ctx: Any) -> dict[str, Any]:
    from steerid.experiments import logit_distance

    items = ctx.eval_items(ctx.unit.environment or "in_distribution", settings.e4.n_prompts)
    config = logit_distance.E4Config(alpha_rel=float(ctx.unit.alpha_rel), rhos=tuple(settings.rhos),
                                     n_draws=settings.n_draws, max_new_tokens=settings.e4.max_new_tokens)
    result = logit_distance.run(config, ctx.experiment_context(ctx.prompts(items))).to_dict()
    result.pop("per_prompt", None)  # per-prompt KL/JS of every draw: large, and not used by the report
    return {"n": len(items), "result": result}
