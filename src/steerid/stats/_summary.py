"""Small numeric summaries shared by the statistics modules (validation lives in :mod:`steerid.validation`)."""

from __future__ import annotations

import numpy as np


def mean_sd(values: np.ndarray) -> tuple[float, float]:
    """Mean and SD (ddof = 1) of a sample, exact (m, 0.0) when all values are identical.

    Rounding makes ``np.std`` of identical values slightly positive (e.g. six copies of 0.7);
    zero variance is therefore decided by equality of the values, not by the computed SD.
    """
    if bool(np.all(values == values[0])):
        return float(values[0]), 0.0
    return float(np.mean(values)), float(np.std(values, ddof=1))
