r"""Synthetic planted-direction worlds, one per constraint (see the package docstring).

Each world fixes base data carrying a planted unit direction w; ``estimate(prng, ρ)`` adds a
fresh perturbation v⊥ (‖v⊥‖ = ρ·s) that behaviour cannot see (``prng=None``: none) and returns
the mean-difference estimate, the constrained estimate and a note. ``drift = 1 − min_{r<r'}
cos(e_r, e_r')`` over repeated estimates measures how far an estimate moves with v⊥ alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from steerid.recover._common import unit
from steerid.recover.benchmark.config import D, SHIFT
from steerid.recover.crosslayer import CrossLayerConsistency
from steerid.recover.gauge import GaugeFix
from steerid.recover.ica import ICARecovery
from steerid.recover.multienv import MultiEnvInvariance
from steerid.recover.sparse import SparseDirection


def _orthonormal(rng: np.random.Generator, d: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q


def _complement_direction(rng: np.random.Generator, basis: np.ndarray) -> np.ndarray:
    """Uniform unit vector orthogonal to the columns of ``basis`` (orthonormal)."""
    g = rng.normal(size=basis.shape[0])
    g -= basis @ (basis.T @ g)
    return g / np.linalg.norm(g)


def _drift(estimates: list[np.ndarray]) -> float:
    vectors = np.array([unit(e) for e in estimates])
    sims = vectors @ vectors.T
    return float(1.0 - sims[np.triu_indices(len(estimates), k=1)].min())


def _mean_diff(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    return unit(pos.mean(axis=0) - neg.mean(axis=0))



Estimate = tuple[np.ndarray, np.ndarray, str]


class _World:
    """A planted-direction world for one constraint: fixed base data, a v⊥ that can be redrawn."""

    name = ""

    def __init__(self, seed: int, n: int, noise: float) -> None:
        self.rng = np.random.default_rng(seed)
        self.n, self.noise = n, noise
        self.w = np.zeros(D)

    def estimate(self, perturbation_rng: np.random.Generator | None, rho: float) -> Estimate:
        raise NotImplementedError


class _GaugeWorld(_World):
    name = "gauge"

    def __init__(self, seed: int, n: int, noise: float) -> None:
        super().__init__(seed, n, noise)
        q = _orthonormal(self.rng, D)
        self.range, self.null = q[:, :12], q[:, 12:]
        self.w = unit(self.range @ self.rng.normal(size=12))
        scales = noise * np.sqrt(np.linspace(1.0, 4.0, 12))
        mu = 5.0 * self.rng.normal(size=D)

        def sample(m: int) -> np.ndarray:
            return mu + (self.rng.normal(size=(m, 12)) * scales) @ self.range.T + \
                0.05 * self.rng.normal(size=(m, D - 12)) @ self.null.T

        self.neutral = sample(4 * D)
        self.pos_base, self.neg = sample(n) + SHIFT * self.w, sample(n)
        self.gauge = GaugeFix("covariance", variance=0.99).fit(np.cov(self.neutral, rowvar=False))

    def estimate(self, prng, rho):
        shift = 0.0 if prng is None else rho * SHIFT * _complement_direction(prng, self.range)
        pos = self.pos_base + shift
        base = _mean_diff(pos, self.neg)
        fixed = self.gauge.transform(pos.mean(axis=0) - self.neg.mean(axis=0)).direction
        return base, fixed, f"rank {self.gauge.rank_}"


class _SparseWorld(_World):
    name = "sparse"

    def __init__(self, seed: int, n: int, noise: float) -> None:
        super().__init__(seed, n, noise)
        support = self.rng.choice(D, size=4, replace=False)
        self.w[support] = self.rng.choice([-1.0, 1.0], size=4) * self.rng.uniform(0.5, 1.0, size=4)
        self.w /= np.linalg.norm(self.w)
        z = 3.0 * self.rng.normal(size=(n, D))
        self.neg = z + noise * self.rng.normal(size=(n, D))
        self.pos_base = z + SHIFT * self.w + noise * self.rng.normal(size=(n, D))
        self.seed = seed

    def estimate(self, prng, rho):
        shift = 0.0 if prng is None else rho * SHIFT * _complement_direction(prng, self.w[:, None])
        pos = self.pos_base + shift
        fit = SparseDirection(n_resamples=30, seed=self.seed).fit(pos, self.neg)
        return _mean_diff(pos, self.neg), fit.direction_, f"support {fit.support_.size}, φ {fit.stability_:.2f}"


class _MultiEnvWorld(_World):
    name = "multienv"
    n_env = 4

    def __init__(self, seed: int, n: int, noise: float) -> None:
        super().__init__(seed, n, noise)
        self.w = _orthonormal(self.rng, D)[:, 0]
        per = n
        self.base = []
        for _ in range(self.n_env):
            z = 3.0 * self.rng.normal(size=(per, D))
            alpha = SHIFT * self.rng.uniform(0.5, 1.5, size=(per, 1))
            beta = self.rng.uniform(0.0, 2.0, size=(per, 1))
            neg = z + 0.5 * noise * self.rng.normal(size=(per, D))
            pos = z + alpha * self.w + 0.5 * noise * self.rng.normal(size=(per, D))
            self.base.append((pos, neg, beta))
        self.seed = seed

    def estimate(self, prng, rho):
        envs = []
        for pos, neg, beta in self.base:
            spurious = 0.0 if prng is None else beta * (rho * SHIFT * _complement_direction(prng, self.w[:, None]))
            envs.append((pos + spurious, neg))
        fit = MultiEnvInvariance(subspace_dim=2, n_bootstrap=10, seed=self.seed).fit(envs)
        pooled = _mean_diff(np.vstack([p for p, _ in envs]), np.vstack([q for _, q in envs]))
        return pooled, fit.direction_, f"λ₁ {fit.explained_:.2f}"


class _CrossLayerWorld(_World):
    name = "crosslayer"
    n_layers, nominal = 5, 2

    def __init__(self, seed: int, n: int, noise: float) -> None:
        super().__init__(seed, n, noise)
        self.w = _orthonormal(self.rng, D)[:, 0]
        self.layers = []
        for _ in range(self.n_layers):
            z = 3.0 * self.rng.normal(size=(n, D))
            neg = z + noise * self.rng.normal(size=(n, D))
            pos = z + SHIFT * self.w + noise * self.rng.normal(size=(n, D))
            self.layers.append((pos, neg))

    def estimate(self, prng, rho):
        contaminated: dict[int, np.ndarray] = {}
        if prng is not None:
            other = int(prng.choice([i for i in range(self.n_layers) if i != self.nominal]))
            for layer in (self.nominal, other):
                contaminated[layer] = rho * SHIFT * _complement_direction(prng, self.w[:, None])
        vectors = {}
        for layer, (pos, neg) in enumerate(self.layers):
            vectors[layer] = pos.mean(axis=0) + contaminated.get(layer, 0.0) - neg.mean(axis=0)
        fit = CrossLayerConsistency("identity").fit(vectors)
        return unit(vectors[self.nominal]), fit.direction_, f"chose layer {fit.best_}"


class _ICAWorld(_World):
    name = "ica"

    def __init__(self, seed: int, n: int, noise: float) -> None:
        super().__init__(seed, n, noise)
        q = _orthonormal(self.rng, D)
        self.w = q[:, 0]
        self.basis = q
        self.s1 = SHIFT * self.rng.exponential(size=(n, 1))
        self.e2 = self.rng.exponential(size=(n, 1))
        self.l2 = SHIFT * self.rng.laplace(size=(n, 1))
        self.eps = noise * self.rng.normal(size=(n, D))
        self.t0 = q[:, 1]
        self.seed = seed

    def estimate(self, prng, rho):
        if prng is None:
            t, s2 = self.t0, self.l2
        else:
            t, s2 = _complement_direction(prng, self.w[:, None]), rho * SHIFT * self.e2
        diffs = self.s1 * self.w + s2 * t + self.eps
        fit = ICARecovery(n_components=2, seed=self.seed).fit(diffs)
        match = fit.match(self.w[None, :])
        direction = fit.directions_[int(match["rows"][0])]
        direction = direction if direction @ self.w >= 0 else -direction  # sign is not identified
        return unit(diffs.mean(axis=0)), direction, "oracle match"



WORLDS: dict[str, Callable[[int, int, float], _World]] = {
    w.name: w for w in (_GaugeWorld, _SparseWorld, _MultiEnvWorld, _CrossLayerWorld, _ICAWorld)
}
