"""Conversion of result fields to JSON-safe Python values.

NumPy scalars become ``float``/``int``/``bool``, arrays and tuples become lists, mappings keep
their keys. NaN and ±inf stay as floats (``json.dumps`` writes them as ``NaN``/``Infinity``),
so an undefined quantity is visible rather than dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """Return ``value`` with every NumPy type replaced by the matching built-in type."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
