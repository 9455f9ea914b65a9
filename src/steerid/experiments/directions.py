"""Random directions used as perturbations.

``orthogonal_perturbation(v, ρ)``: draw g ~ N(0, I_d), project out v̂,

    v⊥ = ρ ‖v‖ · (g − (g·v̂) v̂) / ‖g − (g·v̂) v̂‖,

which is uniform on the sphere of radius ρ‖v‖ in the orthogonal complement of v.
``random_direction``: uniform on the unit sphere (unconstrained).
``subspace_direction(B)``: uniform unit vector in the column span of an orthonormal basis B.
"""

from __future__ import annotations

import numpy as np


def orthogonal_perturbation(v: np.ndarray, rho: float, rng: np.random.Generator) -> np.ndarray:
    """A vector of norm ρ‖v‖ drawn uniformly from the orthogonal complement of v."""
    unit = v / np.linalg.norm(v)
    g = rng.standard_normal(v.shape[0])
    g -= (g @ unit) * unit
    return rho * np.linalg.norm(v) * g / np.linalg.norm(g)


def random_direction(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A unit vector drawn uniformly from the sphere S^{d−1}."""
    g = rng.standard_normal(dim)
    return g / np.linalg.norm(g)


def subspace_direction(basis: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A unit vector drawn uniformly from span(basis); ``basis`` is (d, k) with orthonormal columns."""
    g = basis @ rng.standard_normal(basis.shape[1])
    return g / np.linalg.norm(g)
