"""Per-input steerability of one E1-style (sign, ρ) family, from the runs of its conditions.

Reads the primary measure of ``none``, ``s·v`` and each ``s·v + v⊥_j`` and hands the per-input
shifts to :func:`steerid.stats.steerability.family_steerability` (the statistics and their math).
The likelihood route (primary measure ``likelihood``) is deterministic: its per-input shifts
carry no sampling noise; the generation route's do, and its record compares the anti-steerable
fraction with the fraction noise alone would give.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from steerid.experiments.conditions import Condition, ConditionRuns
from steerid.stats.steerability import family_steerability

DETERMINISTIC_MEASURES = frozenset({"likelihood"})
"""Primary measures computed by teacher forcing (no sampling noise per input)."""


def steerability_of_family(runs: ConditionRuns, members: Sequence[Condition], primary: str, sign: int, *,
                           level: float = 0.05) -> dict[str, Any] | None:
    """The family's ``steerability`` record (None without draws or without a ``none``/``s·v`` run)."""
    names = {c.name for c in runs.conditions}
    tag = f"{'+' if sign > 0 else '-'}v"
    if not members or "none" not in names or tag not in names:
        return None
    none = runs.score(primary, "none")
    shift_v = runs.score(primary, tag) - none
    shift_draws = np.stack([runs.score(primary, c.name) - none for c in members])
    return family_steerability(shift_v, shift_draws, sign, deterministic=primary in DETERMINISTIC_MEASURES,
                               draws=[c.draw for c in members], level=level)
