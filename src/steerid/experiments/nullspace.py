r"""E6: how many directions at the site can matter? (a) activation covariance, (b) output Fisher.

(a) Covariance spectrum. Every real token except each text's first (an attention sink whose
norm is hundreds of times larger) is pooled; with n tokens of width d the unbiased covariance

    Σ = (1/(n − 1)) Σₜ (hₜ − μ)(hₜ − μ)ᵀ

is accumulated in float64 (:func:`steerid.capture.token_moments`) and its eigenvalues
λ₁ ≥ … ≥ λ_d come from ``numpy.linalg.eigvalsh``. Reported:

- effective rank at q ∈ {0.90, 0.95, 0.99}: the smallest r with Σ_{i≤r} λᵢ ≥ q · Σᵢ λᵢ
  (negative round-off eigenvalues count as 0), also as a fraction of d;
- numerical rank: #{λᵢ > λ₁ · d · ε_float64} (the ``matrix_rank`` convention);
- n versus d: a centred covariance of n tokens has rank ≤ n − 1, so with n ≤ d every
  "null-space" statement is about the sample, not the model — pool more tokens.

A "null-space dimension" from the covariance is a threshold choice (d − effective rank), not a
property of the model: the spectrum is returned so the threshold stays visible.

(b) Fisher metric F̄ = mean Jᵀ(diag p − ppᵀ)J at the site (see
:mod:`steerid.experiments.fisher`): its spectrum and null-space dimension at tolerances relative
to λ_max, with the raw JᵀJ spectrum beside it for contrast. For d ≤ ``exact_max_dim`` the whole
spectrum comes from :mod:`steerid.experiments.fisher.exact` (with its truncation bound β), at the
unsteered point and — with ``alpha_rel`` set — at each steered point s·α·v; each reports the
null-space dimension per tolerance with a percentile CI from a cluster bootstrap over sequences
(``n_boot``) and its median over random subsets of ⅛, ¼, ½ and all of the sequences (a direction is
only "null" if enough points probe it). Above it, Lanczos gives the top k (a bound, as before). The Fisher is evaluated at the last
``fisher_positions`` tokens of each prompt followed by its greedy unsteered continuation
(``fisher_on="continuation"``, the positions whose next-token distributions the other experiments
compare) or of the prompt alone (``"prompt"``; its last tokens are usually chat-template tokens
with near-deterministic successors, where F ≈ 0).

Also reported for the vector under audit: its share of the covariance (v̂ᵀΣv̂ / tr Σ), its Fisher
Rayleigh quotient relative to λ_max (v̂ᵀF̄v̂ / λ_max), the fraction of ‖v̂‖² inside the computed
Fisher eigenvectors (1 for a full spectrum) and, per tolerance τ, inside the "range" spanned by
eigenvectors with λ ≥ τ·λ_max (a lower bound when only the top k are computed and λ_k ≥ τ·λ_max).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from steerid.engine.batching import encode
from steerid.capture import token_moments
from steerid.errors import DataError
from steerid.experiments.base import ExperimentContext
from steerid.experiments.fisher import (
    DEFAULT_TOLERANCES,
    FisherSpectrum,
    PointSet,
    SiteLinearization,
    null_space_dimension,
    spectrum,
)
from steerid.experiments.fisher.exact import ExactFisher, exact_fisher
from steerid.engine.generation import generate
from steerid.models.loader import LoadedModel
from steerid.models.site import Site
from steerid.results import ResultMixin, Summary, Table, fields_dict, jsonable

DEFAULT_THRESHOLDS = (0.90, 0.95, 0.99)


@dataclass(repr=False)
class CovarianceSpectrum(ResultMixin):
    """Eigen-spectrum of the token covariance at a site (see the module docstring).

    Attributes:
        site: ``in:L`` / ``out:L``.
        eigenvalues: all d eigenvalues, descending, float64.
        n: tokens pooled (first token of each text excluded).
        d: site dimension.
        effective_rank: threshold → smallest r explaining that share of the variance.
        effective_rank_fraction: the same divided by d.
        numerical_rank: eigenvalues above ``rank_tolerance``.
        rank_tolerance: λ_max · d · ε_float64.
        rank_bounded_by_n: True when n − 1 < d (the sample cannot span the space).
        note: one sentence on n vs d.
        basis: top ``basis_k`` eigenvectors as columns (d, k), or None (not serialised).
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("site", "n", "d", "numerical_rank")

    site: str
    eigenvalues: np.ndarray
    n: int
    d: int
    effective_rank: dict[float, int]
    effective_rank_fraction: dict[float, float]
    numerical_rank: int
    rank_tolerance: float
    rank_bounded_by_n: bool
    note: str
    basis: np.ndarray | None = field(default=None, repr=False)

    @property
    def total_variance(self) -> float:
        return float(np.clip(self.eigenvalues, 0, None).sum())

    def to_dict(self) -> dict:
        out = fields_dict(self, exclude=("basis",))
        out["total_variance"] = self.total_variance
        return jsonable(out)

    def summary(self) -> Summary:
        """Effective rank at each variance threshold, n vs d."""
        ranks = Table(("variance", "effective rank", "fraction of d"), tuple(
            (t, r, self.effective_rank_fraction.get(t)) for t, r in self.effective_rank.items()))
        return Summary(f"Token covariance spectrum at {self.site}", rows=[
            ("tokens n", self.n), ("d", self.d), ("numerical rank", self.numerical_rank),
            ("rank bounded by n", self.rank_bounded_by_n), ("total variance", self.total_variance),
        ], tables=[ranks], sections={"notes": [self.note]})


