"""Timing helpers shared by the main and the peer environment (standard library only).

Every figure a benchmark reports is a ratio against a baseline measured in the same process,
interleaved with it (A B A B …) so that load from other processes on the shared cores hits both
alike; we report the median over repeats and the min/max of the per-repeat ratios.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of one call and its result (garbage collected before, not during)."""
    gc.collect()
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, min, max, interquartile range and count of ``values``."""
    data = sorted(float(v) for v in values)
    if not data:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "iqr": float("nan"), "n": 0}
    if len(data) >= 4:
        q1, _, q3 = statistics.quantiles(data, n=4)
        iqr = q3 - q1
    else:
        iqr = data[-1] - data[0]
    return {"median": statistics.median(data), "min": data[0], "max": data[-1], "iqr": iqr, "n": len(data)}


def interleaved(arms: dict[str, Callable[[], Any]], repeats: int, *, warmup: bool = True) -> dict[str, list[float]]:
    """Run each arm ``repeats`` times, arms interleaved within a repeat (order rotated each repeat)."""
    names = list(arms)
    if warmup:
        for name in names:
            arms[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            seconds, _ = timed(arms[name])
            times[name].append(seconds)
    return times


def ratio_summary(numerator: Sequence[float], denominator: Sequence[float]) -> dict[str, float]:
    """Per-repeat ratios ``numerator[i] / denominator[i]`` summarised (median, min, max, IQR)."""
    return summary([a / b for a, b in zip(numerator, denominator)])


def log(message: str) -> None:
    """Progress line on stderr (benchmarks are long on a loaded machine)."""
    import sys

    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
