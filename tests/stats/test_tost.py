"""Paired and two-sample TOST against statsmodels, closed forms and degenerate inputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as hs
from scipy import stats as st
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttost_ind, ttost_paired

from steerid.errors import DataError, SteerIdError
from steerid.stats import independent_tost, paired_tost, tost_power_paired, tost_sample_size_paired


def _sample(seed: int, n: int = 40, shift: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, n)
    return x, x + rng.normal(shift, 0.3, n)


@pytest.mark.parametrize("margin_raw", [None, 0.1, 0.25])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_paired_matches_statsmodels(seed: int, margin_raw: float | None) -> None:
    x, y = _sample(seed)
    res = paired_tost(x, y, margin_raw=margin_raw)
    p, (t1, p1, df1), (t2, p2, _) = ttost_paired(x, y, res.low, res.high)
    assert res.p_tost == pytest.approx(float(p), rel=1e-10)
    assert res.p_lower == pytest.approx(float(p1), rel=1e-10)
    assert res.p_upper == pytest.approx(float(p2), rel=1e-10)
    assert res.t_lower == pytest.approx(float(t1), rel=1e-10)
    assert res.t_upper == pytest.approx(float(t2), rel=1e-10)
    assert res.df == pytest.approx(float(df1))
    lo, hi = DescrStatsW(x - y).tconfint_mean(alpha=2 * res.alpha)
    assert res.ci90 == pytest.approx((lo, hi), rel=1e-10)
    sd = np.std(x - y, ddof=1)
    if margin_raw is None:
        assert res.margin_source == "dz"
        assert (res.low, res.high) == pytest.approx((-0.2 * sd, 0.2 * sd))
    else:
        assert res.margin_source == "raw"
        assert (res.low, res.high) == (-margin_raw, margin_raw)
        assert res.margin_dz == pytest.approx(margin_raw / sd)
    assert res.dz == pytest.approx(np.mean(x - y) / sd)


def test_differences_alone_equal_pairs() -> None:
    x, y = _sample(3)
    assert paired_tost(x - y, margin_raw=0.2).to_dict() == paired_tost(x, y, margin_raw=0.2).to_dict()


def test_hand_computed_df2() -> None:
    # d = (0, 1, 2): m = 1, sd = 1, se = 1/√3, ν = 2, where F_t2(t) = 1/2 + t / (2√(t² + 2)).
    res = paired_tost([0.0, 1.0, 2.0], margin_raw=3.0)
    t1, t2 = 4.0 * math.sqrt(3.0), -2.0 * math.sqrt(3.0)
    assert res.t_lower == pytest.approx(t1)
    assert res.t_upper == pytest.approx(t2)
    assert res.p_lower == pytest.approx(0.5 - t1 / (2 * math.sqrt(t1**2 + 2)), rel=1e-9)  # 0.010102
    assert res.p_upper == pytest.approx(0.5 + t2 / (2 * math.sqrt(t2**2 + 2)), rel=1e-9)  # 0.037090
    assert res.p_tost == pytest.approx(0.0370899, abs=1e-6)
    assert res.equivalent
    t_crit = math.sqrt(2 * 0.81 / 0.19)  # t_{0.95, 2}: t/√(t²+2) = 0.9
    half = t_crit / math.sqrt(3.0)
    assert res.ci90 == pytest.approx((1 - half, 1 + half), rel=1e-9)
    assert res.ci_level == pytest.approx(0.9)


@pytest.mark.parametrize("equal_var", [True, False])
@pytest.mark.parametrize("margin_raw", [None, 0.4])
def test_independent_matches_statsmodels(equal_var: bool, margin_raw: float | None) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 1.0, 35)
    y = rng.normal(0.1, 1.6, 50)
    res = independent_tost(x, y, margin_d=0.5, margin_raw=margin_raw, equal_var=equal_var)
    usevar = "pooled" if equal_var else "unequal"
    p, (t1, p1, df1), (t2, p2, _) = ttost_ind(x, y, res.low, res.high, usevar=usevar)
    assert res.p_tost == pytest.approx(float(p), rel=1e-10)
    assert (res.p_lower, res.p_upper) == pytest.approx((float(p1), float(p2)), rel=1e-10)
    assert (res.t_lower, res.t_upper) == pytest.approx((float(t1), float(t2)), rel=1e-10)
    assert res.df == pytest.approx(float(df1), rel=1e-10)
    cm = CompareMeans(DescrStatsW(x), DescrStatsW(y))
    assert res.ci90 == pytest.approx(cm.tconfint_diff(alpha=2 * res.alpha, usevar=usevar), rel=1e-10)
    sp = math.sqrt((34 * np.var(x, ddof=1) + 49 * np.var(y, ddof=1)) / 83)
    assert res.sd_pooled == pytest.approx(sp)
    assert res.d == pytest.approx((x.mean() - y.mean()) / sp)
    assert res.n == 85
    if margin_raw is None:
        assert res.margin_source == "d"
        assert res.high == pytest.approx(0.5 * sp)


def test_power_and_sample_size_fields() -> None:
    x, y = _sample(4, n=40)
    res = paired_tost(x, y)
    assert res.n_required == tost_sample_size_paired(0.2, 0.8, 0.05, margin_scale="sample_sd") == 216
    assert res.power == pytest.approx(tost_power_paired(40, 0.2, 0.05, margin_scale="sample_sd"))
    assert res.underpowered
    assert any("underpowered" in note for note in res.notes)
    raw = paired_tost(x, y, margin_raw=0.1)
    assert raw.power == pytest.approx(tost_power_paired(40, raw.margin_dz, 0.05, margin_scale="fixed"))
    assert raw.n_required is not None and raw.n_required < 216


def test_large_equivalent_sample_not_underpowered() -> None:
    rng = np.random.default_rng(5)
    d = rng.normal(0.0, 1.0, 400)
    d -= d.mean()  # mean exactly 0
    res = paired_tost(d)
    assert res.equivalent and not res.underpowered and res.power > 0.8
    assert res.ci90[0] > res.low and res.ci90[1] < res.high


def test_zero_variance_dz_margin_is_not_equivalent() -> None:
    for value in (0.0, 1.5):
        res = paired_tost(np.full(10, value))
        assert res.sd_diff == 0.0 and math.isnan(res.dz)
        assert (res.low, res.high) == (0.0, 0.0)
        assert not res.equivalent and res.p_tost == 1.0
        assert math.isnan(res.power) and res.n_required is None
        assert any("margin_raw" in note for note in res.notes)
        json.dumps(res.to_dict())
        assert "sd = 0" in res.summary()


@pytest.mark.parametrize(("value", "expected"), [(0.3, True), (-0.49, True), (0.5, False), (0.7, False)])
def test_zero_variance_raw_margin(value: float, expected: bool) -> None:
    res = paired_tost([value] * 6, margin_raw=0.5)
    assert res.equivalent is expected
    assert res.p_tost == (0.0 if expected else 1.0)
    assert res.ci90 == (value, value)
    assert math.isnan(res.margin_dz)


def test_independent_zero_variance() -> None:
    res = independent_tost([1.0, 1.0, 1.0], [1.2, 1.2], margin_raw=0.5, equal_var=True)
    assert res.equivalent and res.p_tost == 0.0 and math.isnan(res.d)
    res = independent_tost([1.0, 1.0, 1.0], [1.2, 1.2])
    assert not res.equivalent and (res.low, res.high) == (0.0, 0.0)


def test_to_dict_is_plain_json() -> None:
    x, y = _sample(6)
    out = paired_tost(x, y).to_dict()
    text = json.dumps(out)
    back = json.loads(text)
    assert back["n"] == 40 and isinstance(back["ci90"], list) and isinstance(back["assumptions"], list)
    for value in out.values():
        assert not isinstance(value, np.generic)
    ind = independent_tost(x, y).to_dict()
    json.dumps(ind)


def test_summary_mentions_the_essentials() -> None:
    x, y = _sample(8)
    text = paired_tost(x, y, margin_raw=0.2).summary()
    for piece in ("Paired TOST", "90% CI", "H0: diff <= -0.2", "H0: diff >= 0.2", "assumptions:", "power"):
        assert piece in text
    assert "Welch" in independent_tost(x, y).summary()


@pytest.mark.parametrize(
    "call",
    [
        lambda: paired_tost([1.0]),
        lambda: paired_tost([1.0, float("nan"), 2.0]),
        lambda: paired_tost([1.0, 2.0, 3.0], [1.0, 2.0]),
        lambda: paired_tost([1.0, 2.0, 3.0], margin_dz=0.0),
        lambda: paired_tost([1.0, 2.0, 3.0], margin_raw=-1.0),
        lambda: paired_tost([1.0, 2.0, 3.0], alpha=0.5),
        lambda: paired_tost([[1.0, 2.0], [3.0, 4.0]]),
        lambda: independent_tost([1.0], [1.0, 2.0]),
        lambda: independent_tost([1.0, 2.0], [1.0, np.inf]),
    ],
)
def test_bad_input_raises_data_error(call) -> None:
    with pytest.raises(DataError) as info:
        call()
    assert isinstance(info.value, SteerIdError)
    assert "fix:" in str(info.value) and "\n" not in str(info.value)


finite = hs.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=30, deadline=None)
@given(hs.lists(finite, min_size=2, max_size=30), hs.floats(0.01, 5.0), hs.sampled_from([0.01, 0.05, 0.1]))
def test_properties(diffs: list[float], margin: float, alpha: float) -> None:
    d = np.asarray(diffs)
    assume(np.std(d, ddof=1) > 1e-6)
    res = paired_tost(d, margin_raw=margin, alpha=alpha)
    assert res.p_tost == max(res.p_lower, res.p_upper)
    assert 0.0 <= res.p_tost <= 1.0
    lo, hi = res.ci90
    gap = min(abs(lo - res.low), abs(hi - res.high))
    assume(gap > 1e-9 * (1 + margin))  # away from the decision boundary
    assert res.equivalent == (res.low < lo and hi < res.high)
    wider = paired_tost(d, margin_raw=margin * 2, alpha=alpha)
    assert wider.p_tost <= res.p_tost + 1e-12
    # the two one-sided p-values from scipy's one-sample t-test
    p1 = st.ttest_1samp(d, res.low, alternative="greater").pvalue
    p2 = st.ttest_1samp(d, res.high, alternative="less").pvalue
    assert (res.p_lower, res.p_upper) == pytest.approx((p1, p2), rel=1e-8, abs=1e-300)
