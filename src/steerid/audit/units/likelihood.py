"""E1 on teacher-forced log-probability differences of the trait's likelihood items (and, when asked,
the farthest equivalent vector on the same route)."""

from __future__ import annotations

from typing import Any

from steerid.audit.config import AuditConfig, EquivalenceSettings, LikelihoodSettings
from steerid.audit.units import UnitSettings
from steerid.audit.units.e1 import orthogonal_config
from steerid.errors import DataError


class Settings(UnitSettings):
    """What a likelihood unit reads (``seed`` seeds the farthest-vector search's split and candidates)."""

    likelihood: LikelihoodSettings
    rhos: list[float]
    n_draws: int
    signs: list[int]
    equivalence: EquivalenceSettings
    decode_dtype: str
    seed: int


def cost(config: AuditConfig) -> float:
    conditions = 3 + len(config.rhos) * (len(config.signs) * config.n_draws + 2)
    return (config.likelihood.n_items or 60) * conditions * 2 * 6.0


def run(settings: Settings, ctx: Any) -> dict[str, Any]:
    from steerid.experiments import likelihood

    lc = settings.likelihood
    items = list(ctx.trait.likelihood)
    if lc.n_items is not None:
        items = items[: lc.n_items]
    if len(items) < 3:
        raise DataError(f"trait '{ctx.unit.trait}' has only {len(items)} likelihood items",
                        "drop 'likelihood' from experiments or add likelihood.jsonl items")
    space = "" if ctx.has_chat_template else " "
    ectx = ctx.experiment_context(ctx.prompts(items), positives=[space + i.positive for i in items],
                                  negatives=[space + i.negative for i in items])
    far = lc.farthest and (lc.farthest_traits is None or ctx.unit.trait in lc.farthest_traits)
    # the farthest-vector candidate is one more try of the unit's existence claim (reserved before the looks)
    result = likelihood.run(orthogonal_config(settings, ctx.unit.alpha_rel, settings.n_draws, likelihood_scope=lc.scope),
                            ectx,
                            extra_tries=1 if far else 0)
    if far:
        from steerid.experiments.existence import add_farthest

        result.farthest_equivalent = _farthest(settings, ctx.unit.alpha_rel, ectx)
        add_farthest(result, settings.equivalence.plan())
    out = {"n": len(items), "result": result.to_dict()}
    if lc.samplers != ["isotropic"]:
        out["samplers"] = _samplers(settings, ctx.unit.alpha_rel, ectx)
    return out


def _samplers(settings: Settings, alpha_rel: float, ectx: Any) -> dict[str, Any]:
    """Families of v⊥ drawn from each configured subspace (:mod:`steerid.experiments.samplers`)."""
    from steerid.experiments import likelihood, samplers

    lc = settings.likelihood
    config = orthogonal_config(settings, alpha_rel, settings.n_draws, likelihood_scope=lc.scope)
    bases = samplers.build_bases(ectx, lc.samplers, alpha_rel=float(alpha_rel), signs=tuple(settings.signs),
                                 tolerance=lc.sampler_tolerance, variance=lc.sampler_variance)
    positives, negatives = ectx.extra["positives"], ectx.extra["negatives"]

    def score(conditions):
        return likelihood.likelihood_scores(ectx, conditions, positives, negatives, config.decode_dtype, lc.scope)

    return samplers.run_samplers(config, ectx, bases, score)


def _farthest(settings: Settings, alpha_rel: float, ectx: Any) -> dict[str, Any]:
    """The farthest equivalent vector found on the likelihood route (confirmed on held-out items)."""
    from steerid.experiments import farthest

    lc = settings.likelihood
    # fisher_k Lanczos eigenpairs for the low-sensitivity basis; 0 turns the basis off
    fisher = {"fisher_k": lc.farthest_fisher_k} if lc.farthest_fisher_k > 0 else {"fisher_basis": 0}
    config = farthest.FarthestConfig(alpha_rel=float(alpha_rel), plan=settings.equivalence.plan(),
                                     n_candidates=lc.farthest_candidates, seed=settings.seed, **fisher)
    out = farthest.run(config, ectx).to_dict()
    out["n_confirm"] = len(out.get("confirm_items") or [])
    return out
