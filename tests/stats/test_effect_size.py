"""Cohen's d and d_z: values and Hedges–Olkin CIs against pingouin, noncentral-t CIs by duality."""

from __future__ import annotations

import json
import math

import numpy as np
import pingouin as pg
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as hs
from scipy import stats as st

from steerid.errors import DataError
from steerid.stats import cohens_d, cohens_dz, noncentrality_ci


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dz_matches_pingouin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, 30)
    y = x + rng.normal(0.3, 0.8, 30)
    es = cohens_dz(x, y, ci_method="hedges_olkin")
    assert es.value == pytest.approx(pg.compute_effsize(x, y, paired=True, eftype="cohen_dz"), rel=1e-12)
    assert cohens_dz(x - y).value == pytest.approx(es.value, rel=1e-12)
    ci = pg.compute_esci(stat=es.value, nx=30, ny=30, paired=True, eftype="cohen", decimals=12)
    assert (es.ci_low, es.ci_high) == pytest.approx(tuple(ci), abs=1e-11)
    assert es.kind == "cohen_dz" and es.n == 30


@pytest.mark.parametrize(("nx", "ny"), [(20, 20), (12, 30)])
def test_d_matches_pingouin(nx: int, ny: int) -> None:
    rng = np.random.default_rng(nx + ny)
    x = rng.normal(0.5, 1.0, nx)
    y = rng.normal(0.0, 1.5, ny)
    es = cohens_d(x, y, ci_method="hedges_olkin")
    assert es.value == pytest.approx(pg.compute_effsize(x, y, eftype="cohen"), rel=1e-12)
    ci = pg.compute_esci(stat=es.value, nx=nx, ny=ny, eftype="cohen", decimals=12)
    assert (es.ci_low, es.ci_high) == pytest.approx(tuple(ci), abs=1e-11)


def test_hand_computed_dz() -> None:
    # d = (1, 2, 3, 4): mean 2.5, sd = √(5/3) → d_z = 2.5/1.2909944 = 1.9364917
    es = cohens_dz([1.0, 2.0, 3.0, 4.0])
    assert es.value == pytest.approx(2.5 / math.sqrt(5.0 / 3.0), rel=1e-12)
    # the bounds solve the noncentral-t CDF equations at t = d_z·√n
    t = es.value * 2.0
    assert st.nct.cdf(t, 3, es.ci_low * 2.0) == pytest.approx(0.975, abs=1e-9)
    assert st.nct.cdf(t, 3, es.ci_high * 2.0) == pytest.approx(0.025, abs=1e-9)


def test_noncentral_and_normal_agree_for_large_n() -> None:
    rng = np.random.default_rng(9)
    d = rng.normal(0.3, 1.0, 500)
    exact = cohens_dz(d)
    approx = cohens_dz(d, ci_method="hedges_olkin")
    assert exact.ci_low == pytest.approx(approx.ci_low, abs=0.01)
    assert exact.ci_high == pytest.approx(approx.ci_high, abs=0.01)


def test_noncentral_ci_coverage_small_n() -> None:
    rng = np.random.default_rng(123)
    n, delta, reps = 8, 0.8, 500
    data = rng.normal(delta, 1.0, (reps, n))
    hits = sum(es.ci_low <= delta <= es.ci_high for es in map(cohens_dz, data))
    assert abs(hits / reps - 0.95) < 0.025


@settings(max_examples=40, deadline=None)
@given(hs.lists(hs.floats(-5, 5, allow_nan=False), min_size=3, max_size=25), hs.floats(-2, 2))
def test_ci_excludes_zero_iff_t_test_rejects(values: list[float], shift: float) -> None:
    d = np.asarray(values) + shift
    assume(np.std(d, ddof=1) > 1e-3)
    p = st.ttest_1samp(d, 0.0).pvalue
    assume(abs(p - 0.05) > 1e-6)
    es = cohens_dz(d)
    assert (es.ci_low > 0 or es.ci_high < 0) == (p < 0.05)
    assert es.ci_low < es.value < es.ci_high


def test_independent_ci_duality_with_pooled_t() -> None:
    rng = np.random.default_rng(4)
    for _ in range(20):
        x, y = rng.normal(0.6, 1.0, 15), rng.normal(0.0, 1.0, 18)
        p = st.ttest_ind(x, y).pvalue
        es = cohens_d(x, y)
        assert (es.ci_low > 0 or es.ci_high < 0) == (p < 0.05)


def test_noncentrality_ci_symmetric_at_zero() -> None:
    lo, hi = noncentrality_ci(0.0, 10, 0.9)
    assert lo == pytest.approx(-hi, abs=1e-9)


def test_to_dict_json() -> None:
    out = cohens_d([1.0, 2.0, 3.0], [2.0, 3.0, 5.0]).to_dict()
    assert json.loads(json.dumps(out))["kind"] == "cohen_d"


@pytest.mark.parametrize(
    "call",
    [
        lambda: cohens_dz([1.0]),
        lambda: cohens_dz([2.0, 2.0, 2.0]),
        lambda: cohens_dz([1.0, float("nan")]),
        lambda: cohens_dz([1.0, 2.0], [1.0]),
        lambda: cohens_dz([1.0, 2.0, 4.0], ci_method="bogus"),
        lambda: cohens_d([1.0, 1.0], [2.0, 2.0]),
        lambda: cohens_d([1.0], [2.0, 3.0]),
        lambda: cohens_dz([1.0, 2.0, 4.0], confidence=1.0),
    ],
)
def test_bad_input(call) -> None:
    with pytest.raises(DataError):
        call()


def test_extreme_effect_small_n() -> None:
    # ν = 2, t = 8: scipy's noncentral t CDF is NaN at some λ far below t; the bound must still solve
    es = cohens_dz([2.0, 3.0, 3.0])
    assert math.isfinite(es.ci_low) and math.isfinite(es.ci_high)
    assert 0.0 < es.ci_low < es.value < es.ci_high
    assert st.nct.cdf(es.value * math.sqrt(3), 2, es.ci_high * math.sqrt(3)) == pytest.approx(0.025, abs=1e-9)
