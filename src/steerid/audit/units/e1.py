"""E1 by generation (E2 is its α axis, E3 its environment axis): one unit = one cell.

The unit's prompts are the first ``e1.n_prompts`` evaluation prompts of its environment; the
equivalence tests follow the audit's :class:`~steerid.stats.plan.EquivalencePlan`.
"""

from __future__ import annotations

from typing import Any

from steerid.audit.config import AuditConfig, E1Settings, EquivalenceSettings
from steerid.audit.units import UnitSettings


class Settings(UnitSettings):
    """What an E1 unit reads: its section, the perturbation grid, the plan and the decode dtype."""

    e1: E1Settings
    rhos: list[float]
    n_draws: int
    signs: list[int]
    equivalence: EquivalenceSettings
    decode_dtype: str

    @classmethod
    def from_config(cls, config: AuditConfig) -> Settings:
        return cls.pick(config, n_draws=config.e1.n_draws or config.n_draws)


def orthogonal_config(settings: Any, alpha_rel: float, n_draws: int, **generation: Any):
    """The :class:`~steerid.experiments.orthogonal.OrthogonalConfig` of a unit at strength ``alpha_rel``."""
    from steerid.experiments.orthogonal import OrthogonalConfig

    return OrthogonalConfig(alpha_rel=float(alpha_rel), rhos=tuple(settings.rhos), n_draws=n_draws,
                            signs=tuple(settings.signs), plan=settings.equivalence.plan(),
                            decode_dtype=settings.decode_dtype, **generation)


def cells(config: AuditConfig, trait: str) -> list[tuple[str, float | None, str | None]]:
    """Every method × α × environment; a trait left out of ``e1.environment_traits`` runs the first environment
    only, and one left out of ``e1.traits`` runs none."""
    if config.e1.traits is not None and trait not in config.e1.traits:
        return []
    e3 = config.e1.environment_traits is None or trait in config.e1.environment_traits
    envs = config.environments if e3 else config.environments[:1]
    return [(m, a, env) for m in config.methods for a in config.alphas_rel for env in envs]


def cost(config: AuditConfig) -> float:
    draws = config.e1.n_draws or config.n_draws
    conditions = 3 + len(config.rhos) * (len(config.signs) * draws + 2)
    return config.e1.n_prompts * conditions * (config.e1.max_new_tokens + 6.0)


def run(settings: Settings, ctx: Any) -> dict[str, Any]:
    from steerid.experiments import orthogonal

    s = settings.e1
    items = ctx.eval_items(ctx.unit.environment or "in_distribution", s.n_prompts)
    ectx = ctx.experiment_context(ctx.prompts(items))
    config = orthogonal_config(settings, ctx.unit.alpha_rel, settings.n_draws, max_new_tokens=s.max_new_tokens,
                               greedy=s.greedy, temperature=s.temperature, n_examples=s.n_examples, top_k=s.top_k,
                               top_p=s.top_p)
    data = orthogonal.run(config, ectx, ctx.measures(items)).to_dict()
    for example in data.get("examples", []):
        example["prompt"] = items[example["prompt_index"]].prompt
    return {"n": len(items), "result": data}
