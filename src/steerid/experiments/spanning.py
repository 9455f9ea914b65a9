r"""E7: do directions from the Fisher null space keep behaviour while directions from its range break it?

Let F̄ be the output Fisher at the site (:mod:`steerid.experiments.fisher`), evaluated by default
at the steered operating point (the +αv̂ displacement at every position, points on the +v
continuation), with eigenpairs (λᵢ, uᵢ) and threshold θ = τ · λ_max. Split ℝᵈ into

    range R = span{uᵢ : λᵢ ≥ θ}      (directions the next-token distribution feels),
    null  N = R^⊥                     (every direction there has δ̂ᵀF̄δ̂ < θ, when certified).

With the full spectrum (small d) N is exactly the span of the eigenvectors below θ. With only the
top k (Lanczos) N is the orthogonal complement of the computed above-threshold eigenvectors; it
is *certified* when λ_k < θ (then every eigenvalue left in N is ≤ max(λᵢ < θ) or ≤ λ_k), and
otherwise only bounded by λ_k (reported). ``range_dim = r`` restricts the range family to the top
r eigenvectors (r = 1: the top eigenvector, a positive control).

Perturbations of equal norm ρ·‖αv̂‖ are drawn uniformly from each subspace
(:func:`subspace_direction`), n_draws per family, one direction per draw shared by all prompts,
and added to αv̂. Behaviour change is measured

- continuously, as in E4: KLᵢ = mean over the generated positions of the +v continuation of
  KL(p_v ‖ p_{v+δ}) (teacher-forced, all conditions of a prompt in one batch), averaged over draws
  per prompt;
- when ``ctx.extra["score_fn"]`` (a :data:`~steerid.experiments.conditions.ScoreFn`: texts and their
  prompt indices → array) is given, by the score of continuations
  generated under v + δ minus the score under v: dᵢ = mean over draws of (s(v+δ) − s(v)).

Per family the per-prompt values are paired across families; reported: the ratio of means
range/null with a paired bootstrap CI (:func:`steerid.stats.paired_ratio_ci`), one-sided Wilcoxon
signed-rank and paired t p-values for "null changes behaviour less than range" (on KLᵢ, and on
|dᵢ|), a paired TOST of dᵢ against 0 per family (:func:`steerid.stats.paired_tost`, margin
d_z or raw) and the fraction of single null draws that pass TOST with its Wilson CI. The exact
δ̂ᵀF̄δ̂ / λ_max of every draw is reported too, so one can check that null draws are null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
from scipy import stats as st

from steerid.engine.batching import encode
from steerid.errors import DataError
from steerid.experiments.base import ExperimentContext
from steerid.experiments.conditions import ScoreFn
from steerid.experiments.directions import subspace_direction
from steerid.experiments.fisher import FisherSpectrum, SiteLinearization, spectrum
from steerid.experiments.logit_distance import describe, divergences
from steerid.engine.generation import generate
from steerid.results import ResultMixin, Summary, Table, fields_dict, jsonable
from steerid.stats import paired_ratio_ci, paired_tost, wilson_ci
from steerid.stats.plan import EquivalencePlan
from steerid.engine.steer import Scope


@dataclass(frozen=True)
class SpanningConfig:
    """E7 settings.

    Attributes:
        alpha_rel: steering strength relative to the median token norm.
        rho: perturbation norm as a multiple of ‖αv̂‖.
        n_draws: perturbations per family.
        tolerance: τ; null = eigenvalues below τ · λ_max.
        range_dim: use only the top ``range_dim`` eigenvectors for the range family (None: all ≥ θ).
        k: eigenpairs by Lanczos when d > ``dense_max_dim``.
        dense_max_dim: largest d for the full spectrum.
        fisher_prompts / fisher_positions: prompts and last positions per sequence for F̄.
        fisher_at: ``steered`` (F̄ at +αv̂) or ``unsteered``.
        max_new_tokens: continuation length.
        scope: steering scope for generation and teacher forcing (F̄'s base is added at every
            position, so with ``generated`` it approximates the operating point).
        greedy: greedy decoding for the score-based measure (else seeded sampling, paired seeds).
        plan: the equivalence plan (its ``margin_dz`` and ``level``: the level of the one-sided
            tests and of each TOST side); ``margin_raw`` (score units) overrides the d_z margin.
        confidence / n_resamples: bootstrap settings.
    """

    alpha_rel: float = 0.05
    rho: float = 1.0
    n_draws: int = 8
    tolerance: float = 1e-3
    range_dim: int | None = None
    k: int = 64
    dense_max_dim: int = 128
    fisher_prompts: int | None = 16
    fisher_positions: int = 8
    fisher_at: Literal["steered", "unsteered"] = "steered"
    max_new_tokens: int = 32
    scope: Scope = "all"
    greedy: bool = True
    plan: EquivalencePlan = field(default_factory=EquivalencePlan)
    margin_raw: float | None = None
    confidence: float = 0.95
    n_resamples: int = 2000


@dataclass(repr=False)
class Subspaces(ResultMixin):
    """Orthonormal bases of the Fisher range and null families and what is known about them."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("threshold", "certified", "null_max_eigenvalue")

    range_basis: np.ndarray
    null_basis: np.ndarray
    threshold: float
    certified: bool
    null_max_eigenvalue: float
    note: str


