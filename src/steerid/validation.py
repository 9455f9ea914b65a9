"""Input validation for every public entry point: one module, one error style.

Each check either returns its input in canonical form (float64 arrays, ``int``, ``float``,
``list[str]``) or raises a :class:`steerid.errors.SteerIdError` subclass whose one-line message
names the problem *and* the fix (``"<problem> — fix: <fix>"``). Nothing is coerced silently
beyond that conversion (no clipping, no NaN dropping, no truncation).

Error families:

- :class:`~steerid.errors.DataError` — data and hyper-parameters: samples, activation matrices,
  texts, counts, probabilities, ranges, choices, seeds, estimators used before ``fit``;
- :class:`~steerid.errors.VectorError` — steering vectors (NaN/inf, all zeros, wrong hidden size).

Intervals are written as in mathematics: ``(a, b]`` is a < x ≤ b. Booleans are never numbers
here (``True`` is not the integer 1 nor the probability 1.0), and strings are never sequences of
texts (``list("abc")`` would be three one-letter texts).

This module imports only numpy and :mod:`steerid.errors`, so every layer of steerid can use it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from steerid.errors import DataError, SteerIdError, VectorError

# --------------------------------------------------------------------------- scalars


def _as_real(value: object, name: str, kind: str) -> float:
    """``float(value)`` for a real number (not a bool or a string), else DataError."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise DataError(f"{name} is not a number ({value!r})", f"give {name} as {kind}")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} is not a number ({value!r})", f"give {name} as {kind}") from exc


def check_range(value: object, name: str, *, low: float = -math.inf, high: float = math.inf,
                low_open: bool = True, high_open: bool = True) -> float:
    """Return ``value`` as a finite float in the interval between ``low`` and ``high``.

    Args:
        value: A real number.
        name: How the argument is called in messages.
        low, high: Interval ends (infinite ends are always open).
        low_open, high_open: Exclude the end (``(``/``)``) or include it (``[``/``]``).

    Raises:
        DataError: Not a real number, NaN/inf, or outside the interval.

    Example:
        >>> check_range(0.3, "alpha", low=0.0, high=1.0)
        0.3
    """
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    interval = f"{left}{low:g}, {high:g}{right}"
    number = _as_real(value, name, f"a float in {interval}")
    below = number <= low if low_open else number < low
    above = number >= high if high_open else number > high
    if not math.isfinite(number) or below or above:
        raise DataError(f"{name} = {value!r} is outside {interval}", f"give {name} as a float in {interval}")
    return number


def check_probability(value: object, name: str, *, upper: float = 1.0) -> float:
    """``value`` as a float strictly inside ``(0, upper)`` (levels, powers, confidences)."""
    return check_range(value, name, low=0.0, high=upper)


def check_fraction(value: object, name: str, *, low: float = 0.0, high: float = 1.0,
                   low_open: bool = True, high_open: bool = False) -> float:
    """``value`` as a float in ``(low, high]`` by default (shares, thresholds, cosines)."""
    return check_range(value, name, low=low, high=high, low_open=low_open, high_open=high_open)


def check_positive(value: object, name: str) -> float:
    """``value`` as a finite float > 0 (margins, scales, tolerances)."""
    return check_range(value, name, low=0.0)


def check_finite(value: object, name: str) -> float:
    """``value`` as a finite float (any sign)."""
    return check_range(value, name)


def check_int(value: object, name: str, *, minimum: int, allow_float: bool = False) -> int:
    """``value`` as an ``int`` ≥ ``minimum``.

    Args:
        value: An integer (numpy integers included; never a bool).
        name: How the argument is called in messages.
        minimum: Smallest accepted value.
        allow_float: Also accept integral floats such as ``30.0`` (counts read from JSON/YAML).

    Raises:
        DataError: Not an integer, or below ``minimum``.
    """
    fix = f"set {name} to an integer ≥ {minimum}"
    if isinstance(value, (bool, np.bool_)):
        raise DataError(f"{name} must be an integer ≥ {minimum}, got {value!r}", fix)
    if allow_float and isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if not isinstance(value, (int, np.integer)) or value < minimum:
        raise DataError(f"{name} must be an integer ≥ {minimum}, got {value!r}", fix)
    return int(value)


