"""Streaming mean and covariance in float64 (Chan et al. parallel merge).

For two blocks with counts n_a, n_b, means μ_a, μ_b and scatter matrices
M_a = Σ (x − μ_a)(x − μ_a)ᵀ, M_b likewise, the merged statistics are

    n = n_a + n_b,   δ = μ_b − μ_a,
    μ = μ_a + δ · n_b / n,
    M = M_a + M_b + δ δᵀ · n_a n_b / n,

and the (unbiased) covariance is M / (n − 1). Memory is O(d²) however many rows are merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from steerid.errors import DataError


@dataclass
class RunningMoments:
    """Accumulates count, mean and scatter of d-dimensional rows."""

    dim: int
    n: int = 0
    mean: np.ndarray = field(init=False)
    scatter: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.mean = np.zeros(self.dim, dtype=np.float64)
        self.scatter = np.zeros((self.dim, self.dim), dtype=np.float64)

    def update(self, rows: np.ndarray) -> "RunningMoments":
        """Merge a block of rows, shape ``(m, dim)``."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            raise DataError(f"expected rows of width {self.dim}, got shape {rows.shape}", "capture at one site")
        if rows.shape[0] == 0:
            return self
        block_mean = rows.mean(axis=0)
        centred = rows - block_mean
        block = RunningMoments(self.dim)
        block.n, block.mean, block.scatter = rows.shape[0], block_mean, centred.T @ centred
        return self.merge(block)

    def merge(self, other: "RunningMoments") -> "RunningMoments":
        """Merge another accumulator into this one (in place) and return self."""
        if other.n == 0:
            return self
        total = self.n + other.n
        delta = other.mean - self.mean
        self.scatter = self.scatter + other.scatter + np.outer(delta, delta) * (self.n * other.n / total)
        self.mean = self.mean + delta * (other.n / total)
        self.n = total
        return self

    def covariance(self, ddof: int = 1) -> np.ndarray:
        """Covariance ``scatter / (n − ddof)``."""
        if self.n - ddof <= 0:
            raise DataError(f"covariance needs more than {ddof} rows, have {self.n}", "capture more tokens")
        return self.scatter / (self.n - ddof)