def fisher_subspaces(spec: FisherSpectrum, tolerance: float, range_dim: int | None = None) -> Subspaces:
    """Split ℝᵈ into the Fisher range (λ ≥ τ·λ_max) and its orthogonal complement (the null family).

    Args:
        spec: a spectrum with eigenvectors (dense or Lanczos).
        tolerance: τ in (0, 1).
        range_dim: restrict the range family to the top ``range_dim`` eigenvectors.
    """
    if spec.eigenvectors is None:
        raise DataError("the Fisher spectrum has no eigenvectors", "compute it with return_vectors=True")
    if not 0 < tolerance < 1:
        raise DataError(f"tolerance must be in (0, 1), got {tolerance}", "use values such as 1e-3")
    eigs, vecs, d = spec.eigenvalues, spec.eigenvectors, spec.d
    threshold = tolerance * eigs[0]
    above = eigs >= threshold
    n_above = int(above.sum())
    if n_above >= d:
        raise DataError(f"no Fisher eigenvalue is below τ·λ_max = {threshold:.3g} (τ = {tolerance:g}): the null space is empty",
                        "raise the tolerance or choose another site")
    full_range = vecs[:, above]
    q, _ = np.linalg.qr(full_range, mode="complete")
    null_basis = q[:, n_above:]
    if spec.complete:
        certified, bound = True, float(eigs[~above].max())
        note = f"full spectrum: null = {d - n_above} eigenvectors with λ < {threshold:.3g}"
    elif not above.all():
        certified, bound = True, float(eigs[~above].max())
        note = (f"top {spec.k} of {d} computed and λ_k < θ: null = complement of the {n_above} range eigenvectors, "
                f"every eigenvalue in it ≤ {bound:.3g}")
    else:
        certified, bound = False, float(eigs[-1])
        note = (f"all {spec.k} computed eigenvalues are ≥ θ = {threshold:.3g}: the complement of the top {spec.k} is "
                f"not certified null, its eigenvalues are only bounded by λ_k = {bound:.3g}; raise k")
    range_basis = full_range
    if range_dim is not None:
        if not 1 <= range_dim <= n_above:
            raise DataError(f"range_dim must be in [1, {n_above}] (eigenvalues ≥ θ), got {range_dim}",
                            "lower range_dim or the tolerance")
        range_basis = full_range[:, :range_dim]
        note += f"; range family restricted to the top {range_dim} eigenvector(s)"
    return Subspaces(range_basis, null_basis, float(threshold), certified, bound, note)