def check_count(value: object, name: str, *, minimum: int) -> int:
    """:func:`check_int` that also accepts integral floats (``30.0``): sample sizes, resamples."""
    return check_int(value, name, minimum=minimum, allow_float=True)


def check_seed(seed: object) -> int:
    """A non-negative integer seed (numpy integers accepted, bools and floats refused)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}", "use e.g. seed=0")
    return int(seed)


def check_bool(value: object, name: str) -> bool:
    """``value`` as a ``bool`` (Python or numpy bool only; ``1`` and ``"yes"`` are refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise DataError(f"{name} must be true or false, got {value!r}", "pass a boolean")
    return bool(value)


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise DataError(f"unknown {name} {value!r}", f"use one of: {', '.join(choices)}")
    return value


# --------------------------------------------------------------------------- arrays


def _as_float64(values: object, what: str, expected: str, error: type[SteerIdError] = DataError) -> np.ndarray:
    """``values`` as a float64 numpy array (torch tensors are detached and copied to the CPU)."""
    if hasattr(values, "detach"):  # a torch tensor, without importing torch here
        values = values.detach().cpu().double().numpy()  # type: ignore[union-attr]
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise error(f"{what} is not numeric ({exc})", f"pass {what} as {expected}") from exc


def as_sample(values: object, name: str, *, min_n: int = 2) -> np.ndarray:
    """Return ``values`` as a finite 1-D float64 array with at least ``min_n`` entries.

    Raises:
        DataError: Not numeric, not 1-D, too short, or holding NaN/inf.

    Example:
        >>> as_sample([1, 2, 3], "scores").dtype
        dtype('float64')
    """
    arr = _as_float64(values, name, "a 1-D array of numbers")
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
    """Raise DataError unless the paired samples ``x`` and ``y`` have the same shape."""
    if np.shape(x) != np.shape(y):
        raise DataError(
            f"paired samples differ in length ({np.size(x)} vs {np.size(y)})",
            "pass one value per prompt in both arrays, in the same prompt order",
        )


def as_matrix(values: object, what: str, *, min_rows: int = 1, dim: int | None = None) -> np.ndarray:
    """A finite 2-D float64 array ``(n, d)`` with n ≥ ``min_rows``, d ≥ 1 (and d = ``dim`` if given).

    Raises:
        DataError: Not numeric, not 2-D, too few rows, no or the wrong number of columns, NaN/inf.
    """
    array = _as_float64(values, what, "a 2-D float array")
    if array.ndim != 2:
        raise DataError(f"{what} must be 2-D (n, d), got shape {array.shape}", "pool tokens; stack one row per example")
    if array.shape[0] < min_rows:
        raise DataError(f"{what} has {array.shape[0]} row(s), at least {min_rows} needed", "supply more examples")
    if array.shape[1] == 0:
        raise DataError(f"{what} has zero columns", "capture activations at a site first")
    if dim is not None and array.shape[1] != dim:
        raise DataError(f"{what} has width {array.shape[1]}, expected {dim}", "capture all activations at one site")
    if not np.isfinite(array).all():
        raise DataError(f"{what} contains NaN or inf", "check the model dtype and the prompts")
    return array


def check_activations(pos: object, neg: object, *, paired: bool,
                      min_rows: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative activations as finite float64 ``(n₊, d)`` and ``(n₋, d)``.

    Args:
        pos, neg: Pooled site activations, one row per example.
        paired: Row i of each comes from contrastive pair i, so n₊ = n₋ is required.
        min_rows: Fewest rows each class needs.

    Raises:
        DataError: See :func:`as_matrix`; different widths; unequal counts when ``paired``.
    """
    pos = as_matrix(pos, "positive activations", min_rows=min_rows)
    neg = as_matrix(neg, "negative activations", min_rows=min_rows, dim=pos.shape[1])
    if paired and pos.shape[0] != neg.shape[0]:
        raise DataError(
            f"paired data needs as many positives as negatives ({pos.shape[0]} vs {neg.shape[0]})",
            "give complete contrastive pairs, row i of each from pair i",
        )
    return pos, neg


def check_vector(values: object, what: str = "vector", *, dim: int | None = None) -> np.ndarray:
    """A finite, non-zero 1-D float64 vector (of length ``dim`` when given).

    Args:
        values: Array-like or torch tensor; a :class:`~steerid.vector.SteeringVector` (anything
            with ``provenance`` and ``vector``) gives its ``norm · direction``.
        what: How the vector is called in messages.
        dim: Required hidden size.

    Raises:
        VectorError: Not numeric, not 1-D, NaN/inf, all zeros, or the wrong hidden size.
    """
    if hasattr(values, "provenance") and hasattr(values, "vector"):
        values = values.vector  # type: ignore[union-attr]
    array = _as_float64(values, what, "a 1-D array of floats", VectorError)
    if array.ndim != 1 or array.size == 0:
        raise VectorError(f"{what} must be 1-D, got shape {array.shape}", "pass a single d-dimensional vector")
    if not np.isfinite(array).all():
        raise VectorError(f"{what} contains NaN or inf", "re-extract it; check the model dtype and prompts")
    if not np.any(array):
        raise VectorError(f"{what} is all zeros", "re-extract it from pairs whose texts differ")
    if dim is not None:
        check_hidden_size(array.shape[0], dim, what)
    return array


def check_hidden_size(width: int, hidden_size: int, what: str = "vector") -> None:
    """Raise VectorError unless ``width`` equals the model's / site's ``hidden_size``."""
    if int(width) != int(hidden_size):
        raise VectorError(f"{what} has hidden size {width}, expected {hidden_size}",
                          "use a vector extracted from this model at this site")


# --------------------------------------------------------------------------- texts


def check_texts(texts: Iterable[str], what: str = "texts", *, allow_empty: bool = False, allow_blank: bool = False,
                error: type[SteerIdError] = DataError) -> list[str]:
    """``texts`` as a list of strings.

    Args:
        texts: A sequence or iterable of strings. A bare string is refused (it would be read
            character by character).
        what: How the texts are called in messages (``"prompts"``, ``"texts"`` …).
        allow_empty: Accept an empty collection (scorers return an empty array for it).
        allow_blank: Accept ``""`` and whitespace-only texts (an empty continuation is scored).
        error: The error family raised (``DataError``; scorers use ``ScorerError``).

    Raises:
        ``error``: A bare string, not iterable, empty (unless allowed), a non-string element,
            or an empty/whitespace-only text (unless allowed). Texts are counted from 1.

    Example:
        >>> check_texts(("a", "b"))
        ['a', 'b']
    """
    if isinstance(texts, (str, bytes)):
        raise error(f"{what} is a single string, not a sequence of texts", "wrap it in a list: [text]")
    try:
        items = list(texts)
    except TypeError as exc:
        raise error(f"{what} must be a sequence of strings, got {type(texts).__name__}",
                    "pass a list of texts") from exc
    if not items and not allow_empty:
        raise error(f"no {what} given", f"supply at least one of the {what}")
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise error(f"{what} #{index + 1} is {type(item).__name__}, not str",
                        "decode generated tokens to strings first")
        if not allow_blank and not item.strip():
            raise error(f"{what} #{index + 1} is empty", f"remove empty {what}")
    return items


# --------------------------------------------------------------------------- estimators


def require_fitted(obj: object, attribute: str, name: str | None = None) -> None:
    """Raise DataError when ``obj`` lacks the fitted ``attribute`` (``fit`` has not run)."""
    if not hasattr(obj, attribute):
        label = name or type(obj).__name__
        raise DataError(f"{label} is not fitted yet", f"call {label}.fit(...) first")
