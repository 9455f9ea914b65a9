"""E3 — environments: E1 in each prompt environment (in-distribution, topic shift, genre shift).

Non-identifiability that holds in one prompt distribution may break in another (a v⊥ that is
inert on the extraction distribution can matter elsewhere). E1 is run separately on each
environment's prompts with the same vector, α and v⊥ draws (same seed), and the verdicts and
relative efficacies are set side by side; Holm correction spans all environments' families.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from steerid.experiments.base import ExperimentContext
from steerid.experiments.conditions import ScoreFn
from steerid.experiments.orthogonal import OrthogonalConfig
from steerid.experiments.orthogonal import run as run_e1
from steerid.results import ResultMixin, Summary, Table, jsonable
from steerid.stats import holm


@dataclass(repr=False)
class EnvironmentsResult(ResultMixin):
    """E3: the E1 result per environment and the family p-values Holm-corrected across environments."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("per_environment", "holm_p")

    per_environment: dict[str, dict[str, Any]]
    holm_p: dict[str, list[float]]

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"per_environment": self.per_environment, "holm_p": self.holm_p})

    def summary(self) -> Summary:
        """Per environment and family: verdict and the family p-value Holm-corrected across environments."""
        rows = tuple((env, fam.get("sign"), fam.get("rho"), fam.get("verdict"), p)
                     for env, result in self.per_environment.items()
                     for fam, p in zip(result.get("families", []), self.holm_p.get(env, [])))
        return Summary("E3 environments", rows=[("environments", len(self.per_environment))],
                       tables=[Table(("environment", "sign", "ρ", "verdict", "Holm p (all environments)"), rows)])


def run(config: OrthogonalConfig, ctx: ExperimentContext, environment_prompts: dict[str, list[str]],
        measures_by_environment: dict[str, dict[str, ScoreFn]]) -> EnvironmentsResult:
    """E1 per environment; ``environment_prompts`` maps environment → formatted prompts."""
    results = {}
    for env, prompts in environment_prompts.items():
        env_ctx = replace(ctx, prompts=list(prompts))
        results[env] = run_e1(config, env_ctx, measures_by_environment[env]).to_dict()
    flat = [(env, i, fam["tost"]["p_tost"]) for env, r in results.items() for i, fam in enumerate(r["families"])]
    adjusted = holm([p for _, _, p in flat], alpha=config.plan.level).p_adjusted if flat else []
    holm_p: dict[str, list[float]] = {env: [] for env in results}
    for (env, _, _), p in zip(flat, adjusted):
        holm_p[env].append(float(p))
    return EnvironmentsResult(per_environment=results, holm_p=holm_p)


# E3 (its name in audit configs, the CLI and the report) — aliases of the descriptive names.
E3Result = EnvironmentsResult
