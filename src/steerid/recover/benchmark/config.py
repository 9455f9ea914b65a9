"""Grids of the planted-direction benchmark (``small`` for CI, ``full``) and its constants.

``D`` is the dimension of the synthetic worlds, ``SHIFT`` the planted shift s (pos = … + s·w).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Size = Literal["small", "full"]

D = 48
SHIFT = 2.0


@dataclass(frozen=True)
class BenchmarkConfig:
    """Grid of one benchmark size."""

    n_grid: tuple[int, ...]
    noise_grid: tuple[float, ...]
    rho_grid: tuple[float, ...]
    reps: int
    draws: int
    n_drift: int
    noise_drift: float
    tiny_texts: int
    tiny_n_grid: tuple[int, ...]


CONFIGS: dict[str, BenchmarkConfig] = {
    "small": BenchmarkConfig(n_grid=(40, 160), noise_grid=(0.5, 1.0), rho_grid=(0.5, 1.0), reps=1, draws=4, n_drift=120,
                             noise_drift=1.0, tiny_texts=16, tiny_n_grid=(16, 64)),
    "full": BenchmarkConfig(n_grid=(25, 50, 100, 200, 400), noise_grid=(0.5, 1.0, 2.0), rho_grid=(0.5, 1.0, 2.0),
                            reps=5, draws=8, n_drift=200, noise_drift=1.0, tiny_texts=48,
                            tiny_n_grid=(16, 32, 64, 128)),
}
