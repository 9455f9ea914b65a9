r"""Farthest equivalent vector: an existence proof of non-identifiability, or evidence that none was found.

A steering displacement v is *identifiable* to the extent that no very different u steers
equivalently. This experiment searches for the u of smallest cosine to v that (i) shifts the
primary (target-trait) measure vs no steering as much as v does and (ii) is equivalent to v on
the primary and on every secondary measure, then confirms that u on held-out items. The search
itself is model-free (:func:`~steerid.experiments.farthest_search.search_farthest`; the maths of
u(θ, c) = c‖v‖(cos θ v̂ + sin θ w), the c-solve, the θ bisection and the budget are in its module
docstring). This module runs it on the likelihood route (:mod:`steerid.experiments.likelihood`):
for item i and displacement Δ,

    likelihood_i(Δ) = ℓ⁺_i(Δ) − ℓ⁻_i(Δ)          (primary: the trait margin)
    loglik_i(Δ)     = ½ (ℓ⁺_i(Δ) + ℓ⁻_i(Δ))       (fluency of the two continuations)
    off_target_i(Δ) = ℓ⁺′_i(Δ) − ℓ⁻′_i(Δ)        (another trait's margin, if ctx.extra['off_target'])

with ℓ = (1/|y|) log p(y | x; Δ) (per-token mean), Δ added at ctx.site at every position. One
measure call is one :func:`steerid.engine.generation.continuation_logprobs` call over items ×
displacements rows (off-target items appended). v = α_rel · token_norm · v̂.

Candidates: ``n_candidates`` uniform directions in v^⊥ and ``n_basis_candidates`` uniform in the
span of a low-sensitivity basis ⟂ v — the ``fisher_basis`` eigenvectors of the output Fisher F̄
(:mod:`steerid.experiments.fisher`) with the smallest eigenvalues (full spectrum, d ≤
``dense_max_dim``) or the complement of its top ``fisher_k`` eigenvectors (Lanczos). F̄ is
evaluated at +v (``fisher_at="steered"``) on the *search* items' prompt + continuation tokens
only, so nothing about u is chosen with the confirm items. Items are split at random (seeded):
``split`` of them search, the rest confirm.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from steerid.engine.batching import encode
from steerid.errors import DataError
from steerid.experiments.base import ExperimentContext
from steerid.experiments.farthest_common import FarthestResult, Measure, perp_basis, perp_unit
from steerid.experiments.farthest_search import search_farthest
from steerid.experiments.fisher import PointSet, SiteLinearization, spectrum
from steerid.experiments.fisher.exact import exact_fisher
from steerid.engine.generation import continuation_logprobs
from steerid.results import jsonable
from steerid.stats.plan import EquivalencePlan
from steerid.validation import check_vector

__all__ = ["FarthestConfig", "FarthestResult", "candidate_directions", "likelihood_measure", "low_fisher_basis", "run",
           "search_farthest", "split_items"]


@dataclass(frozen=True)
class FarthestConfig:
    """Settings of the farthest-equivalent-vector search on the likelihood route.

    Attributes:
        alpha_rel: strength of v relative to the median token norm.
        plan: the equivalence plan: the confirm TOST's margin (±``plan.margin_dz``·sd) and level
            (``plan.level``); ``search_margin_dz`` (default ``plan.margin_dz``) is the margin used while searching; ``margin_raw`` {measure: ε} replaces the
            d_z margin by ±ε score units for the named measures (``likelihood``, ``loglik``,
            ``off_target``) — with these deterministic measures a d_z margin judges the consistency
            of a change across items rather than its size.
        n_candidates: random directions ⟂ v.
        n_basis_candidates: random combinations of the Fisher basis (0 or ``fisher_basis = 0``: none).
        fisher_basis: smallest-eigenvalue Fisher eigenvectors used (full spectrum); 0 disables F̄.
        fisher_k: top eigenpairs by Lanczos when d > exact_max_dim and d > dense_max_dim (basis = their complement).
        exact_max_dim: largest d for the exact F̄ (:mod:`steerid.experiments.fisher.exact`: full spectrum from
            top-token rows in seconds, instead of products).
        fisher_positions: last positions per (prompt + continuation) sequence for F̄.
        fisher_at: ``steered`` (F̄ at +v) or ``unsteered``.
        split: fraction of the items used for the search (the rest confirm).
        theta_max_deg, n_theta, n_bisect, c_min, c_max, n_c, c_steps, match_tol, n_refine,
        refine_eta, correction, confirm_fractions, max_calls: search settings (see
        :func:`~steerid.experiments.farthest_search.search_farthest`); refinement proposals come
        from the Fisher basis when there is one.
        seed: seeds the split, candidates and refinement (None: ctx.seed).
    """

    alpha_rel: float = 0.1
    plan: EquivalencePlan = field(default_factory=EquivalencePlan)
    search_margin_dz: float | None = None
    margin_raw: dict[str, float] | None = None
    n_candidates: int = 8
    n_basis_candidates: int = 8
    fisher_basis: int = 8
    fisher_k: int = 32
    fisher_positions: int = 4
    dense_max_dim: int = 128
    exact_max_dim: int = 2048
    fisher_at: Literal["steered", "unsteered"] = "steered"
    split: float = 0.5
    theta_max_deg: float = 90.0
    n_theta: int = 6
    n_bisect: int = 3
    c_min: float = 0.25
    c_max: float = 4.0
    n_c: int = 7
    c_steps: int = 1
    match_tol: float = 0.01
    n_refine: int = 0
    refine_eta: float = 0.5
    correction: Literal["holm", "none"] = "holm"
    confirm_fractions: tuple[float, ...] = (0.5, 0.75)
    max_calls: int | None = None
    seed: int | None = None


def candidate_directions(v: np.ndarray, *, n_random: int, basis: np.ndarray | None = None, n_basis: int = 0,
                         seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Unit candidate directions ⟂ v: ``n_random`` uniform on the sphere of v^⊥ (kind ``random``), then
    ``n_basis`` uniform in span(P⊥v B) for a (d, k) ``basis`` B, e.g. low-Fisher eigenvectors (``basis``)."""
    vhat = check_vector(v, "v")
    vhat = vhat / np.linalg.norm(vhat)
    d, rng = vhat.size, np.random.default_rng(seed)
    dirs, kinds = [], []
    for _ in range(n_random):
        dirs.append(perp_unit(rng.standard_normal(d), vhat))
        kinds.append("random")
    if n_basis > 0:
        if basis is None:
            raise DataError("n_basis > 0 but no basis was given", "pass basis (d, k) or n_basis=0")
        q = perp_basis(basis, vhat)
        for _ in range(n_basis):
            dirs.append(perp_unit(q @ rng.standard_normal(q.shape[1]), vhat))
            kinds.append("basis")
    keep = [i for i, w in enumerate(dirs) if w is not None]
    if not keep:
        raise DataError("no candidate directions requested", "set n_random or n_basis > 0")
    return np.stack([dirs[i] for i in keep]), [kinds[i] for i in keep]


