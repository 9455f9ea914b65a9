"""Steering conditions and their batched, paired execution.

A *condition* is one displacement Δ added at the site for a whole continuation. Every prompt is
run under every condition with the same sampling seed (common random numbers); rows are ordered
prompt-major so that all conditions of a prompt share a forward batch. Only the continuation is
scored.

E1 conditions, with s ∈ {+1, −1}, m the median token norm, α the relative strength and
v̂ the unit vector (so ‖s·α·m·v̂‖ = α·m):

    none            Δ = 0
    ±v              Δ = s·α m v̂
    ±v+v⊥[ρ, k]     Δ = s·α m v̂ + v⊥_k,   v⊥_k ⟂ v̂, ‖v⊥_k‖ = ρ α m   (draw k)
    v⊥[ρ]           Δ = v⊥_0 alone
    random[ρ]       Δ = √(1+ρ²) α m · u,  u uniform on the sphere (same norm as v+v⊥)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from steerid.experiments.base import ExperimentContext
from steerid.experiments.directions import orthogonal_perturbation, random_direction
from steerid.engine.generation import continuation_logprob, generate

ScoreFn = Callable[[list[str], np.ndarray], np.ndarray]
"""``score(continuations, prompt_indices) -> scores``; higher = more trait-positive."""


@dataclass(frozen=True)
class Condition:
    """One steering condition: a name, its kind and the displacement it adds."""

    name: str
    kind: str  # none | v | v_plus_perp | perp | random | vector
    sign: int
    rho: float | None
    draw: int | None
    delta: np.ndarray

    @property
    def norm(self) -> float:
        return float(np.linalg.norm(self.delta))


def e1_conditions(direction: np.ndarray, scale: float, *, rhos: Sequence[float], n_draws: int,
                  signs: Sequence[int] = (1, -1), seed: int = 0) -> list[Condition]:
    """Build the E1 condition set for unit ``direction`` and displacement norm ``scale``."""
    rng = np.random.default_rng(seed)
    v = scale * direction
    dim = direction.shape[0]
    out = [Condition("none", "none", 0, None, None, np.zeros(dim))]
    for s in signs:
        out.append(Condition(f"{'+' if s > 0 else '-'}v", "v", s, None, None, s * v))
    for rho in rhos:
        perps = [scale * orthogonal_perturbation(direction, rho, rng) for _ in range(n_draws)]
        for s in signs:
            tag = "+" if s > 0 else "-"
            for k, perp in enumerate(perps):
                out.append(Condition(f"{tag}v+v⊥[ρ={rho:g},#{k}]", "v_plus_perp", s, rho, k, s * v + perp))
        out.append(Condition(f"v⊥[ρ={rho:g}]", "perp", 0, rho, 0, perps[0]))
        out.append(Condition(f"random[ρ={rho:g}]", "random", 0, rho, None,
                             np.sqrt(1 + rho**2) * scale * random_direction(dim, rng)))
    return out


@dataclass
class ConditionRuns:
    """Continuations and scores: ``texts[c][p]`` and ``scores[measure]`` of shape (C, P)."""

    conditions: list[Condition]
    texts: list[list[str]]
    scores: dict[str, np.ndarray]

    def index(self, name: str) -> int:
        return next(i for i, c in enumerate(self.conditions) if c.name == name)

    def score(self, measure: str, name: str) -> np.ndarray:
        return self.scores[measure][self.index(name)]


def run_conditions(ctx: ExperimentContext, conditions: Sequence[Condition], measures: dict[str, ScoreFn], *,
                   max_new_tokens: int = 32, greedy: bool = False, temperature: float = 0.7, top_p: float = 1.0,
                   top_k: int = 0, dtype: str = "model", loglik: bool = True,
                   prompts: slice | None = None) -> ConditionRuns:
    """Generate every prompt under every condition in shared batches and score the continuations.

    ``loglik`` adds the measure ``loglik``: the mean per-token log-probability of each
    continuation under the *unsteered* model (a coherence / fluency check). ``prompts`` runs only
    that slice of ``ctx.prompts`` (a look of a sequential test); seeds and the prompt indices the
    measures receive stay those of the whole list, so a prompt's draw does not depend on the look.
    ``dtype`` is the decode dtype (see :func:`steerid.engine.generation.generate`).
    """
    part = prompts if prompts is not None else slice(0, len(ctx.prompts))
    chosen = list(range(len(ctx.prompts)))[part]
    n_p, n_c = len(chosen), len(conditions)
    rows = [ctx.prompts[p] for p in chosen for _ in range(n_c)]
    deltas = np.stack([conditions[c].delta for _ in range(n_p) for c in range(n_c)])
    seeds = [ctx.seed * 1_000_003 + p for p in chosen for _ in range(n_c)]
    out = generate(ctx.lm, rows, site=ctx.site, deltas=deltas, greedy=greedy, temperature=temperature,
                   top_p=top_p, top_k=top_k, seeds=seeds, max_new_tokens=max_new_tokens, batch_size=ctx.batch_size,
                   dtype=dtype)
    texts = [[out.texts[p * n_c + c] for p in range(n_p)] for c in range(n_c)]
    prompt_index = np.asarray(chosen)
    scores: dict[str, np.ndarray] = {}
    for name, fn in measures.items():
        flat = [t for row in texts for t in row]
        values = np.asarray(fn(flat, np.tile(prompt_index, n_c)), dtype=np.float64)
        scores[name] = values.reshape(n_c, n_p)
    if loglik:
        safe = [t if t else " " for row in texts for t in row]
        ll = continuation_logprob(ctx.lm, [ctx.prompts[p] for _ in range(n_c) for p in chosen], safe,
                                  batch_size=ctx.batch_size, reduce="mean")
        scores["loglik"] = ll.reshape(n_c, n_p)
    return ConditionRuns(list(conditions), texts, scores)
