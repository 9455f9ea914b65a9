r"""Gauge fixing: keep only the part of a steering vector that can matter.

Behaviour constrains v only up to a *gauge*: adding any v⊥ from a subspace N that the model
ignores leaves behaviour unchanged, so v and v + v⊥ are indistinguishable. Fixing the gauge
means choosing one representative of each class {v + N}: the orthogonal projection onto the
complement R = N^⊥,

    P = B Bᵀ,   B ∈ ℝ^{d×k} an orthonormal basis of R,
    ṽ = P v / ‖P v‖            (the canonical unit vector),
    removed = ‖(I − P) v‖² / ‖v‖² = 1 − ‖Bᵀ v‖² / ‖v‖².

For every v⊥ ∈ N, P(v + v⊥) = P v exactly, so the canonical vector is the same (cosine 1); a
perturbation with a component r in R moves it (cosine < 1 unless r ∥ P v), which is why a
random v⊥ from the full orthogonal complement of v is *not* removed.

Where R comes from (``basis``):

- ``"covariance"``: the activation row space. With eigen-decomposition Σ = Σᵢ λᵢ uᵢuᵢᵀ
  (λ₁ ≥ λ₂ ≥ … ≥ 0) of the activation covariance at the site, R = span(u₁…u_k) with k the
  smallest rank whose eigenvalues reach the stated fraction of the total variance,
  Σ_{i≤k} λᵢ / Σᵢ λᵢ ≥ ``variance``. Directions along which activations (almost) never vary
  are where a readout fitted to those activations is unconstrained. This is a *threshold
  choice*: report ``rank_`` and the spectrum; with n < d tokens the rank is at most n.
  ``centered=False`` (only for :class:`~steerid.moments.RunningMoments` input) uses the
  second moment E[hhᵀ] = Σ + μμᵀ so that the mean direction is kept.
- ``"fisher"``: the row space of the layer-to-logits map. With the output Fisher
  F = Jᵀ(diag(p) − ppᵀ)J (or JᵀJ), KL(p(h) ‖ p(h + δ)) ≈ ½ δᵀFδ, so its null space holds the
  directions that cannot change the next-token distribution to second order. R is the top
  eigenspace reaching ``variance`` of tr F (or the given top-k eigenvectors).

Either kind also accepts R directly: a (d, k) matrix with orthonormal columns (k < d), e.g. the
top Fisher eigenvectors from a Lanczos run, or an ``(eigenvalues, eigenvectors)`` pair.
``rank=k`` overrides the variance rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from steerid.errors import DataError, VectorError
from steerid.extract.base import Estimator
from steerid.moments import RunningMoments
from steerid.recover._common import orthonormal_columns
from steerid.results import ResultMixin
from steerid.validation import (
    as_matrix,
    check_choice,
    check_fraction,
    check_int,
    check_vector,
    require_fitted,
)
from steerid.vector import SteeringVector

GaugeBasis = Literal["covariance", "fisher"]

#: Below this fraction of ‖v‖² kept, v lies in the null space and has no canonical direction.
KEPT_TOL = 1e-12


@dataclass(frozen=True, repr=False)
class GaugeResult(ResultMixin):
    """A gauge-fixed vector.

    Attributes:
        direction: canonical unit vector P v / ‖P v‖, shape ``(d,)``.
        removed_fraction: ‖(I − P) v‖² / ‖v‖², the share of v's squared norm that cannot matter.
        norm: ‖P v‖ in the units of the input.
    """

    direction: np.ndarray
    removed_fraction: float
    norm: float

    def to_dict(self) -> dict[str, Any]:
        return {"direction": self.direction.tolist(), "removed_fraction": self.removed_fraction, "norm": self.norm}


class GaugeFix(Estimator):
    """Project steering vectors onto the subspace that can matter.

    Args:
        basis: ``"covariance"`` (activation row space) or ``"fisher"`` (logit-map row space);
            names what ``fit`` receives and is recorded in provenance.
        variance: Fraction of the eigenvalue mass (variance or Fisher trace) the kept
            eigenspace must reach, in (0, 1].
        rank: Keep exactly this many leading eigenvectors instead (overrides ``variance``).
        centered: For :class:`RunningMoments` input: use the covariance (True) or the second
            moment Σ + μμᵀ (False, keeps the mean direction).

    Attributes:
        basis_: Orthonormal basis of the kept subspace R, shape ``(d, rank_)``.
        rank_: dim R.
        null_dim_: d − rank_, the dimension of the gauge (ignored) subspace.
        eigenvalues_: The full spectrum, descending (``None`` when a basis was given).
        captured_: Fraction of the eigenvalue mass in R (``None`` when a basis was given).

    Example:
        >>> import numpy as np
        >>> cov = np.diag([4.0, 1.0, 1e-9, 1e-9])
        >>> gauge = GaugeFix(variance=0.99).fit(cov)
        >>> gauge.rank_, round(gauge.transform(np.array([1.0, 0.0, 1.0, 0.0])).removed_fraction, 3)
        (2, 0.5)
    """

    _recorded = {"fitted_rank": "rank_", "captured": "captured_"}

    basis_: np.ndarray
    rank_: int
    null_dim_: int
    eigenvalues_: np.ndarray | None
    captured_: float | None

    def __init__(self, basis: GaugeBasis = "covariance", variance: float = 0.95, rank: int | None = None,
                 centered: bool = True) -> None:
        self.basis = basis
        self.variance = variance
        self.rank = rank
        self.centered = centered

    # ------------------------------------------------------------------ fitting
    def fit(self, source: object) -> "GaugeFix":
        """Choose the kept subspace R.

        Args:
            source: One of: a symmetric PSD matrix (d, d) — covariance, Fisher or JᵀJ; a
                :class:`RunningMoments` (covariance kind only); an ``(eigenvalues, eigenvectors)``
                pair with eigenvectors as columns (d, m); or a (d, k) matrix with orthonormal
                columns, k < d, used as R directly.

        Returns:
            ``self``.

        Raises:
            DataError: Bad hyper-parameters, a non-symmetric / indefinite / zero matrix, a
                non-orthonormal basis, or a moments object for the Fisher kind.
        """
        check_choice(self.basis, "gauge basis", ("covariance", "fisher"))
        check_fraction(self.variance, "variance")
        if self.rank is not None:
            check_int(self.rank, "rank", minimum=1)
        if isinstance(source, RunningMoments):
            if self.basis != "covariance":
                raise DataError("running moments describe activations, not the logit map",
                                "use basis='covariance' or pass the Fisher matrix")
            if source.n == 0:
                raise DataError("running moments hold no rows", "update them with captured activations first")
            if self.centered:
                matrix = source.covariance()
            else:
                matrix = source.scatter / source.n + np.outer(source.mean, source.mean)
            values, vectors = self._eigh(matrix)
        elif isinstance(source, tuple):
            values, vectors = self._check_eigenpairs(source)
        else:
            array = as_matrix(source, f"{self.basis} input")
            d, k = array.shape
            if k > d:
                raise DataError(f"a basis must have at most d columns, got shape {array.shape}",
                                "pass a (d, k) basis with eigenvectors as columns")
            if k == d:
                values, vectors = self._eigh(array)
            else:
                if not orthonormal_columns(array):
                    raise DataError("the given basis does not have orthonormal columns",
                                    "orthonormalise it first (numpy.linalg.qr) or pass the matrix itself")
                if self.rank is not None and self.rank > k:
                    raise DataError(f"rank {self.rank} exceeds the {k} basis columns given", "lower rank")
                self.basis_ = array[:, : self.rank] if self.rank is not None else array.copy()
                self.eigenvalues_, self.captured_ = None, None
                return self._set_rank(d)
        d = vectors.shape[0]
        keep = self._choose_rank(values, d)
        self.basis_ = vectors[:, :keep].copy()
        self.eigenvalues_ = values
        self.captured_ = float(values[:keep].sum() / values.sum())
        return self._set_rank(d)

    def _set_rank(self, d: int) -> "GaugeFix":
        self.rank_ = int(self.basis_.shape[1])
        self.null_dim_ = int(d - self.rank_)
        return self

    def _eigh(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        matrix = as_matrix(matrix, f"{self.basis} matrix")
        if matrix.shape[0] != matrix.shape[1]:
            raise DataError(f"{self.basis} matrix must be square, got {matrix.shape}", "pass the (d, d) matrix")
        scale = float(np.max(np.abs(matrix)))
        if scale == 0.0:
            raise DataError(f"{self.basis} matrix is all zeros", "capture activations that vary / check the Jacobian")
        if np.max(np.abs(matrix - matrix.T)) > 1e-8 * scale:
            raise DataError(f"{self.basis} matrix is not symmetric", "pass a covariance / Fisher matrix")
        values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
        order = np.argsort(values)[::-1]
        values, vectors = values[order], vectors[:, order]
        if values[-1] < -1e-8 * max(values[0], 0.0) or values[0] <= 0.0:
            raise DataError(f"{self.basis} matrix is not positive semi-definite (eigenvalue {values[-1]:.3g})",
                            "pass a covariance / Fisher matrix")
        return np.clip(values, 0.0, None), vectors

    def _check_eigenpairs(self, pair: tuple) -> tuple[np.ndarray, np.ndarray]:
        if len(pair) != 2:
            raise DataError("an eigen-decomposition must be an (eigenvalues, eigenvectors) pair",
                            "pass numpy.linalg.eigh(matrix)")
        values = np.asarray(pair[0], dtype=np.float64)
        vectors = as_matrix(pair[1], "eigenvectors")
        if values.ndim != 1 or values.shape[0] != vectors.shape[1] or vectors.shape[1] > vectors.shape[0]:
            raise DataError(f"eigenvalues {values.shape} do not match eigenvectors {vectors.shape}",
                            "pass eigenvectors as the columns of a (d, m) matrix, one eigenvalue each")
        if not np.isfinite(values).all() or np.any(values < 0) or not np.any(values > 0):
            raise DataError("eigenvalues must be finite, non-negative and not all zero", "pass a PSD spectrum")
        if not orthonormal_columns(vectors):
            raise DataError("eigenvectors are not orthonormal", "pass the output of numpy.linalg.eigh")
        order = np.argsort(values)[::-1]
        return values[order], vectors[:, order]

    def _choose_rank(self, values: np.ndarray, d: int) -> int:
        if self.rank is not None:
            if self.rank > values.shape[0]:
                raise DataError(f"rank {self.rank} exceeds the {values.shape[0]} eigenvectors available", "lower rank")
            return int(self.rank)
        cumulative = np.cumsum(values) / values.sum()
        # Smallest k with cumulative[k-1] ≥ variance; the tolerance keeps variance=1.0 reachable.
        return int(min(np.searchsorted(cumulative, self.variance - 1e-12) + 1, values.shape[0]))

    # ------------------------------------------------------------------ using
    @property
    def projector_(self) -> np.ndarray:
        """P = B Bᵀ, shape (d, d)."""
        require_fitted(self, "basis_", "GaugeFix")
        return self.basis_ @ self.basis_.T

    def null_basis(self) -> np.ndarray:
        """Orthonormal basis of the gauge subspace N = R^⊥, shape (d, null_dim_)."""
        require_fitted(self, "basis_", "GaugeFix")
        full, _, _ = np.linalg.svd(self.basis_, full_matrices=True)
        return full[:, self.rank_ :]

    def transform(self, v: object) -> GaugeResult:
        """Canonical unit vector of ``v`` and the fraction of ‖v‖² removed.

        Args:
            v: A (d,) vector or a :class:`SteeringVector` (its ``norm · direction``).

        Raises:
            VectorError: Not a finite non-zero vector of width d, or v lies (to 1e-12 of its
                squared norm) in the null space, so nothing of it can matter.
        """
        require_fitted(self, "basis_", "GaugeFix")
        array = check_vector(v, "vector to gauge-fix", dim=self.basis_.shape[0])
        coords = self.basis_.T @ array
        kept = float(coords @ coords)
        total = float(array @ array)
        if kept <= KEPT_TOL * total:
            raise VectorError(
                "the vector lies in the gauge (null) subspace, so it has no component that can matter",
                "check the vector, or keep more of the spectrum (higher variance or rank)",
            )
        projected = self.basis_ @ coords
        norm = float(np.sqrt(kept))
        return GaugeResult(direction=projected / norm, removed_fraction=float(max(0.0, 1.0 - kept / total)), norm=norm)

    def transform_vector(self, vector: SteeringVector) -> SteeringVector:
        """Gauge-fix a :class:`SteeringVector`, recording the step in its provenance."""
        result = self.transform(vector)
        provenance = replace(
            vector.provenance,
            method=f"{vector.provenance.method}+gauge",
            method_params={**vector.provenance.method_params, "gauge": self.params(),
                           "removed_fraction": result.removed_fraction},
        )
        return SteeringVector(direction=result.direction, norm=result.norm, provenance=provenance)
