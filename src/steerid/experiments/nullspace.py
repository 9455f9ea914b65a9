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
to λ_max, with the raw JᵀJ spectrum beside it for contrast. The Fisher is evaluated at the last
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
from steerid.experiments.fisher import DEFAULT_TOLERANCES, FisherSpectrum, SiteLinearization, spectrum
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
        euclidean: also compute the raw JᵀJ spectrum (contrast).
        lanczos_tol: accuracy requested from ``eigsh``.
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

    def to_dict(self) -> dict:
        return jsonable({"experiment": "E6", "site": self.site, "model": self.model, "covariance": self.covariance,
                         "fisher": self.fisher, "euclidean": self.euclidean, "vector": self.vector,
                         "config": self.config})

    def summary(self) -> Summary:
        """Covariance ranks, Fisher null-space dimensions and where the vector sits."""
        cov, fisher = self.covariance.summary(), self.fisher.summary()
        return Summary("E6 null space", rows=[("site", self.site), ("model", self.model), *self.vector.items()],
                       tables=[*cov.tables, *fisher.tables], sections={"covariance": [self.covariance.note],
                                                                        "fisher": [self.fisher.note]})


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


# E6 (its name in audit configs, the CLI and the report) — aliases of the descriptive names.
E6Config = NullSpaceConfig
E6Result = NullSpaceResult
