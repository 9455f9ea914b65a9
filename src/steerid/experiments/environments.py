"""E3 — environments: E1 in each prompt environment (in-distribution, topic shift, genre shift).

Non-identifiability that holds in one prompt distribution may break in another (a v⊥ that is
inert on the extraction distribution can matter elsewhere). E1 is run separately on each
environment's prompts with the same vector, α and v⊥ draws (same seed), and the verdicts and
relative efficacies are set side by side; Holm correction spans all environments' families.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from steerid.experiments.base import ExperimentContext, jsonable
from steerid.experiments.conditions import ScoreFn
from steerid.experiments.orthogonal import E1Config
from steerid.experiments.orthogonal import run as run_e1
from steerid.stats import holm


@dataclass
class EnvironmentsResult:
    per_environment: dict[str, dict[str, Any]]
    holm_p: dict[str, list[float]]

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"per_environment": self.per_environment, "holm_p": self.holm_p})


def run(config: E1Config, ctx: ExperimentContext, environment_prompts: dict[str, list[str]],
        measures_by_environment: dict[str, dict[str, ScoreFn]]) -> EnvironmentsResult:
    """E1 per environment; ``environment_prompts`` maps environment → formatted prompts."""
    results = {}
    for env, prompts in environment_prompts.items():
        env_ctx = replace(ctx, prompts=list(prompts))
        results[env] = run_e1(config, env_ctx, measures_by_environment[env]).to_dict()
    flat = [(env, i, fam["tost"]["p_tost"]) for env, r in results.items() for i, fam in enumerate(r["families"])]
    adjusted = holm([p for _, _, p in flat], alpha=config.test_alpha).p_adjusted if flat else []
    holm_p: dict[str, list[float]] = {env: [] for env in results}
    for (env, _, _), p in zip(flat, adjusted):
        holm_p[env].append(float(p))
    return EnvironmentsResult(per_environment=results, holm_p=holm_p)
