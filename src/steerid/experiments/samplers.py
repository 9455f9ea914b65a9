r"""Which null space predicts equivalence: v⊥ drawn from named subspaces, tested like E1's families.

Every sampler draws v⊥ ⟂ v̂ with ‖v⊥‖ = ρ‖αv‖, uniformly on the sphere of a subspace U:

- ``isotropic``: U = v̂⊥ (E1's draws, :func:`~steerid.experiments.directions.orthogonal_perturbation`);
- ``covariance_null``: U = span of the token-covariance eigenvectors beyond the effective rank at
  variance share q (``variance``, e.g. 0.99: the directions holding the last 1 − q of the
  variance; the paper's null-space estimate), intersected with v̂⊥;
- ``fisher_null``: U = span of the eigenvectors of the exact output Fisher F̄ *at the steered
  operating point* (activations + s·α·v, per sign s) with λ < τ·λ_max (``tolerance``), ∩ v̂⊥;
- ``fisher_range``: U = the top-k eigenvectors of the same F̄, k = dim of ``fisher_null``'s
  subspace (capped at d − k so the two never share a direction), ∩ v̂⊥: the negative control.

Intersection with v̂⊥: for an orthonormal basis B (d × k) the vectors of span B orthogonal to v̂
are B·z with z ⟂ Bᵀv̂, so U ∩ v̂⊥ = B·N where N is an orthonormal basis of (Bᵀv̂)⊥ ⊂ ℝᵏ
(dimension k − 1 unless v̂ ⟂ span B). A draw is B N g / ‖g‖ · ρ‖αv‖ with g ~ N(0, I).

Each sampler's conditions (none, ±v, ±v + v⊥ for every ρ and draw) are scored on the
likelihood measure and analysed exactly like E1's isotropic families
(:func:`steerid.experiments.orthogonal.analyse`): per (sign, ρ) the draws passing their TOST,
the share of equivalent directions with its Wilson CI, the family TOST, and the equivalence
radius over ρ. The samplers are compared descriptively (separate families; the Holm corrections
run within a sampler).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg

from steerid.errors import ConfigError, DataError
from steerid.experiments.base import ExperimentContext
from steerid.experiments.conditions import Condition, ConditionRuns
from steerid.experiments.directions import orthogonal_perturbation

SAMPLERS = ("isotropic", "covariance_null", "fisher_null", "fisher_range")


def check_samplers(names: Sequence[str]) -> list[str]:
    """The sampler names, validated (one clear error naming the valid ones)."""
    bad = [n for n in names if n not in SAMPLERS]
    if bad or not names:
        raise ConfigError(f"unknown sampler(s) {bad}" if bad else "no sampler named",
                          f"use some of: {', '.join(SAMPLERS)}")
    return list(dict.fromkeys(names))


def complement_within(basis: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Orthonormal basis of span(basis) ∩ direction⊥ (``basis`` d × k orthonormal; returns d × k')."""
    basis = np.asarray(basis, dtype=np.float64)
    if basis.ndim != 2 or basis.shape[1] == 0:
        return np.zeros((direction.shape[0], 0))
    unit = direction / np.linalg.norm(direction)
    coeffs = basis.T @ unit  # (k,)
    if np.linalg.norm(coeffs) < 1e-12:
        return basis
    inner = scipy.linalg.null_space(coeffs[None, :])  # (k, k − 1)
    return basis @ inner


def subspace_perturbation(basis: np.ndarray, norm: float, rng: np.random.Generator) -> np.ndarray:
    """A vector of length ``norm`` uniform on the sphere of span(basis) (orthonormal columns)."""
    g = basis @ rng.standard_normal(basis.shape[1])
    return norm * g / np.linalg.norm(g)


@dataclass
class SamplerBases:
    """Per sampler and sign, the orthonormal basis of the subspace draws come from (already ⟂ v̂).

    ``None`` means isotropic (the whole of v̂⊥). ``info`` records dimensions, thresholds and where
    each basis came from.
    """

    bases: dict[str, dict[int, np.ndarray | None]]
    info: dict[str, Any] = field(default_factory=dict)


