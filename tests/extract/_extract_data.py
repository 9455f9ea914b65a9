"""Synthetic activations with a planted unit direction w (linear-Gaussian model).

    unpaired:  h₊ = μ + s·w + ε,  h₋ = μ + ε
    paired:    h₊ᵢ = μ + zᵢ + sᵢ·w + ε₊ᵢ,  h₋ᵢ = μ + zᵢ + ε₋ᵢ   (zᵢ shared by the pair)

μ is a random offset of norm ≈ 5·√d so that no method can rely on centred inputs.
"""

from __future__ import annotations

import numpy as np

D = 64


def _basis(rng: np.random.Generator, d: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q


def isotropic(n: int, *, shift: float = 3.0, sigma: float = 1.0, seed: int = 0, d: int = D):
    """n positives and n negatives, ε ~ N(0, σ² I). Returns (pos, neg, w)."""
    rng = np.random.default_rng(seed)
    w = _basis(rng, d)[:, 0]
    mu = 5.0 * rng.normal(size=d)
    pos = mu + shift * w + sigma * rng.normal(size=(n, d))
    neg = mu + sigma * rng.normal(size=(n, d))
    return pos, neg, w


def paired(
    n: int,
    *,
    shift: float = 2.0,
    spread: float = 0.5,
    nuisance: float = 3.0,
    noise: float = 0.2,
    seed: int = 0,
    d: int = D,
):
    """n pairs sharing a nuisance zᵢ ~ N(0, nuisance² I); sᵢ ~ shift·U(1 − spread, 1 + spread).

    The pair difference is dᵢ = sᵢ·w + (ε₊ᵢ − ε₋ᵢ) with ε ~ N(0, noise² I). Returns (pos, neg, w).
    """
    rng = np.random.default_rng(seed)
    w = _basis(rng, d)[:, 0]
    mu = 5.0 * rng.normal(size=d)
    z = nuisance * rng.normal(size=(n, d))
    s = shift * (1.0 + spread * rng.uniform(-1.0, 1.0, size=n))
    neg = mu + z + noise * rng.normal(size=(n, d))
    pos = mu + z + s[:, None] * w + noise * rng.normal(size=(n, d))
    return pos, neg, w


def anisotropic(
    n: int,
    *,
    shift: float = 3.0,
    k: int = 8,
    big: float = 10.0,
    overlap: float = 0.0,
    seed: int = 0,
    d: int = D,
):
    """ε = g + big·Σⱼ gⱼ uⱼ: unit variance everywhere plus k nuisance directions of s.d. ≈ big.

    With ``overlap = 0`` the uⱼ are orthogonal to w (w is an eigenvector of the covariance);
    otherwise u₁ = √(1 − overlap²)·u + overlap·w. Returns (pos, neg, w, covariance).
    """
    rng = np.random.default_rng(seed)
    q = _basis(rng, d)
    w = q[:, 0]
    nuis = q[:, 1 : k + 1].copy()
    nuis[:, 0] = np.sqrt(1.0 - overlap**2) * nuis[:, 0] + overlap * w
    mu = 5.0 * rng.normal(size=d)

    def noise(m: int) -> np.ndarray:
        return rng.normal(size=(m, d)) + (big * rng.normal(size=(m, k))) @ nuis.T

    pos = mu + shift * w + noise(n)
    neg = mu + noise(n)
    return pos, neg, w, np.eye(d) + big**2 * nuis @ nuis.T
