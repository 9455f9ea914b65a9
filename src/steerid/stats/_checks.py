"""Validation shared by the statistics modules.

Every check raises :class:`steerid.errors.DataError` with a one-line message that names the
problem and the fix; nothing is coerced silently except the conversion to float64.
"""

from __future__ import annotations

import math

import numpy as np

from steerid.errors import DataError


def as_sample(values: object, name: str, *, min_n: int = 2) -> np.ndarray:
    """Return ``values`` as a finite 1-D float64 array with at least ``min_n`` entries.

    Args:
        values: Array-like of numbers.
        name: How the argument is called in messages.
        min_n: Smallest acceptable length.

    Raises:
        DataError: If the input is not 1-D, is too short, or holds NaN/inf.
    """
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} is not numeric ({exc})", f"pass a 1-D array of numbers as {name}") from exc
    if arr.ndim != 1:
        raise DataError(f"{name} must be 1-D, got shape {arr.shape}", f"flatten {name} to one value per unit")
    if arr.size < min_n:
        raise DataError(
            f"{name} has {arr.size} value(s); at least {min_n} are needed",
            "collect more prompts (units) before testing",
        )
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise DataError(f"{name} contains {bad} NaN/inf value(s)", f"drop or re-score the affected units of {name}")
    return arr


def check_paired(x: np.ndarray, y: np.ndarray) -> None:
    """Raise DataError unless the paired samples have the same length."""
    if x.shape != y.shape:
        raise DataError(
            f"paired samples differ in length ({x.size} vs {y.size})",
            "pass one value per prompt in both arrays, in the same prompt order",
        )


def check_probability(value: float, name: str, *, upper: float = 1.0) -> float:
    """Return ``value`` as float if it lies strictly between 0 and ``upper``; else raise DataError."""
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} is not a number ({value!r})", f"give {name} as a float in (0, {upper})") from exc
    if not (0.0 < out < upper):
        raise DataError(f"{name} = {value!r} is outside (0, {upper})", f"give {name} as a float in (0, {upper})")
    return out


def check_positive(value: float, name: str) -> float:
    """Return ``value`` as float if it is finite and > 0; else raise DataError."""
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} is not a number ({value!r})", f"give {name} as a positive float") from exc
    if not (math.isfinite(out) and out > 0.0):
        raise DataError(f"{name} = {value!r} must be finite and > 0", f"give {name} as a positive float")
    return out


def check_finite(value: float, name: str) -> float:
    """Return ``value`` as float if it is finite; else raise DataError."""
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} is not a number ({value!r})", f"give {name} as a finite float") from exc
    if not math.isfinite(out):
        raise DataError(f"{name} = {value!r} is not finite", f"give {name} as a finite float")
    return out


def check_count(value: int, name: str, *, minimum: int) -> int:
    """Return ``value`` as int if it is an integer ≥ ``minimum``; else raise DataError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise DataError(f"{name} = {value!r} is not an integer", f"give {name} as an integer ≥ {minimum}")
    out = int(value)
    if out < minimum:
        raise DataError(f"{name} = {out} is below {minimum}", f"give {name} as an integer ≥ {minimum}")
    return out


def mean_sd(values: np.ndarray) -> tuple[float, float]:
    """Mean and SD (ddof = 1) of a sample, exact (m, 0.0) when all values are identical.

    Rounding makes ``np.std`` of identical values slightly positive (e.g. six copies of 0.7);
    zero variance is therefore decided by equality of the values, not by the computed SD.
    """
    if bool(np.all(values == values[0])):
        return float(values[0]), 0.0
    return float(np.mean(values)), float(np.std(values, ddof=1))
