"""E5 — method equivalence: cosines of the methods' vectors and paired TOSTs of their steering."""

from __future__ import annotations

from typing import Any

from steerid.audit.config import AuditConfig, E5Settings, EquivalenceSettings
from steerid.audit.units import UnitSettings


class Settings(UnitSettings):
    """``environment``: the config's first environment (its prompts); ``greedy`` / ``temperature``: E1's sampling."""

    e5: E5Settings
    signs: list[int]
    equivalence: EquivalenceSettings
    greedy: bool
    temperature: float
    environment: str

    @classmethod
    def from_config(cls, config: AuditConfig) -> Settings:
        return cls.pick(config, greedy=config.e1.greedy, temperature=config.e1.temperature,
                        environment=config.environments[0])


def cost(config: AuditConfig) -> float:
    return config.e5.n_prompts * (1 + 2 * len(config.e5.methods)) * (config.e5.max_new_tokens + 6.0) + 200


def run(settings: Settings, ctx: Any) -> dict[str, Any]:
    from steerid.experiments import methods

    s = settings.e5
    vectors = {m: ctx.vector(m) for m in s.methods}
    items = ctx.eval_items(settings.environment, s.n_prompts)
    ectx = ctx.experiment_context(ctx.prompts(items), vector=vectors[s.methods[0]])
    config = methods.E5Config(alpha_rel=float(ctx.unit.alpha_rel), signs=tuple(settings.signs),
                              plan=settings.equivalence.plan(), max_new_tokens=s.max_new_tokens,
                              greedy=settings.greedy, temperature=settings.temperature)
    result = methods.run(config, ectx, vectors, ctx.measures(items))
    return {"n": len(items), "environment_used": settings.environment, "result": result.to_dict()}
