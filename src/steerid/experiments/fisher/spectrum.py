r"""Spectrum of the averaged output Fisher (or Gram) metric and its null-space dimension.

For d ≤ ``dense_max_dim`` (or ``method="dense"``) F̄ is built densely from d products and
symmetrised; otherwise its top k eigenpairs come from Lanczos (``eigsh`` on a
``LinearOperator`` of Fisher-vector products).

Null-space dimension at tolerance τ: the number of eigenvalues below τ·λ_max. With the full
spectrum it is exact for these points. With only the top k of d: if λ_k < τ·λ_max every
uncomputed eigenvalue is ≤ λ_k and the count is d − #{λ ≥ τ·λ_max} (determined); otherwise only
rank ≥ k is known, so the null space has dimension ≤ d − k (an upper bound).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
from scipy.sparse.linalg import eigsh

from steerid.errors import DataError
from steerid.experiments.fisher.products import Metric, SiteLinearization
from steerid.models.loader import LoadedModel
from steerid.models.site import Site
from steerid.results import ResultMixin, Summary, Table, fields_dict, fmt, jsonable

Method = Literal["auto", "dense", "lanczos"]
DEFAULT_TOLERANCES = (1e-2, 1e-3, 1e-4)


@dataclass(frozen=True, repr=False)
class NullSpaceDimension(ResultMixin):
    """Null-space dimension at one relative tolerance.

    Attributes:
        tolerance: τ, relative to λ_max.
        threshold: τ · λ_max.
        n_above: computed eigenvalues ≥ threshold.
        dimension: null-space dimension (or its upper bound, see ``kind``).
        fraction: ``dimension / d``.
        kind: ``exact`` (full spectrum), ``determined`` (top k only but λ_k < threshold) or
            ``upper_bound`` (λ_k ≥ threshold: only rank ≥ k is known, so dimension ≤ d − k).
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("tolerance", "dimension", "kind")

    tolerance: float
    threshold: float
    n_above: int
    dimension: int
    fraction: float
    kind: str


def null_space_dimension(eigenvalues: np.ndarray, *, d: int | None = None,
                         tolerances: Sequence[float] = DEFAULT_TOLERANCES) -> list[NullSpaceDimension]:
    """Null-space dimension of a PSD metric at tolerances relative to its largest eigenvalue.

    Args:
        eigenvalues: all d eigenvalues, or the top k (any order).
        d: the dimension (defaults to ``len(eigenvalues)``, i.e. a full spectrum).
        tolerances: relative tolerances τ; an eigenvalue counts as null when λ < τ · λ_max.
    """
    eigs = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1]
    dim = eigs.size if d is None else int(d)
    if eigs.size == 0 or not np.isfinite(eigs).all():
        raise DataError("no finite eigenvalues given", "compute the spectrum first")
    if eigs.size > dim:
        raise DataError(f"{eigs.size} eigenvalues for dimension {dim}", "pass d ≥ the number of eigenvalues")
    if eigs[0] <= 0:
        raise DataError("the largest eigenvalue is not positive: the metric is zero",
                        "check that steering at this site changes the output")
    out = []
    for tol in tolerances:
        if not 0 < tol < 1:
            raise DataError(f"tolerance must be in (0, 1), got {tol}", "use values such as 1e-3")
        threshold = tol * eigs[0]
        above = int((eigs >= threshold).sum())
        if eigs.size == dim:
            dimension, kind = dim - above, "exact"
        elif eigs[-1] < threshold:
            dimension, kind = dim - above, "determined"
        else:
            dimension, kind = dim - eigs.size, "upper_bound"
        out.append(NullSpaceDimension(float(tol), float(threshold), above, dimension, dimension / dim, kind))
    return out



