r"""Finite-difference (probe) sketch of the Fisher metric, for verification and benchmarking.

For a unit u and step ε, q(u) = [KL(p ‖ p(+εu)) + KL(p ‖ p(−εu))] / ε² = uᵀF̄u + O(ε²) (the cubic
terms cancel). For Gaussian probes g ~ N(0, I), E[(gᵀF̄g) g gᵀ] = 2F̄ + tr(F̄) I and
E[gᵀF̄g] = tr(F̄), so F̂ = ½ ( mean(qᵢ gᵢgᵢᵀ) − mean(qᵢ) I ) is an unbiased sketch of F̄ from m
probes (``estimator="moments"``). The ``"minnorm"`` sketch is the minimum-Frobenius-norm
symmetric matrix fitting the probes in least squares: with A: F ↦ (gᵢᵀFgᵢ)ᵢ and
A*c = Σ cᵢ gᵢgᵢᵀ, F̂ = A* (AA*)⁺ q, where (AA*)ᵢⱼ = (gᵢᵀgⱼ)²; it equals F̄ (up to O(ε²)) once
m ≥ d(d+1)/2 probes span the symmetric matrices. mean(qᵢ) is Hutchinson's estimate of tr F̄.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from steerid.errors import DataError, VectorError
from steerid.experiments.fisher.points import PointSet
from steerid.results import ResultMixin, jsonable


def finite_difference_quadratic_forms(points: PointSet, directions: np.ndarray, eps: float, *,
                                      max_rows: int = 256) -> np.ndarray:
    """q(u) = [KL(p‖p(+εû)) + KL(p‖p(−εû))] / ε² · ‖u‖² ≈ uᵀF̄u for each row u of ``directions``."""
    if not eps > 0:
        raise DataError(f"finite-difference step must be > 0, got {eps}", "pass eps such as 1e-2 × the token norm")
    dirs = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    norms = np.linalg.norm(dirs, axis=1)
    if np.any(norms == 0):
        raise VectorError("a probe direction is zero", "draw non-zero probes")
    unit = dirs / norms[:, None]
    kl = points.kl(np.concatenate([eps * unit, -eps * unit]), max_rows=max_rows)
    m = dirs.shape[0]
    return (kl[:m] + kl[m:]) / eps**2 * norms**2



@dataclass(repr=False)
class FiniteDifferenceFisher(ResultMixin):
    """Probe-based sketch F̂ of the Fisher metric (see the module docstring).

    Attributes:
        matrix: F̂ (d × d, symmetric, not necessarily PSD).
        eigenvalues: of F̂, descending.
        eigenvectors: matching columns (not serialised).
        quadratic_forms: qᵢ ≈ gᵢᵀF̄gᵢ per probe.
        trace: mean qᵢ (Hutchinson estimate of tr F̄).
        estimator: ``minnorm`` or ``moments``.
        n_probes, eps: probe count and finite-difference step.
        n_rows: single-token forward rows run (2 per probe per point).
        seconds: wall time.
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("estimator", "n_probes", "eps", "trace")

    matrix: np.ndarray = field(repr=False)
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray = field(repr=False)
    quadratic_forms: np.ndarray = field(repr=False)
    trace: float
    estimator: str
    n_probes: int
    eps: float
    n_rows: int
    seconds: float

    def to_dict(self) -> dict:
        """JSON-safe dict of the eigenvalues and settings (the matrices are not serialised)."""
        return jsonable({"eigenvalues": self.eigenvalues, "trace": self.trace, "estimator": self.estimator,
                         "n_probes": self.n_probes, "eps": self.eps, "n_rows": self.n_rows, "seconds": self.seconds})


def sketch_from_quadratic_forms(probes: np.ndarray, q: np.ndarray, estimator: str = "minnorm") -> np.ndarray:
    """F̂ from quadratic forms qᵢ ≈ gᵢᵀF gᵢ of probes gᵢ (rows): ``minnorm`` or ``moments``."""
    g = np.asarray(probes, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if estimator == "moments":
        return 0.5 * ((g * q[:, None]).T @ g / g.shape[0] - q.mean() * np.eye(g.shape[1]))
    if estimator == "minnorm":
        gram = (g @ g.T) ** 2
        coef = np.linalg.lstsq(gram, q, rcond=None)[0]
        matrix = (g * coef[:, None]).T @ g
        return 0.5 * (matrix + matrix.T)
    raise DataError(f"unknown estimator '{estimator}'", "use minnorm or moments")


def finite_difference_fisher(points: PointSet, *, n_probes: int = 1000, eps: float = 1.0, seed: int = 0,
                             estimator: str = "minnorm", max_rows: int = 256) -> FiniteDifferenceFisher:
    """Sketch F̄ from ``n_probes`` Gaussian probes by symmetric finite differences of the KL."""
    if n_probes < 2:
        raise DataError(f"need at least 2 probes, got {n_probes}", "pass n_probes ≥ 2")
    if estimator not in ("minnorm", "moments"):
        raise DataError(f"unknown estimator '{estimator}'", "use minnorm or moments")
    start = time.perf_counter()
    probes = np.random.default_rng(seed).standard_normal((n_probes, points.d))
    q = finite_difference_quadratic_forms(points, probes, eps, max_rows=max_rows)
    matrix = sketch_from_quadratic_forms(probes, q, estimator)
    vals, vecs = np.linalg.eigh(matrix)
    order = np.argsort(vals)[::-1]
    return FiniteDifferenceFisher(
        matrix=matrix, eigenvalues=vals[order], eigenvectors=vecs[:, order], quadratic_forms=q, trace=float(q.mean()),
        estimator=estimator, n_probes=n_probes, eps=float(eps), n_rows=2 * n_probes * points.n_points,
        seconds=time.perf_counter() - start,
    )


def subspace_angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Principal angles (degrees, ascending) between the column spans of ``a`` and ``b``."""
    qa, _ = np.linalg.qr(np.asarray(a, dtype=np.float64))
    qb, _ = np.linalg.qr(np.asarray(b, dtype=np.float64))
    cosines = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1.0, 1.0)
    return np.degrees(np.arccos(cosines))
