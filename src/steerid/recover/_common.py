"""Validation and small linear-algebra helpers shared by the recovery constraints.

Every check raises a :class:`steerid.errors.SteerIdError` subclass (``DataError`` for data and
hyper-parameters, ``VectorError`` for vectors) with a one-line message naming the fix. Nothing is
coerced silently except the conversion to float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from steerid.errors import DataError, VectorError
from steerid.vector import SteeringVector, check_finite_nonzero


def as_vector(values: object, what: str = "vector", dim: int | None = None) -> np.ndarray:
    """A finite, non-zero float64 vector (a :class:`SteeringVector` gives ``norm · direction``)."""
    if isinstance(values, SteeringVector):
        values = values.vector
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise VectorError(f"{what} is not numeric ({exc})", "pass a 1-D array of floats") from exc
    array = check_finite_nonzero(array, what)
    if dim is not None and array.shape[0] != dim:
        raise VectorError(f"{what} has width {array.shape[0]}, expected {dim}", "use a vector from the same site")
    return array


def unit(values: np.ndarray) -> np.ndarray:
    """``values / ‖values‖`` (caller guarantees a non-zero input)."""
    return values / np.linalg.norm(values)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two non-zero vectors."""
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def as_matrix(values: object, what: str, *, min_rows: int = 1, dim: int | None = None) -> np.ndarray:
    """A finite 2-D float64 array with at least ``min_rows`` rows (and ``dim`` columns if given)."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} is not numeric ({exc})", f"pass {what} as a 2-D float array") from exc
    if array.ndim != 2:
        raise DataError(f"{what} must be 2-D (n, d), got shape {array.shape}", "stack one row per example")
    if array.shape[0] < min_rows:
        raise DataError(f"{what} has {array.shape[0]} row(s), at least {min_rows} needed", "supply more examples")
    if array.shape[1] == 0:
        raise DataError(f"{what} has zero columns", "capture activations at a site first")
    if dim is not None and array.shape[1] != dim:
        raise DataError(f"{what} has width {array.shape[1]}, expected {dim}", "use activations from one site")
    if not np.isfinite(array).all():
        raise DataError(f"{what} contains NaN or inf", "check the model dtype and the prompts")
    return array


def check_pairs(pos: object, neg: object, *, paired: bool, min_rows: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Validate positive/negative activations of equal width (equal length when ``paired``)."""
    pos = as_matrix(pos, "positive activations", min_rows=min_rows)
    neg = as_matrix(neg, "negative activations", min_rows=min_rows, dim=pos.shape[1])
    if paired and pos.shape[0] != neg.shape[0]:
        raise DataError(
            f"paired data needs as many positives as negatives ({pos.shape[0]} vs {neg.shape[0]})",
            "give complete contrastive pairs, row i of each from pair i",
        )
    return pos, neg


def check_seed(seed: object) -> int:
    """A non-negative integer seed."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}", "use e.g. seed=0")
    return int(seed)


def check_int(value: object, name: str, *, minimum: int) -> int:
    """An integer ≥ ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DataError(f"{name} must be an integer ≥ {minimum}, got {value!r}", f"set {name} to at least {minimum}")
    return int(value)


def check_fraction(value: object, name: str, *, low: float = 0.0, high: float = 1.0,
                   low_open: bool = True, high_open: bool = False) -> float:
    """A real number in the interval between ``low`` and ``high`` (open/closed as stated)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DataError(f"{name} must be a number, got {value!r}", f"pass {name} as a float")
    number = float(value)
    below = number <= low if low_open else number < low
    above = number >= high if high_open else number > high
    if not math.isfinite(number) or below or above:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise DataError(f"{name} must lie in {left}{low}, {high}{right}, got {value!r}", f"choose {name} in that range")
    return number


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """One of ``choices``."""
    if value not in choices:
        raise DataError(f"unknown {name} {value!r}", f"use one of: {', '.join(choices)}")
    return str(value)


def orthonormal_columns(basis: np.ndarray, *, tol: float = 1e-6) -> bool:
    """Whether ``basis`` (d, k) has orthonormal columns to within ``tol``."""
    gram = basis.T @ basis
    return bool(np.max(np.abs(gram - np.eye(basis.shape[1]))) <= tol)


def require_fitted(obj: object, attribute: str, name: str) -> None:
    """Raise when ``obj`` lacks the fitted ``attribute``."""
    if not hasattr(obj, attribute):
        raise DataError(f"{name} is not fitted yet", f"call {name}.fit(...) first")
