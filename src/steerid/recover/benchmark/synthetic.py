"""Recovery rows (ρ = 0, over n and σ) and drift rows (ρ > 0, R draws of v⊥) of the synthetic worlds.

A drift row is ``invariant`` when the constrained drift ≤ ½ the mean difference's drift and
its mean cosine to w is not lower.
"""

from __future__ import annotations

import numpy as np

from steerid.recover.benchmark.config import BenchmarkConfig
from steerid.recover.benchmark.result import BenchmarkRow
from steerid.recover.benchmark.worlds import WORLDS, Estimate, _drift


def _synthetic_rows(cfg: BenchmarkConfig, seed: int) -> list[BenchmarkRow]:
    rows: list[BenchmarkRow] = []
    for c_index, (name, world_cls) in enumerate(WORLDS.items()):
        for n in cfg.n_grid:
            for noise in cfg.noise_grid:
                base_cos, cons_cos, notes = [], [], []
                for rep in range(cfg.reps):
                    world = world_cls(seed + 1000 * c_index + 17 * rep + n, n, noise)
                    base, cons, note = world.estimate(None, 0.0)
                    base_cos.append(base @ world.w)
                    cons_cos.append(cons @ world.w)
                    notes.append(note)
                rows.append(BenchmarkRow("synthetic", name, "recovery", n, noise, 0.0, float(np.mean(base_cos)),
                                         float(np.mean(cons_cos)), note=notes[0]))
        for rho in cfg.rho_grid:
            world = world_cls(seed + 1000 * c_index + 7, cfg.n_drift, cfg.noise_drift)
            prng = np.random.default_rng(seed + 1000 * c_index + 99)
            results = [world.estimate(prng, rho) for _ in range(cfg.draws)]
            rows.append(_drift_row("synthetic", name, cfg.n_drift, cfg.noise_drift, rho, world.w, results))
    return rows


def _drift_row(part: str, name: str, n: int, noise: float, rho: float, w: np.ndarray,
               results: list[Estimate]) -> BenchmarkRow:
    base = [r[0] for r in results]
    cons = [r[1] for r in results]
    base_cos = float(np.mean([b @ w for b in base]))
    cons_cos = float(np.mean([c @ w for c in cons]))
    base_drift, cons_drift = _drift(base), _drift(cons)
    invariant = cons_drift <= 0.5 * base_drift and cons_cos >= base_cos
    return BenchmarkRow(part, name, "drift", n, noise, rho, base_cos, cons_cos, base_drift, cons_drift, invariant,
                        results[0][2])
