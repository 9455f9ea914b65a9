"""Existence claims with family-wise error control: per-draw tests on both margins, the corrected
decisions, the split group-sequential design and the power plan (one concept per module)."""

from steerid.stats.existence.decide import DECISIONS, adjust, claims, decide
from steerid.stats.existence.onesided import dz_tost, fieller_interval, greater_p, relative_tost
from steerid.stats.existence.power import (
    RelativePilot,
    dz_try_power,
    existence_power,
    existence_sample_size,
    relative_try_power,
)
from steerid.stats.existence.sequential import SequentialRelativeTost, run_relative_sequential

__all__ = ["DECISIONS", "RelativePilot", "SequentialRelativeTost", "adjust", "claims", "decide", "dz_tost",
           "dz_try_power", "existence_power", "existence_sample_size", "fieller_interval", "greater_p",
           "relative_try_power", "relative_tost", "run_relative_sequential"]
