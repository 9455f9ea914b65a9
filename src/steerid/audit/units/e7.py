"""E7 — spanning: random directions from the Fisher null space keep behaviour, from its range break it."""

from __future__ import annotations

from typing import Any

from steerid.audit.config import AuditConfig, E7Settings, EquivalenceSettings
from steerid.audit.units import UnitSettings


class Settings(UnitSettings):
    """``rho``: the config's first ρ; ``k`` / ``positions``: E6's Lanczos size and Fisher positions."""

    e7: E7Settings
    rho: float
    k: int
    positions: int
    equivalence: EquivalenceSettings

    @classmethod
    def from_config(cls, config: AuditConfig) -> Settings:
        return cls.pick(config, rho=config.rhos[0], k=config.e6.k, positions=config.e6.positions)


def cost(config: AuditConfig) -> float:
    return config.e7.n_prompts * (2 * config.e7.n_directions + 2) * 2 * 6.0


def run(settings: Settings, ctx: Any) -> dict[str, Any]:
    from steerid.experiments import spanning

    s = settings.e7
    items = ctx.eval_items(ctx.unit.environment or "in_distribution", s.n_prompts)
    extra: dict[str, Any] = {}
    if s.score:  # a ScoreFn gets each text's prompt index, so the answer judge sees the right answers
        extra["score_fn"] = next(iter(ctx.measures(items).values()))
    config = spanning.E7Config(alpha_rel=float(ctx.unit.alpha_rel), rho=float(settings.rho), n_draws=s.n_directions,
                               tolerance=s.tolerance, k=settings.k, fisher_prompts=s.fisher_prompts,
                               fisher_positions=settings.positions, max_new_tokens=s.max_new_tokens,
                               plan=settings.equivalence.plan())
    return {"n": len(items), "result": spanning.run(config, ctx.experiment_context(ctx.prompts(items), **extra)).to_dict()}
