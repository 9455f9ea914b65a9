"""Bootstrap intervals: determinism, fallbacks, joint resampling of pairs, whole-cluster resampling."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as st

from steerid.errors import DataError
from steerid.stats import bootstrap_ci, cluster_bootstrap_ci, paired_ratio_ci


def test_deterministic_under_seed() -> None:
    x = np.random.default_rng(0).normal(size=40)
    assert bootstrap_ci(x, seed=3) == bootstrap_ci(x, seed=3)
    assert bootstrap_ci(x, seed=3).low != bootstrap_ci(x, seed=4).low
    a = np.random.default_rng(1).normal(1.0, 1.0, 40)
    assert paired_ratio_ci(a, a + 0.5, seed=2) == paired_ratio_ci(a, a + 0.5, seed=2)


def test_mean_interval_close_to_t_interval() -> None:
    x = np.random.default_rng(2).normal(1.0, 2.0, 200)
    lo, hi = st.t.interval(0.95, 199, loc=x.mean(), scale=st.sem(x))
    for method in ("BCa", "percentile", "basic"):
        iv = bootstrap_ci(x, confidence=0.95, n_resamples=4000, method=method)
        assert iv.method == method and iv.n == 200 and iv.note == ""
        assert iv.estimate == pytest.approx(x.mean())
        assert abs(iv.low - lo) < 0.1 * (hi - lo) and abs(iv.high - hi) < 0.1 * (hi - lo)


def test_confidence_level_widens_interval() -> None:
    x = np.random.default_rng(5).exponential(size=60)
    assert bootstrap_ci(x, confidence=0.99).width > bootstrap_ci(x, confidence=0.8).width


def test_other_statistic() -> None:
    x = np.random.default_rng(6).normal(size=51)
    iv = bootstrap_ci(x, np.median, n_resamples=500)
    assert iv.estimate == pytest.approx(np.median(x)) and iv.low < iv.estimate < iv.high


def test_constant_data_falls_back_to_percentile() -> None:
    iv = bootstrap_ci(np.full(12, 2.5))
    assert iv.method == "percentile"
    assert "BCa undefined" in iv.note
    assert iv.low == iv.high == 2.5


def test_ratio_estimate_and_joint_resampling() -> None:
    rng = np.random.default_rng(8)
    b = rng.normal(1.0, 1.0, 80)
    a = 0.7 * b + rng.normal(0.0, 0.02, 80)  # per-prompt a ≈ 0.7 b: pairing makes the ratio precise
    iv = paired_ratio_ci(a, b)
    assert iv.estimate == pytest.approx(a.mean() / b.mean())
    assert iv.low < 0.7 < iv.high and iv.width < 0.05
    assert not iv.unstable and iv.denominator == pytest.approx(b.mean())
    assert iv.denominator_low < b.mean() < iv.denominator_high
    # resampling a and b independently would give a far wider interval
    shuffled = paired_ratio_ci(a, rng.permutation(b))
    assert shuffled.width > 5 * iv.width


def test_ratio_unstable_when_denominator_ci_includes_zero() -> None:
    rng = np.random.default_rng(9)
    b = rng.normal(0.0, 1.0, 40)
    b -= b.mean() - 0.05
    iv = paired_ratio_ci(rng.normal(0.5, 1.0, 40), b)
    assert iv.unstable and iv.denominator_low <= 0.0 <= iv.denominator_high
    assert "unstable" in iv.note
    json.dumps(iv.to_dict())


def test_ratio_zero_denominator_mean() -> None:
    iv = paired_ratio_ci([1.0, 2.0, 3.0, 4.0], [-1.0, 1.0, -2.0, 2.0], n_resamples=200)
    assert math.isnan(iv.estimate) and iv.unstable and "undefined" in iv.note


def test_cluster_equals_bootstrap_of_cluster_means_for_equal_sizes() -> None:
    # with equal cluster sizes, mean of the drawn observations = mean of the drawn cluster means,
    # and both bootstraps draw the same cluster indices from the same seed
    rng = np.random.default_rng(10)
    means = rng.normal(0.0, 1.0, 30)
    values = np.repeat(means, 4) + rng.normal(0.0, 0.3, 120)
    labels = np.repeat([f"p{i:02d}" for i in range(30)], 4)
    order = rng.permutation(120)  # labels need not be contiguous
    iv = cluster_bootstrap_ci(values[order], labels[order], seed=4, method="percentile")
    ref = bootstrap_ci(values.reshape(30, 4).mean(axis=1), seed=4, method="percentile")
    assert iv.n == 30 and "120 observations in 30 clusters" in iv.note
    assert (iv.estimate, iv.low, iv.high) == pytest.approx((ref.estimate, ref.low, ref.high), rel=1e-12)


def test_cluster_generic_statistic_equals_fast_mean() -> None:
    rng = np.random.default_rng(11)
    values = rng.normal(size=90)
    clusters = rng.integers(0, 20, 90)
    fast = cluster_bootstrap_ci(values, clusters, n_resamples=300)
    slow = cluster_bootstrap_ci(values, clusters, lambda v: float(np.mean(v)), n_resamples=300)
    assert (fast.low, fast.high) == pytest.approx((slow.low, slow.high), rel=1e-10)


def test_cluster_interval_wider_than_iid_when_clustered() -> None:
    rng = np.random.default_rng(12)
    values = np.repeat(rng.normal(0.0, 1.0, 25), 8) + rng.normal(0.0, 0.1, 200)
    clusters = np.repeat(np.arange(25), 8)
    assert cluster_bootstrap_ci(values, clusters).width > 2 * bootstrap_ci(values).width


@pytest.mark.parametrize(
    "call",
    [
        lambda: bootstrap_ci([1.0]),
        lambda: bootstrap_ci([1.0, float("nan"), 2.0]),
        lambda: bootstrap_ci([1.0, 2.0, 3.0], method="studentized"),
        lambda: bootstrap_ci([1.0, 2.0, 3.0], n_resamples=5),
        lambda: bootstrap_ci([1.0, 2.0, 3.0], lambda v: np.array([1.0, 2.0])),
        lambda: paired_ratio_ci([1.0, 2.0, 3.0], [1.0, 2.0]),
        lambda: cluster_bootstrap_ci([1.0, 2.0, 3.0], [0, 0, 0]),
        lambda: cluster_bootstrap_ci([1.0, 2.0, 3.0], [0, 1]),
    ],
)
def test_bad_input(call) -> None:
    with pytest.raises(DataError):
        call()