def effective_rank(eigenvalues: np.ndarray, threshold: float) -> int:
    """Smallest r with Σ_{i≤r} λᵢ ≥ threshold · Σ λᵢ (eigenvalues clipped at 0, any order)."""
    if not 0 < threshold <= 1:
        raise DataError(f"variance threshold must be in (0, 1], got {threshold}", "use values such as 0.95")
    eigs = np.sort(np.clip(np.asarray(eigenvalues, dtype=np.float64), 0, None))[::-1]
    total = eigs.sum()
    if total <= 0:
        raise DataError("the covariance is zero", "capture texts whose activations vary")
    share = np.cumsum(eigs) / total
    return int(min(np.searchsorted(share, threshold * (1 - 1e-12)) + 1, eigs.size))


def spectrum_from_covariance(covariance: np.ndarray, n: int, *, site: str = "",
                             thresholds: Sequence[float] = DEFAULT_THRESHOLDS, basis_k: int = 0) -> CovarianceSpectrum:
    """Summarise a covariance matrix estimated from ``n`` rows (pure linear algebra, float64)."""
    cov = np.asarray(covariance, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or not np.isfinite(cov).all():
        raise DataError(f"covariance must be a finite square matrix, got shape {cov.shape}", "pass the d × d covariance")
    d = cov.shape[0]
    cov = 0.5 * (cov + cov.T)
    if basis_k:
        if not 0 < basis_k <= d:
            raise DataError(f"basis_k must be in [1, {d}], got {basis_k}", "ask for at most d eigenvectors")
        vals, vecs = np.linalg.eigh(cov)
        basis = vecs[:, ::-1][:, :basis_k].copy()
    else:
        vals, basis = np.linalg.eigvalsh(cov), None
    eigs = vals[::-1].copy()
    ranks = {float(q): effective_rank(eigs, q) for q in thresholds}
    tolerance = float(max(eigs[0], 0.0) * d * np.finfo(np.float64).eps)
    numerical = int((eigs > tolerance).sum())
    bounded = n - 1 < d
    if bounded:
        note = (f"n = {n} tokens ≤ d = {d}: the sample covariance has rank ≤ n − 1 = {n - 1}, so directions "
                f"beyond it are unseen, not shown to be null; pool more tokens")
    else:
        note = f"n = {n} tokens > d = {d}: the sample can span the space (rank ≤ min(n − 1, d) = {d})"
    return CovarianceSpectrum(
        site=site, eigenvalues=eigs, n=int(n), d=d, effective_rank=ranks,
        effective_rank_fraction={q: r / d for q, r in ranks.items()}, numerical_rank=numerical,
        rank_tolerance=tolerance, rank_bounded_by_n=bounded, note=note, basis=basis,
    )


def covariance_spectrum(lm: LoadedModel, site: Site, texts: Sequence[str], *, batch_size: int = 16,
                        thresholds: Sequence[float] = DEFAULT_THRESHOLDS, basis_k: int = 0) -> CovarianceSpectrum:
    """Covariance spectrum of every real non-first token of ``texts`` at ``site``.

    Args:
        lm: the model.
        site: residual site.
        texts: formatted texts; tokens are pooled across texts.
        batch_size: texts per forward pass.
        thresholds: variance shares for the effective rank.
        basis_k: also return the top ``basis_k`` eigenvectors (e.g. for recovery, gauge fixing, E7).

    Example:
        >>> spec = covariance_spectrum(lm, Site(15), prompts)
        >>> spec.effective_rank[0.95], spec.n, spec.d
    """
    moments, _ = token_moments(lm, texts, site, skip_first=True, batch_size=batch_size)
    if moments.n < 2:
        raise DataError(f"only {moments.n} token(s) beyond the first", "use more or longer texts")
    return spectrum_from_covariance(moments.covariance(), moments.n, site=str(site), thresholds=thresholds,
                                    basis_k=basis_k)


# --------------------------------------------------------------------------------------------
# E6 unit
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NullSpaceConfig:
    """E6 settings.

    Attributes:
        thresholds: variance shares for the covariance effective rank.
        tolerances: Fisher null-space tolerances relative to λ_max.
        fisher_prompts: prompts used for the Fisher (the first ones; None = all).
        fisher_positions: last real positions per sequence averaged in the Fisher.
        fisher_on: ``continuation`` (prompt + greedy unsteered continuation) or ``prompt``.
        max_new_tokens: continuation length when ``fisher_on="continuation"``.
        k: eigenpairs by Lanczos when d > ``dense_max_dim``.
        dense_max_dim: largest d for the dense (full-spectrum) Fisher.
        euclidean: also compute the raw JᵀJ spectrum (contrast; with the exact Fisher only when
            d ≤ ``dense_max_dim``, since JᵀJ has no tail bound).
        lanczos_tol: accuracy requested from ``eigsh``.
        exact_max_dim: largest d for the exact Fisher (:mod:`steerid.experiments.fisher.exact`:
            full spectrum from top-token rows, with its truncation bound); above it Lanczos (top k).
        tail / max_tokens: tokens kept per point by the exact Fisher (left-out mass ≤ tail, at most
            max_tokens tokens; the bound covers what is left out).
        alpha_rel / signs: the steered operating points (base displacement sign·α_rel·token_norm·v̂ at
            every position) where the exact Fisher is also computed; ``None`` = unsteered only.
        n_boot: cluster-bootstrap resamples (over sequences) for the null-space dimension's CI.
    """

    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    tolerances: tuple[float, ...] = DEFAULT_TOLERANCES
    fisher_prompts: int | None = 16
    fisher_positions: int = 8
    fisher_on: Literal["continuation", "prompt"] = "continuation"
    max_new_tokens: int = 16
    k: int = 32
    dense_max_dim: int = 128
    euclidean: bool = True
    lanczos_tol: float = 1e-6
    exact_max_dim: int = 2048
    tail: float = 1e-3
    max_tokens: int = 256
    alpha_rel: float | None = None
    signs: tuple[int, ...] = (1, -1)
    n_boot: int = 100


@dataclass(repr=False)
class NullSpaceResult(ResultMixin):
    """E6 result: covariance spectrum, Fisher spectrum (and JᵀJ), and where the vector sits."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("site", "model")

    site: str
    model: str
    covariance: CovarianceSpectrum
    fisher: FisherSpectrum
    euclidean: FisherSpectrum | None
    vector: dict[str, float]
    config: dict
    exact: dict | None = None
    steered: list[dict] = field(default_factory=list)
    bases: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        return jsonable({"experiment": "E6", "site": self.site, "model": self.model, "covariance": self.covariance,
                         "fisher": self.fisher, "euclidean": self.euclidean, "vector": self.vector,
                         "config": self.config, "exact": self.exact, "steered": self.steered})

    def summary(self) -> Summary:
        """Covariance ranks, Fisher null-space dimensions and where the vector sits."""
        cov, fisher = self.covariance.summary(), self.fisher.summary()
        tables = [*cov.tables, *fisher.tables]
        points = [self.exact, *self.steered] if self.exact else []
        if points:
            tables.append(Table(("operating point", "tolerance", "null dim", "95% CI", "β/λ_max"), tuple(
                (e["operating_point"], c["tolerance"], c["dimension"], f"[{c['low']:g}, {c['high']:g}]",
                 e["bound_over_max"]) for e in points for c in e["null_dimension_ci"])))
            tables.append(Table(("points", "tolerance", "null dim (median)", "min", "max"), tuple(
                (b["n_points"], b["tolerance"], b["median"], b["low"], b["high"])
                for b in self.exact["null_dimension_by_points"])))
        return Summary("E6 null space", rows=[("site", self.site), ("model", self.model), *self.vector.items()],
                       tables=tables, sections={"covariance": [self.covariance.note], "fisher": [self.fisher.note]})


def fisher_sequences(ctx: ExperimentContext, prompts: Sequence[str], on: str, max_new_tokens: int,
                     deltas: np.ndarray | None = None) -> list[list[int]]:
    """Token ids for the Fisher points: prompt (+ greedy continuation under ``deltas``)."""
    if on not in ("continuation", "prompt"):
        raise DataError(f"unknown fisher_on '{on}'", "use continuation or prompt")
    ids = encode(ctx.lm, prompts)
    if on == "prompt":
        return ids
    gen = generate(ctx.lm, prompts, site=ctx.site if deltas is not None else None, deltas=deltas,
                   max_new_tokens=max_new_tokens, batch_size=ctx.batch_size)
    return [row + cont for row, cont in zip(ids, gen.tokens, strict=True)]


def run(config: NullSpaceConfig, ctx: ExperimentContext) -> NullSpaceResult:
    """E6: covariance spectrum on ``ctx.prompts`` and Fisher / JᵀJ spectra at ``ctx.site``."""
    lm, site = ctx.lm, ctx.site
    moments, _ = token_moments(lm, ctx.prompts, site, skip_first=True, batch_size=ctx.batch_size)
    if moments.n < 2:
        raise DataError(f"only {moments.n} token(s) beyond the first", "use more or longer prompts")
    cov_matrix = moments.covariance()
    cov = spectrum_from_covariance(cov_matrix, moments.n, site=str(site), thresholds=config.thresholds)
    prompts = ctx.prompts[: config.fisher_prompts] if config.fisher_prompts else ctx.prompts
    sequences = fisher_sequences(ctx, prompts, config.fisher_on, config.max_new_tokens)
    if lm.info.hidden_size <= config.exact_max_dim:
        return _run_exact(config, ctx, cov, cov_matrix, prompts, sequences)
    lin = SiteLinearization.build(lm, site, sequences, positions=config.fisher_positions,
                                  batch_size=min(ctx.batch_size, 32))
    common = dict(k=config.k, dense_max_dim=config.dense_max_dim, tolerances=config.tolerances, seed=ctx.seed,
                  lanczos_tol=config.lanczos_tol)
    fisher = spectrum(lin, metric="fisher", **common)
    euclid = spectrum(lin, metric="euclidean", **common) if config.euclidean else None
    u = ctx.vector.direction
    top = fisher.eigenvectors
    vector = {
        "covariance_share": float(u @ cov_matrix @ u / np.trace(cov_matrix)),
        "fisher_rayleigh_over_max": float(u @ lin.product(u) / fisher.eigenvalues[0]),
        "fisher_computed_mass": float(np.sum((top.T @ u) ** 2)),
    }
    for tol in config.tolerances:
        keep = fisher.eigenvalues >= tol * fisher.eigenvalues[0]
        vector[f"fisher_range_mass@{tol:g}"] = float(np.sum((top[:, keep].T @ u) ** 2))
    return NullSpaceResult(site=str(site), model=lm.info.name, covariance=cov, fisher=fisher, euclidean=euclid, vector=vector,
                  config=jsonable(config))


def _exact_at(config: NullSpaceConfig, ctx: ExperimentContext, sequences, base: np.ndarray | None,
              label: str) -> tuple[ExactFisher, dict]:
    points = PointSet(ctx.lm, ctx.site, sequences, positions=config.fisher_positions, base=base,
                      batch_size=min(ctx.batch_size, 32))
    exact = exact_fisher(points, tail=config.tail, max_tokens=config.max_tokens, seed=ctx.seed, operating_point=label)
    vals = exact.eigh()[0]
    u = ctx.vector.direction
    out = exact.to_dict()
    out["eigenvalues"] = vals
    out["null_space"] = [n.to_dict() for n in null_space_dimension(vals, tolerances=config.tolerances)]
    out["null_dimension_ci"] = [c.to_dict() for c in exact.null_dimension_ci(config.tolerances, n_boot=config.n_boot,
                                                                            seed=ctx.seed)]
    out["null_dimension_by_points"] = [b.to_dict() for b in exact.null_dimension_by_points(tolerances=config.tolerances,
                                                                                         seed=ctx.seed)]
    out["vector_rayleigh_over_max"] = float(u @ exact.matrix @ u / vals[0])
    return exact, out


def _run_exact(config: NullSpaceConfig, ctx: ExperimentContext, cov: CovarianceSpectrum, cov_matrix: np.ndarray,
               prompts: Sequence[str], sequences) -> NullSpaceResult:
    """E6(b) with the exact Fisher: full spectra at the unsteered and at each steered operating point."""
    exact, summary = _exact_at(config, ctx, sequences, None, "unsteered")
    fisher = exact.spectrum(config.tolerances)
    euclid = None
    if config.euclidean and ctx.lm.info.hidden_size <= config.dense_max_dim:
        lin = SiteLinearization.build(ctx.lm, ctx.site, sequences, positions=config.fisher_positions,
                                      batch_size=min(ctx.batch_size, 32))
        euclid = spectrum(lin, metric="euclidean", method="dense", tolerances=config.tolerances)
    u = ctx.vector.direction
    vecs, vals = fisher.eigenvectors, fisher.eigenvalues
    vector = {
        "covariance_share": float(u @ cov_matrix @ u / np.trace(cov_matrix)),
        "fisher_rayleigh_over_max": float(u @ exact.matrix @ u / vals[0]),
        "fisher_computed_mass": 1.0,
    }
    for tol in config.tolerances:
        keep = vals >= tol * vals[0]
        vector[f"fisher_range_mass@{tol:g}"] = float(np.sum((vecs[:, keep].T @ u) ** 2))
    bases = {f"unsteered@{tol:g}": exact.null_space(tol) for tol in config.tolerances}
    steered = []
    if config.alpha_rel is not None:
        for sign in config.signs:
            label = f"{'+' if sign > 0 else '-'}{config.alpha_rel:g}·v"
            base = sign * ctx.displacement(config.alpha_rel)
            seqs = fisher_sequences(ctx, prompts, config.fisher_on, config.max_new_tokens,
                                    deltas=base if config.fisher_on == "continuation" else None)
            at, out = _exact_at(config, ctx, seqs, base, label)
            out["sign"] = int(sign)
            out["alpha_rel"] = float(config.alpha_rel)
            steered.append(out)
            bases.update({f"{label}@{tol:g}": at.null_space(tol) for tol in config.tolerances})
    return NullSpaceResult(site=str(ctx.site), model=ctx.lm.info.name, covariance=cov, fisher=fisher, euclidean=euclid,
                           vector=vector, config=jsonable(config), exact=summary, steered=steered, bases=bases)


# E6 (its name in audit configs, the CLI and the report) — aliases of the descriptive names.
E6Config = NullSpaceConfig
E6Result = NullSpaceResult
