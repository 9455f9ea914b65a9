"""Recovery: stability of each extraction method under resampling of the pairs, their agreement, and
(once per audit, on ``benchmark_trait``) the planted-direction benchmark."""

from __future__ import annotations

from typing import Any

from steerid.audit.config import AuditConfig, RecoverySettings
from steerid.audit.units import UnitSettings
from steerid.results import jsonable


class Settings(UnitSettings):
    """``seed``: the benchmark's seed; ``benchmark_trait``: the trait whose unit runs the benchmark (the
    first by name, so the ids do not depend on the order the traits are listed in)."""

    recovery: RecoverySettings
    seed: int
    benchmark_trait: str

    @classmethod
    def from_config(cls, config: AuditConfig) -> Settings:
        return cls.pick(config, benchmark_trait=min(config.traits))


def run(settings: Settings, ctx: Any) -> dict[str, Any]:
    from steerid.recover.stability import compare_methods

    s = settings.recovery
    pos, neg = ctx.pair_activations()
    comparison = compare_methods(pos, neg, methods=tuple(s.methods), n_bootstrap=s.n_bootstrap,
                                 min_cosine=s.min_cosine, seed=ctx.seed)
    out: dict[str, Any] = {"n": int(pos.shape[0]), "result": {"stability": comparison.to_dict()}}
    bench = ctx.optional("steerid.recover.benchmark")
    if s.benchmark_size != "none" and bench is not None and ctx.unit.trait == settings.benchmark_trait:
        ctx.step("benchmark")
        result = jsonable(bench.run_benchmark(s.benchmark_size, seed=settings.seed))
        result.pop("seconds", None)  # wall time does not belong in results.json
        out["result"]["benchmark"] = result
    return out