def covariance_null_basis(covariance: np.ndarray, variance: float) -> tuple[np.ndarray, int]:
    """Eigenvectors of the covariance beyond its effective rank at share ``variance`` (and that rank)."""
    from steerid.experiments.nullspace import effective_rank

    vals, vecs = np.linalg.eigh(0.5 * (covariance + covariance.T))
    vals, vecs = vals[::-1], vecs[:, ::-1]
    rank = effective_rank(vals, variance)
    return vecs[:, rank:], rank


def fisher_bases(matrix: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(null, range) bases of a Fisher matrix: λ < τ·λ_max, and the top-k with k = dim null (≤ d − k)."""
    vals, vecs = np.linalg.eigh(0.5 * (matrix + matrix.T))
    vals, vecs = vals[::-1], vecs[:, ::-1]
    null_mask = vals < tolerance * vals[0]
    k = int(null_mask.sum())
    top = min(k, vecs.shape[1] - k)
    info = {"null_dim": k, "range_dim": top, "lambda_max": float(vals[0]), "threshold": float(tolerance * vals[0])}
    return vecs[:, null_mask], vecs[:, :top], info


def sampler_conditions(direction: np.ndarray, scale: float, bases: SamplerBases, sampler: str, *,
                       rhos: Sequence[float], n_draws: int, signs: Sequence[int], seed: int) -> list[Condition]:
    """none, ±v and ±v + v⊥ (v⊥ from ``sampler``'s subspace; per-sign bases get per-sign draws)."""
    rng = np.random.default_rng([seed, SAMPLERS.index(sampler)])
    v = scale * direction
    dim = direction.shape[0]
    out = [Condition("none", "none", 0, None, None, np.zeros(dim))]
    for s in signs:
        out.append(Condition(f"{'+' if s > 0 else '-'}v", "v", s, None, None, s * v))
    per_sign = bases.bases[sampler]
    for rho in rhos:
        shared = None
        for s in signs:
            basis = per_sign[s]
            if basis is None:  # isotropic: the same draws for both signs, as in E1
                if shared is None:
                    shared = [scale * orthogonal_perturbation(direction, rho, rng) for _ in range(n_draws)]
                perps = shared
            else:
                if basis.shape[1] == 0:
                    raise DataError(f"the {sampler} subspace for sign {s:+d} is empty",
                                    "lower the Fisher tolerance / variance share, or drop the sampler")
                perps = [subspace_perturbation(basis, rho * scale, rng) for _ in range(n_draws)]
            tag = "+" if s > 0 else "-"
            for k, perp in enumerate(perps):
                out.append(Condition(f"{tag}v+v⊥[{sampler},ρ={rho:g},#{k}]", "v_plus_perp", s, rho, k, s * v + perp))
    return out


def build_bases(ctx: ExperimentContext, samplers: Sequence[str], *, alpha_rel: float, signs: Sequence[int],
                tolerance: float = 1e-3, variance: float = 0.99, fisher_prompts: int = 16, positions: int = 8,
                max_new_tokens: int = 16, tail: float = 1e-3, max_tokens: int = 256,
                covariance_texts: Sequence[str] | None = None) -> SamplerBases:
    """The subspaces of every sampler: covariance on ``covariance_texts`` (default ``ctx.prompts``), the
    exact Fisher at s·α·v on the first ``fisher_prompts`` prompts + their steered greedy continuations."""
    from steerid.capture import token_moments
    from steerid.experiments.fisher import PointSet
    from steerid.experiments.fisher.exact import exact_fisher
    from steerid.experiments.nullspace import fisher_sequences

    samplers = check_samplers(samplers)
    u = ctx.vector.direction
    bases: dict[str, dict[int, np.ndarray | None]] = {}
    info: dict[str, Any] = {}
    if "isotropic" in samplers:
        bases["isotropic"] = {s: None for s in signs}
        info["isotropic"] = {"dim": int(u.shape[0] - 1)}
    if "covariance_null" in samplers:
        texts = list(covariance_texts or ctx.prompts)
        moments, _ = token_moments(ctx.lm, texts, ctx.site, skip_first=True, batch_size=ctx.batch_size)
        null, rank = covariance_null_basis(moments.covariance(), variance)
        basis = complement_within(null, u)
        bases["covariance_null"] = {s: basis for s in signs}
        info["covariance_null"] = {"variance": variance, "effective_rank": rank, "dim": int(basis.shape[1]),
                                   "n_tokens": int(moments.n)}
    if "fisher_null" in samplers or "fisher_range" in samplers:
        bases.setdefault("fisher_null", {})
        bases.setdefault("fisher_range", {})
        per_sign = {}
        prompts = ctx.prompts[:fisher_prompts]
        for s in signs:
            base = s * ctx.displacement(alpha_rel)
            seqs = fisher_sequences(ctx, prompts, "continuation", max_new_tokens, deltas=base)
            points = PointSet(ctx.lm, ctx.site, seqs, positions=positions, base=base, batch_size=min(ctx.batch_size, 32))
            exact = exact_fisher(points, tail=tail, max_tokens=max_tokens, seed=ctx.seed,
                                 operating_point=f"{'+' if s > 0 else '-'}{alpha_rel:g}·v")
            null, rng_, meta = fisher_bases(exact.matrix, tolerance)
            bases["fisher_null"][s] = complement_within(null, u)
            bases["fisher_range"][s] = complement_within(rng_, u)
            per_sign[f"{s:+d}"] = {**meta, "null_dim_perp": int(bases["fisher_null"][s].shape[1]),
                                   "range_dim_perp": int(bases["fisher_range"][s].shape[1]),
                                   "bound_over_max": exact.bound_over_max, "n_points": exact.n_points,
                                   "seconds": exact.seconds,
                                   "v_rayleigh_over_max": float(u @ exact.matrix @ u / meta["lambda_max"])}
        info["fisher"] = {"tolerance": tolerance, "per_sign": per_sign}
        for name in ("fisher_null", "fisher_range"):
            if name not in samplers:
                bases.pop(name)
    return SamplerBases(bases, info)


def sampler_table(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per sampler × sign × ρ: draws, equivalent draws, share [Wilson CI], radius."""
    rows = []
    for name, res in results.items():
        radius = res.get("equivalence_radius") or {}
        for f in res["families"]:
            share = f.get("fraction_pass") or {}
            tag = "+v" if f["sign"] > 0 else "-v"
            rows.append({"sampler": name, "sign": f["sign"], "rho": f["rho"], "n_draws": f["n_draws"],
                         "n_equivalent": f["n_draws_equivalent"], "share": share.get("estimate"),
                         "share_low": share.get("low"), "share_high": share.get("high"),
                         "verdict": f.get("verdict"), "radius": (radius.get(tag) or {}).get("radius")})
    return rows


def run_samplers(config: Any, ctx: ExperimentContext, bases: SamplerBases, score: Any) -> dict[str, Any]:
    """Score every sampler's conditions with ``score(conditions) -> (C, P)`` and analyse them like E1.

    ``config`` is an :class:`~steerid.experiments.orthogonal.OrthogonalConfig`; returns
    ``{"samplers": {name: {"families", "equivalence_radius"}}, "table": [...], "bases": info, "skipped": {...}}``
    (a sampler whose subspace is empty for some sign is skipped, with the reason).
    """
    from steerid.experiments.draws import radius
    from steerid.experiments.orthogonal import analyse

    scale = config.alpha_rel * ctx.token_norm
    out: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name, per_sign in bases.bases.items():
        empty = [s for s, b in per_sign.items() if b is not None and b.shape[1] == 0]
        if empty:
            skipped[name] = (f"empty subspace for sign(s) {', '.join(f'{s:+d}' for s in empty)} "
                             f"(raise the tolerance / lower the variance share, or add Fisher points)")
            continue
        conditions = sampler_conditions(ctx.vector.direction, scale, bases, name, rhos=config.rhos,
                                        n_draws=config.n_draws, signs=config.signs, seed=ctx.seed)
        runs = ConditionRuns(conditions, [], {"likelihood": score(conditions)})
        _, families = analyse(runs, config, "likelihood", seed=ctx.seed)
        out[name] = {"families": families,
                     "equivalence_radius": radius(runs, conditions, "likelihood", config.signs, config.rhos,
                                                  margin_dz=config.plan.margin_dz, level=config.plan.level,
                                                  seed=ctx.seed)}
    return {"samplers": out, "table": sampler_table(out), "bases": bases.info, "skipped": skipped}
