"""What every experiment receives and returns.

Each experiment module exposes ``run(config, ctx) -> Result`` where ``config`` is its own frozen
dataclass of settings and ``Result`` a dataclass with ``to_dict()`` (JSON-safe: floats, ints,
strings, lists, dicts; NaN allowed; see :mod:`steerid.results`). Experiments never register hooks themselves: they call
:mod:`steerid.engine.steer` / :mod:`steerid.engine.generation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from steerid.models.loader import LoadedModel
from steerid.models.site import Site
from steerid.vector import SteeringVector


@dataclass
class ExperimentContext:
    """Shared inputs of an experiment unit.

    Attributes:
        lm: the loaded model.
        site: steering / reading site (the vector's own site).
        vector: the steering vector under audit (unit direction + provenance).
        prompts: formatted evaluation prompts (chat template applied), one per paired unit.
        token_norm: median residual norm at ``site`` over real non-first tokens (scale of α_rel).
        seed: base seed; every random draw derives from it.
        batch_size: rows per forward pass.
        extra: experiment-specific inputs (e.g. truthfulness answers, likelihood items, scorers).
    """

    lm: LoadedModel
    site: Site
    vector: SteeringVector
    prompts: list[str]
    token_norm: float
    seed: int = 0
    batch_size: int = 64
    extra: dict[str, Any] = field(default_factory=dict)

    def displacement(self, alpha_rel: float) -> np.ndarray:
        """``α_rel · token_norm · û``: the displacement added for relative strength α_rel."""
        return alpha_rel * self.token_norm * self.vector.direction
