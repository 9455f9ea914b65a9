"""Synthetic activations with planted directions for the recovery tests (d = 48 unless stated)."""

from __future__ import annotations

import numpy as np

D = 48


def orthonormal(rng: np.random.Generator, d: int = D) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q


def pairs(w: np.ndarray, n: int, *, shift: float = 2.0, noise: float = 1.0, seed: int = 0):
    """n pairs sharing a nuisance z ~ N(0, 9I); pos = z + shift·w + ε, neg = z + ε, ε ~ N(0, noise² I)."""
    rng = np.random.default_rng(seed)
    d = w.shape[0]
    z = 3.0 * rng.normal(size=(n, d))
    neg = z + noise * rng.normal(size=(n, d))
    pos = z + shift * w + noise * rng.normal(size=(n, d))
    return pos, neg


def sparse_direction(rng: np.random.Generator, d: int = D, k: int = 4) -> np.ndarray:
    w = np.zeros(d)
    w[rng.choice(d, size=k, replace=False)] = rng.choice([-1.0, 1.0], size=k) * rng.uniform(0.5, 1.0, size=k)
    return w / np.linalg.norm(w)


def environments(kind: str, *, n_env: int = 4, n: int = 100, noise: float = 0.2, seed: int = 0, d: int = D):
    """Per-environment (pos, neg) pairs.

    ``shared``: differences αᵢ w + βᵢ sₑ (spurious sₑ per environment, βᵢ ~ U(0, 6));
    ``pure``: αᵢ w only; ``none``: each environment its own two directions, nothing shared.
    αᵢ ~ 2·U(½, 3/2). Returns (environments, w).
    """
    rng = np.random.default_rng(seed)
    q = orthonormal(rng, d)
    w = q[:, 0]
    envs = []
    for e in range(n_env):
        alpha = 2.0 * rng.uniform(0.5, 1.5, size=(n, 1))
        beta = 3.0 * rng.uniform(0.0, 2.0, size=(n, 1))
        if kind == "shared":
            shift = alpha * w + beta * q[:, e + 1]
        elif kind == "pure":
            shift = alpha * w
        else:
            shift = alpha * q[:, 2 * e + 1] + beta * q[:, 2 * e + 2]
        z = 3.0 * rng.normal(size=(n, d))
        envs.append((z + shift + noise * rng.normal(size=(n, d)), z + noise * rng.normal(size=(n, d))))
    return envs, w