@dataclass(repr=False)
class SpanningResult(ResultMixin):
    """E7 result (see the module docstring).

    Attributes:
        fisher: the spectrum used (eigenvalues, null-space dimensions).
        subspaces: dims, threshold, certification and the largest eigenvalue left in the null family.
        perturbation_norm: ρ · ‖αv̂‖.
        draws: per draw: family, index, δ̂ᵀF̄δ̂ / λ_max and mean KL over prompts.
        kl: per family summaries and the paired comparison range vs null.
        score: the same on score differences plus TOST (None without ``score_fn``).
        n_prompts / n_used: prompts given / with a non-empty +v continuation.
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("site", "model", "perturbation_norm", "n_used")

    site: str
    model: str
    fisher: FisherSpectrum
    subspaces: dict
    perturbation_norm: float
    draws: list[dict]
    kl: dict
    score: dict | None
    n_prompts: int
    n_used: int
    config: dict

    def to_dict(self) -> dict:
        return jsonable({"experiment": "E7", **fields_dict(self)})

    def summary(self) -> Summary:
        """Subspace dimensions and certification, KL per family and the range-vs-null comparison."""
        scalars = [(k, v) for k, v in self.kl.items() if isinstance(v, (int, float, str, bool))]
        return Summary("E7 spanning: null-space vs range directions", rows=[
            ("site", self.site), ("model", self.model), ("prompts", self.n_prompts), ("prompts used", self.n_used),
            ("perturbation norm", self.perturbation_norm),
            *[(f"subspaces: {k}", v) for k, v in self.subspaces.items() if isinstance(v, (int, float, str, bool))],
            *[(f"KL: {k}", v) for k, v in scalars],
        ], tables=[Table(("family", "draw", "δ̂ᵀF̄δ̂ / λ_max", "mean KL"), tuple(
            (d.get("family"), d.get("draw"), d.get("fisher_rel"), d.get("kl")) for d in self.draws))])


def paired_comparison(null: np.ndarray, rng_: np.ndarray, config: SpanningConfig, seed: int) -> dict:
    """range/null ratio with CI and one-sided tests that ``null`` < ``rng_`` (per-prompt, paired)."""
    opts = dict(confidence=config.confidence, n_resamples=config.n_resamples, seed=seed)
    diff = rng_ - null
    if np.all(diff == 0):
        wilcoxon_p = 1.0
    else:
        wilcoxon_p = float(st.wilcoxon(null, rng_, alternative="less").pvalue)
    ttest_p = float(st.ttest_rel(null, rng_, alternative="less").pvalue)
    return {
        "null": describe(null, **opts),
        "range": describe(rng_, **opts),
        "ratio_range_over_null": paired_ratio_ci(rng_, null, **opts).to_dict(),
        "wilcoxon_p": wilcoxon_p,
        "paired_t_p": ttest_p,
        "null_less_than_range": bool(max(wilcoxon_p, ttest_p) < config.plan.level),
    }


def _tost(diff: np.ndarray, config: SpanningConfig) -> dict:
    return paired_tost(diff, margin_dz=config.plan.margin_dz, margin_raw=config.margin_raw, alpha=config.plan.level).to_dict()


def _score_measure(ctx: ExperimentContext, config: SpanningConfig, used: list[int], v_disp: np.ndarray,
                   deltas: dict[str, np.ndarray], families: dict[str, list[str]], base_texts: list[str],
                   score_fn: ScoreFn) -> dict:
    names = list(deltas)
    n = len(used)
    rows = np.stack([v_disp + deltas[name] for name in names])
    rep_prompts = [ctx.prompts[i] for i in used for _ in names]
    seeds = None if config.greedy else [ctx.seed + i for i in used for _ in names]
    gen = generate(ctx.lm, rep_prompts, site=ctx.site, deltas=np.tile(rows, (n, 1)), scope=config.scope,
                   max_new_tokens=config.max_new_tokens, greedy=config.greedy, seeds=seeds, batch_size=ctx.batch_size)
    base = np.asarray(score_fn(base_texts, np.asarray(used)), dtype=np.float64)
    scores = np.asarray(score_fn(gen.texts, np.repeat(np.asarray(used), len(names))), dtype=np.float64).reshape(n, len(names))
    if base.shape != (n,) or not np.isfinite(scores).all() or not np.isfinite(base).all():
        raise DataError("score_fn must return one finite score per text", "check the scorer")
    diff = {name: scores[:, j] - base for j, name in enumerate(names)}
    per_family = {fam: np.mean([diff[nm] for nm in members], axis=0) for fam, members in families.items()}
    out = paired_comparison(np.abs(per_family["null"]), np.abs(per_family["range"]), config, ctx.seed)
    out["measure"] = "|score(v+δ) − score(v)|, per prompt mean over draws"
    out["tost_null"] = _tost(per_family["null"], config)
    out["tost_range"] = _tost(per_family["range"], config)
    passes = [bool(paired_tost(diff[nm], margin_dz=config.plan.margin_dz, margin_raw=config.margin_raw,
                               alpha=config.plan.level).equivalent) for nm in families["null"]]
    out["null_draws_passing_tost"] = {"k": sum(passes), "n": len(passes),
                                      "interval": wilson_ci(sum(passes), len(passes), config.confidence).to_dict()}
    out["mean_diff"] = {fam: float(v.mean()) for fam, v in per_family.items()}
    return out


def run(config: SpanningConfig, ctx: ExperimentContext) -> SpanningResult:
    """E7: equal-norm perturbations from the Fisher null space vs its range, around +αv̂."""
    if config.n_draws < 2:
        raise DataError(f"n_draws must be ≥ 2, got {config.n_draws}", "use several draws per family (≥ 8 recommended)")
    if config.fisher_at not in ("steered", "unsteered"):
        raise DataError(f"unknown fisher_at '{config.fisher_at}'", "use steered or unsteered")
    lm, site = ctx.lm, ctx.site
    v_disp = ctx.displacement(config.alpha_rel)
    gen = generate(lm, ctx.prompts, site=site, deltas=v_disp, scope=config.scope, max_new_tokens=config.max_new_tokens,
                   greedy=config.greedy, seeds=None if config.greedy else [ctx.seed + i for i in range(len(ctx.prompts))],
                   batch_size=ctx.batch_size)
    used = [i for i, toks in enumerate(gen.tokens) if toks]
    if len(used) < 2:
        raise DataError(f"only {len(used)} prompt(s) produced a continuation under +v", "use more prompts or a smaller alpha_rel")

    fisher_idx = used[: config.fisher_prompts] if config.fisher_prompts else used
    ids = encode(lm, [ctx.prompts[i] for i in fisher_idx])
    sequences = [row + gen.tokens[i] for row, i in zip(ids, fisher_idx, strict=True)]
    base = v_disp if config.fisher_at == "steered" else None
    lin = SiteLinearization.build(lm, site, sequences, positions=config.fisher_positions, base=base,
                                  batch_size=min(ctx.batch_size, 32))
    spec = spectrum(lin, k=config.k, dense_max_dim=config.dense_max_dim, tolerances=(config.tolerance,), seed=ctx.seed)
    sub = fisher_subspaces(spec, config.tolerance, config.range_dim)

    rng = np.random.default_rng(ctx.seed)
    norm = config.rho * float(np.linalg.norm(v_disp))
    deltas: dict[str, np.ndarray] = {}
    families: dict[str, list[str]] = {"null": [], "range": []}
    for family, basis in (("null", sub.null_basis), ("range", sub.range_basis)):
        for k in range(config.n_draws):
            name = f"{family}[{k}]"
            deltas[name] = norm * subspace_direction(basis, rng)
            families[family].append(name)

    prompts = [ctx.prompts[i] for i in used]
    conts = [gen.tokens[i] for i in used]
    div = divergences(lm, site, prompts, conts, v_disp, {nm: v_disp + dl for nm, dl in deltas.items()},
                      scope=config.scope, batch_size=ctx.batch_size)
    lam_max = float(spec.eigenvalues[0])
    draws = []
    for family, members in families.items():
        for k, name in enumerate(members):
            unit = deltas[name] / norm
            draws.append({"family": family, "draw": k, "fisher_rel": float(unit @ lin.product(unit) / lam_max),
                          "kl_mean": float(div[name].kl.mean())})
    per_family = {fam: np.mean([div[nm].kl for nm in members], axis=0) for fam, members in families.items()}
    kl = paired_comparison(per_family["null"], per_family["range"], config, ctx.seed)
    kl["measure"] = "KL(p_v ‖ p_{v+δ}) on generated positions, per prompt mean over draws"

    score = None
    score_fn = ctx.extra.get("score_fn")
    if score_fn is not None:
        if not callable(score_fn):
            raise DataError("ctx.extra['score_fn'] is not callable", "pass a function (texts, prompt_indices) -> np.ndarray")
        score = _score_measure(ctx, config, used, v_disp, deltas, families, [gen.texts[i] for i in used], score_fn)

    subspaces = {"range_dim": int(sub.range_basis.shape[1]), "null_dim": int(sub.null_basis.shape[1]),
                 "threshold": sub.threshold, "certified": sub.certified,
                 "null_max_eigenvalue_rel": sub.null_max_eigenvalue / lam_max, "note": sub.note}
    return SpanningResult(site=str(site), model=lm.info.name, fisher=spec, subspaces=subspaces, perturbation_norm=norm,
                  draws=draws, kl=kl, score=score, n_prompts=len(ctx.prompts), n_used=len(used), config=jsonable(config))


# E7 (its name in audit configs, the CLI and the report) — aliases of the descriptive names.
E7Config = SpanningConfig
E7Result = SpanningResult
