"""Bootstrap stability of extraction methods."""

from __future__ import annotations

import numpy as np
import pytest

from _recover_data import D, pairs
from steerid.errors import DataError
from steerid.extract.mean_diff import MeanDiff
from steerid.recover.stability import Stability, compare_methods


def _w(seed: int = 0) -> np.ndarray:
    w = np.random.default_rng(seed).normal(size=D)
    return w / np.linalg.norm(w)


def test_strong_signal_is_stable():
    pos, neg = pairs(_w(), 200, shift=3.0, noise=0.3)
    fit = Stability("mean_diff", n_bootstrap=100).fit(pos, neg)
    assert fit.stable_ and fit.p05_ >= 0.95 and fit.median_ >= fit.p05_
    assert fit.direction_ @ _w() >= 0.99


def test_weak_signal_is_unstable():
    """Failing case: few noisy pairs give a direction that moves under resampling."""
    pos, neg = pairs(_w(), 12, shift=1.0, noise=1.0)
    fit = Stability("mean_diff", n_bootstrap=100).fit(pos, neg)
    assert not fit.stable_
    assert fit.p05_ < 0.9


def test_unpaired_resampling_and_factory():
    rng = np.random.default_rng(1)
    pos = rng.normal(size=(80, D)) + 3.0 * _w()
    neg = rng.normal(size=(60, D))
    named = Stability("mean_diff", n_bootstrap=50, paired=False, seed=2).fit(pos, neg)
    factory = Stability(MeanDiff, n_bootstrap=50, paired=False, seed=2).fit(pos, neg)
    assert np.array_equal(named.cosines_, factory.cosines_)
    assert factory.method_name_ == "MeanDiff"


def test_compare_methods_on_paired_data_with_a_shared_nuisance():
    """mean_diff and uncentred pca agree and are stable; lda, which ignores the pairing, treats the
    pair-shared nuisance as within-class noise and is the least stable of the three."""
    pos, neg = pairs(_w(3), 150, shift=3.0, noise=0.5, seed=3)
    result = compare_methods(pos, neg, ("mean_diff", "pca", "lda"), params={"pca": {"centred": False}},
                             n_bootstrap=30)
    assert result.cosines.shape == (3, 3)
    assert result.cosines[0, 1] >= 0.99
    stability = {s["method"]: s for s in result.stability}
    assert stability["mean_diff"]["stable"] and stability["pca"]["stable"]
    assert stability["lda"]["p05"] < stability["mean_diff"]["p05"]
    assert set(result.to_dict()) == {"methods", "cosines", "stability", "min_agreement"}


def test_deterministic_under_seed():
    pos, neg = pairs(_w(), 30, shift=1.5)
    a = Stability("pca", n_bootstrap=40, seed=5).fit(pos, neg)
    b = Stability("pca", n_bootstrap=40, seed=5).fit(pos, neg)
    assert np.array_equal(a.cosines_, b.cosines_)


def test_bad_inputs_raise_steerid_errors():
    pos, neg = pairs(_w(), 20)
    with pytest.raises(DataError):
        Stability("no_such_method").fit(pos, neg)
    with pytest.raises(DataError):
        Stability("pca", params={"bogus": 1}).fit(pos, neg)
    with pytest.raises(DataError):
        Stability(MeanDiff, params={"x": 1}).fit(pos, neg)
    with pytest.raises(DataError):
        Stability(42).fit(pos, neg)
    with pytest.raises(DataError):
        Stability(n_bootstrap=1).fit(pos, neg)
    with pytest.raises(DataError):
        Stability().fit(pos, neg[:-1])
    with pytest.raises(DataError):
        compare_methods(pos, neg, ("pca", "pca"))
    with pytest.raises(DataError):
        compare_methods(pos, neg, ())