def split_items(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random disjoint (search, confirm) index arrays covering range(n), ⌊fraction·n⌉ search; ≥ 3 each."""
    if not 0 < fraction < 1:
        raise DataError(f"split must be in (0, 1), got {fraction}", "use e.g. 0.5")
    k = int(round(fraction * n))
    if k < 3 or n - k < 3:
        raise DataError(f"{n} items split {k}/{n - k}: need ≥ 3 search and ≥ 3 confirm items",
                        "add items or change split")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[:k]), np.sort(perm[k:])


def _texts(extra: dict, key: str, n: int, what: str, exact: bool = False) -> list[str]:
    values = extra.get(key)
    if values is None or len(values) < n or (exact and len(values) != n):
        raise DataError(f"{what} needs {'' if exact else 'at least '}{n} '{key}', one per item "
                        f"(got {0 if values is None else len(values)})", f"pass one '{key}' entry per item (item i ↔ index i)")
    return list(values)


def likelihood_measure(ctx: ExperimentContext) -> Measure:
    """The likelihood-route measure (module docstring): primary ``likelihood``, then ``loglik`` and,
    with ctx.extra['off_target'] = {prompts, positives, negatives} (item i paired with item i),
    ``off_target``. Rows are item-major: row i·K + k is item i under displacement k."""
    n = len(ctx.prompts)
    pos = _texts(ctx.extra, "positives", n, "ctx.extra", exact=True)
    neg = _texts(ctx.extra, "negatives", n, "ctx.extra", exact=True)
    off = ctx.extra.get("off_target")
    if off is not None:
        off_prompts = _texts(off, "prompts", n, "ctx.extra['off_target']")
        off_pos = _texts(off, "positives", n, "ctx.extra['off_target']")
        off_neg = _texts(off, "negatives", n, "ctx.extra['off_target']")

    def measure(deltas: np.ndarray, items: np.ndarray) -> dict[str, np.ndarray]:
        k, m = deltas.shape[0], items.size
        prompts = [ctx.prompts[i] for i in items for _ in range(k)]
        pairs = [(pos[i], neg[i]) for i in items for _ in range(k)]
        rows = np.tile(deltas, (m, 1))
        if off is not None:
            prompts += [off_prompts[i] for i in items for _ in range(k)]
            pairs += [(off_pos[i], off_neg[i]) for i in items for _ in range(k)]
            rows = np.concatenate([rows, rows])
        both = continuation_logprobs(ctx.lm, prompts, pairs, site=ctx.site, deltas=rows, batch_size=ctx.batch_size,
                                     reduce="mean")
        main = both[: m * k].reshape(m, k, 2)
        out = {"likelihood": (main[..., 0] - main[..., 1]).T, "loglik": main.mean(-1).T}
        if off is not None:
            other = both[m * k:].reshape(m, k, 2)
            out["off_target"] = (other[..., 0] - other[..., 1]).T
        return out

    return measure


def low_fisher_basis(config: FarthestConfig, ctx: ExperimentContext, items: np.ndarray,
                 v_disp: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Low-sensitivity basis (d, k) from F̄ on the given items' prompt + continuation tokens, with a summary."""
    lm = ctx.lm
    ids = encode(lm, [ctx.prompts[i] for i in items])
    seqs = []
    for row, i in zip(ids, items, strict=True):
        for cont in (ctx.extra["positives"][i], ctx.extra["negatives"][i]):
            seqs.append(row + lm.tokenizer(cont, add_special_tokens=False)["input_ids"])
    base = v_disp if config.fisher_at == "steered" else None
    if lm.info.hidden_size <= config.exact_max_dim:
        points = PointSet(lm, ctx.site, seqs, positions=config.fisher_positions, base=base,
                          batch_size=min(ctx.batch_size, 32))
        lin = exact_fisher(points, seed=ctx.seed, operating_point=config.fisher_at)
        spec = lin.spectrum()
    else:
        lin = SiteLinearization.build(lm, ctx.site, seqs, positions=config.fisher_positions, base=base,
                                      batch_size=min(ctx.batch_size, 32))
        spec = spectrum(lin, k=config.fisher_k, dense_max_dim=config.dense_max_dim, seed=ctx.seed)
    vecs, eigs, lam = spec.eigenvectors, spec.eigenvalues, float(spec.eigenvalues[0])
    if spec.complete:
        basis = vecs[:, -config.fisher_basis:]
        kept = (eigs[-config.fisher_basis:] / lam).tolist()
        how = f"the {config.fisher_basis} smallest-eigenvalue eigenvectors of the full spectrum"
    else:
        q, _ = np.linalg.qr(vecs, mode="complete")
        basis, kept = q[:, vecs.shape[1]:], [float(eigs[-1] / lam)]
        how = f"the complement of the top {spec.k} eigenvectors (its eigenvalues ≤ λ_k)"
    vhat = ctx.vector.direction
    info = {"method": spec.method, "d": spec.d, "n_positions": spec.n_positions, "basis_dim": int(basis.shape[1]),
            "basis": how, "basis_eigenvalues_rel": kept, "lambda_max": lam,
            "v_fisher_rel": float(vhat @ lin.product(vhat) / lam), "seconds": spec.seconds}
    return basis, {"info": info, "lin": lin}


def run(config: FarthestConfig, ctx: ExperimentContext) -> FarthestResult:
    """Search for the farthest u equivalent to v = α_rel·token_norm·v̂ on the likelihood route and confirm it."""
    start = time.perf_counter()
    seed = ctx.seed if config.seed is None else config.seed
    if config.fisher_at not in ("steered", "unsteered"):
        raise DataError(f"unknown fisher_at '{config.fisher_at}'", "use steered or unsteered")
    n = len(ctx.prompts)
    measure = likelihood_measure(ctx)
    search, confirm = split_items(n, config.split, seed)
    v_disp = ctx.displacement(config.alpha_rel)
    extras: dict[str, Any] = {"alpha_rel": config.alpha_rel, "displacement_norm": float(np.linalg.norm(v_disp)),
                              "token_norm": ctx.token_norm, "site": str(ctx.site), "model": ctx.lm.info.spec}
    basis, lin = None, None
    n_basis = config.n_basis_candidates if config.fisher_basis > 0 else 0
    if n_basis > 0:
        basis, fisher = low_fisher_basis(config, ctx, search, v_disp)
        extras["fisher"], lin = fisher["info"], fisher["lin"]
    cand, kinds = candidate_directions(v_disp, n_random=config.n_candidates, basis=basis, n_basis=n_basis, seed=seed)
    result = search_farthest(
        measure, v_disp, cand, items_search=search, items_confirm=confirm, margin_dz=config.plan.margin_dz,
        level=config.plan.level, search_margin_dz=config.search_margin_dz, margin_raw=config.margin_raw, candidate_kinds=kinds,
        theta_max_deg=config.theta_max_deg, n_theta=config.n_theta, n_bisect=config.n_bisect, c_min=config.c_min,
        c_max=config.c_max, n_c=config.n_c, c_steps=config.c_steps, match_tol=config.match_tol,
        n_refine=config.n_refine, refine_eta=config.refine_eta, refine_basis=basis, correction=config.correction,
        confirm_fractions=config.confirm_fractions, max_calls=config.max_calls, seed=seed)
    if lin is not None:
        u = np.asarray(result.u)
        uhat = u / np.linalg.norm(u)
        extras["fisher"]["u_fisher_rel"] = float(uhat @ lin.product(uhat) / extras["fisher"]["lambda_max"])
    result.config = jsonable(config.__dict__)
    result.extras = extras
    result.seconds = time.perf_counter() - start
    return result
