"""Interval estimates: a point estimate with a confidence interval and how it was obtained."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from steerid.results import ResultMixin


@dataclass(frozen=True, repr=False)
class Interval(ResultMixin):
    """A point estimate and its two-sided confidence interval.

    Attributes:
        estimate: Statistic on the full data.
        low: Lower confidence bound (NaN when it cannot be computed; see ``note``).
        high: Upper confidence bound.
        confidence: Two-sided confidence level, e.g. 0.95.
        method: How the interval was obtained (``"BCa"``, ``"percentile"``, ``"basic"``,
            ``"wilson"``).
        n: Number of resampled units (observations, prompts or clusters; trials for a proportion).
        note: Why a fallback was used or what limits the interval; empty when nothing to say.
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("estimate", "low", "high", "confidence", "method")
    _title: ClassVar[str] = "Interval estimate"

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    n: int
    note: str = ""

    def contains(self, value: float) -> bool:
        """True when ``low ≤ value ≤ high`` (False if a bound is NaN)."""
        return bool(self.low <= value <= self.high)

    @property
    def width(self) -> float:
        """``high − low`` (NaN if a bound is NaN)."""
        return self.high - self.low if math.isfinite(self.low) and math.isfinite(self.high) else math.nan



@dataclass(frozen=True, repr=False)
class RatioInterval(Interval):
    """Interval for a ratio of means, with the denominator's own interval.

    Attributes:
        denominator: Mean of the denominator sample on the full data.
        denominator_low: Lower bound of the denominator mean, from the same resamples.
        denominator_high: Upper bound of the denominator mean.
        unstable: True when the denominator interval includes 0 (the ratio is then unbounded
            and its interval is not trustworthy).
    """

    denominator: float = math.nan
    denominator_low: float = math.nan
    denominator_high: float = math.nan
    unstable: bool = False
