"""Wilson interval against its closed form and statsmodels."""

from __future__ import annotations

import math

import pytest
from scipy import stats as st
from statsmodels.stats.proportion import proportion_confint

from steerid.errors import DataError
from steerid.stats import wilson_ci


def _wilson(k: int, n: int, conf: float) -> tuple[float, float]:
    z = st.norm.ppf(1 - (1 - conf) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n", "conf"), [(6, 8, 0.95), (0, 8, 0.95), (8, 8, 0.9), (37, 120, 0.99)])
def test_matches_closed_form_and_statsmodels(k: int, n: int, conf: float) -> None:
    iv = wilson_ci(k, n, conf)
    assert (iv.low, iv.high) == pytest.approx(_wilson(k, n, conf), abs=1e-12)
    assert (iv.low, iv.high) == pytest.approx(proportion_confint(k, n, alpha=1 - conf, method="wilson"), abs=1e-12)
    assert iv.estimate == k / n and iv.method == "wilson" and iv.n == n
    assert 0.0 <= iv.low <= iv.estimate <= iv.high <= 1.0


def test_hand_value_and_edges() -> None:
    iv = wilson_ci(6, 8)
    assert (round(iv.low, 4), round(iv.high, 4)) == (0.4093, 0.9285)
    assert wilson_ci(0, 8).low == pytest.approx(0.0, abs=1e-15) and wilson_ci(0, 8).high > 0.2
    assert wilson_ci(8, 8).high == pytest.approx(1.0) and "few trials" in wilson_ci(8, 8).note


@pytest.mark.parametrize(("k", "n"), [(9, 8), (-1, 8), (1, 0), (1.5, 8), (True, 3)])
def test_bad_counts(k, n) -> None:
    with pytest.raises(DataError):
        wilson_ci(k, n)