@dataclass(repr=False)
class FisherSpectrum(ResultMixin):
    """Spectrum of the averaged output Fisher (or Gram) metric at a site.

    Attributes:
        metric: ``fisher`` (Jᵀ(diag p − ppᵀ)J) or ``euclidean`` (JᵀJ).
        method: ``dense`` (all d eigenvalues) or ``lanczos`` (top k).
        eigenvalues: descending, float64.
        d: site dimension.
        k: number of eigenvalues computed.
        n_prompts / n_positions: sequences and (sequence, position) points averaged over.
        positions_per_prompt: last real positions used per sequence.
        null_space: :class:`NullSpaceDimension` per tolerance.
        n_products: metric-vector products used.
        seconds: wall time of the eigen-computation (products included).
        note: what is and is not known (top-k only, bounds).
        eigenvectors: ``(d, k)`` columns matching ``eigenvalues`` (not serialised).
        mean_perplexity: mean over points of exp(entropy(p)); a point whose next token is nearly
            certain adds almost nothing to F̄, so with few points F̄'s small eigenvalues reflect
            the sample of points as much as the model (compare n_positions × mean_perplexity to d).
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("metric", "method", "d", "k", "n_positions")

    metric: str
    method: str
    eigenvalues: np.ndarray
    d: int
    k: int
    n_prompts: int
    n_positions: int
    positions_per_prompt: int
    null_space: list[NullSpaceDimension]
    n_products: int
    seconds: float
    note: str
    eigenvectors: np.ndarray | None = field(default=None, repr=False)
    mean_perplexity: float = float("nan")

    @property
    def complete(self) -> bool:
        return self.k == self.d

    def to_dict(self) -> dict:
        """JSON-safe dict of every field but the eigenvectors, plus ``complete``."""
        out = fields_dict(self, exclude=("eigenvectors",))
        out["complete"] = self.complete
        return jsonable(out)

    def summary(self) -> Summary:
        """Top eigenvalues and the null-space dimension per tolerance."""
        top = self.eigenvalues[:5]
        null = Table(("tolerance", "threshold", "eigenvalues above", "null dim", "fraction", "kind"),
                     tuple((n.tolerance, n.threshold, n.n_above, n.dimension, n.fraction, n.kind) for n in self.null_space))
        return Summary(f"Spectrum of the output {self.metric} metric", rows=[
            ("method", self.method), ("d", self.d), ("eigenvalues computed", self.k), ("prompts", self.n_prompts),
            ("points", self.n_positions), ("mean perplexity", self.mean_perplexity),
            ("top eigenvalues", ", ".join(fmt(v) for v in top)), ("products", self.n_products),
            ("seconds", self.seconds),
        ], tables=[null], sections={"notes": [self.note]})


def _note(metric: str, eigs: np.ndarray, d: int, null: list[NullSpaceDimension], n_points: int,
          perplexity: float) -> str:
    name = "F = Jᵀ(diag p − ppᵀ)J" if metric == "fisher" else "JᵀJ"
    sample = (f"averaged over {n_points} points (mean next-token perplexity {perplexity:.3g}); small eigenvalues "
              f"also reflect how few directions these points probe — add points before calling a direction null")
    if eigs.size == d:
        return f"full spectrum of {name} (all {d} eigenvalues); null-space dimensions are exact counts; {sample}"
    parts = [f"only the top {eigs.size} of {d} eigenvalues of {name} are computed (Lanczos)"]
    for n in null:
        if n.kind == "determined":
            parts.append(f"τ={n.tolerance:g}: λ_{eigs.size} < τ·λ_max, so null dim = d − {n.n_above} = {n.dimension}")
        else:
            parts.append(f"τ={n.tolerance:g}: all computed λ ≥ τ·λ_max, so rank ≥ {eigs.size} and null dim ≤ {n.dimension}")
    parts.append(sample)
    return "; ".join(parts)


def spectrum(lin: SiteLinearization, *, metric: Metric = "fisher", method: Method = "auto", k: int = 32,
             dense_max_dim: int = 128, tolerances: Sequence[float] = DEFAULT_TOLERANCES, seed: int = 0,
             lanczos_tol: float = 1e-6, return_vectors: bool = True) -> FisherSpectrum:
    """Eigen-decomposition of the metric: dense for small d, else top k by Lanczos.

    Args:
        lin: the linearisation (points and retained graphs).
        metric: ``fisher`` or ``euclidean``.
        method: ``auto`` (dense when d ≤ ``dense_max_dim``), ``dense`` or ``lanczos``.
        k: eigenpairs for Lanczos (must be < d).
        tolerances: relative tolerances for the null-space dimension.
        seed: seeds Lanczos' start vector (deterministic).
        lanczos_tol: relative accuracy requested from ``eigsh``.
    """
    if method not in ("auto", "dense", "lanczos"):
        raise DataError(f"unknown method '{method}'", "use auto, dense or lanczos")
    d = lin.d
    use_dense = method == "dense" or (method == "auto" and d <= dense_max_dim)
    start, products = time.perf_counter(), lin.n_products
    if use_dense:
        vals, vecs = np.linalg.eigh(lin.dense(metric))
        used = "dense"
    else:
        if not 1 <= k < d:
            raise DataError(f"Lanczos needs 1 ≤ k < d = {d}, got k = {k}", f"pass k between 1 and {d - 1} or method='dense'")
        v0 = np.random.default_rng(seed).standard_normal(d)
        vals, vecs = eigsh(lin.operator(metric), k=k, which="LA", v0=v0, tol=lanczos_tol)
        used = "lanczos"
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    null = null_space_dimension(vals, d=d, tolerances=tolerances)
    return FisherSpectrum(
        metric=metric, method=used, eigenvalues=vals, d=d, k=int(vals.size), n_prompts=lin.points.n_sequences,
        n_positions=lin.points.n_points, positions_per_prompt=lin.points.positions, null_space=null,
        n_products=lin.n_products - products, seconds=time.perf_counter() - start, note=_note(metric, vals, d, null, lin.points.n_points, lin.mean_perplexity),
        eigenvectors=vecs if return_vectors else None, mean_perplexity=lin.mean_perplexity,
    )


def fisher_spectrum(lm: LoadedModel, site: Site, sequences, *, positions: int = 4, base: np.ndarray | None = None,
                    batch_size: int = 16, metric: Metric = "fisher", **kwargs) -> FisherSpectrum:
    """Convenience: build the linearisation and return :func:`spectrum` of ``metric``."""
    lin = SiteLinearization.build(lm, site, sequences, positions=positions, base=base, batch_size=batch_size)
    return spectrum(lin, metric=metric, **kwargs)
