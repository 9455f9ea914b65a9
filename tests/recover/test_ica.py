"""ICA: independent non-Gaussian traits are unmixed; Gaussian ones are not (and are flagged)."""

from __future__ import annotations

import numpy as np
import pytest

from steerid.errors import DataError
from steerid.recover.ica import ICARecovery

D = 48


def _mixture(kind: str, seed: int, n: int = 500, k: int = 3, noise: float = 0.2):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(D, k))
    mixing /= np.linalg.norm(mixing, axis=0)
    if kind == "laplace":
        sources = rng.laplace(size=(n, k))
    elif kind == "exponential":
        sources = rng.exponential(size=(n, k))
    else:
        sources = rng.normal(size=(n, k))
    sources *= np.array([3.0, 2.5, 2.0])[:k]
    return sources @ mixing.T + noise * rng.normal(size=(n, D)), mixing.T


@pytest.mark.parametrize("kind", ["laplace", "exponential"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_non_gaussian_traits_are_recovered(kind, seed):
    diffs, truth = _mixture(kind, seed)
    fit = ICARecovery(n_components=3, seed=seed).fit(diffs)
    match = fit.match(truth)
    assert match["cosines"].min() >= 0.97
    assert fit.identifiable_ and fit.converged_


def test_gaussian_traits_are_not_identified():
    """Failing case: Gaussian sources leave the rotation arbitrary; recovery drops and is flagged."""
    gaussian, non_gaussian = [], []
    for seed in range(4):
        diffs, truth = _mixture("gaussian", seed)
        fit = ICARecovery(n_components=3, seed=seed).fit(diffs)
        gaussian.append(fit.match(truth)["mean"])
        assert not fit.identifiable_
        diffs, truth = _mixture("laplace", seed)
        non_gaussian.append(ICARecovery(n_components=3, seed=seed).fit(diffs).match(truth)["mean"])
    assert np.mean(gaussian) < 0.9
    assert np.mean(non_gaussian) - np.mean(gaussian) > 0.1


def test_signs_follow_the_mean_shift_and_pos_neg_input():
    rng = np.random.default_rng(3)
    mixing = np.linalg.qr(rng.normal(size=(D, 2)))[0]
    sources = rng.exponential(size=(400, 2)) + 1.0  # positive mean shifts
    neg = rng.normal(size=(400, D))
    pos = neg + sources @ mixing.T + 0.1 * rng.normal(size=(400, D))
    fit = ICARecovery(n_components=2).fit(pos, neg)
    match = fit.match(mixing.T)
    signed = np.sum(fit.directions_[match["rows"]] * mixing.T[match["cols"]], axis=1)
    assert np.all(signed > 0.97)
    assert np.all(fit.sources_.mean(axis=0) > 0)


def test_deterministic_under_seed():
    diffs, _ = _mixture("laplace", 4)
    a = ICARecovery(n_components=3, seed=9).fit(diffs)
    b = ICARecovery(n_components=3, seed=9).fit(diffs)
    assert np.array_equal(a.directions_, b.directions_)


def test_bad_inputs_raise_steerid_errors():
    diffs, truth = _mixture("laplace", 5, n=50)
    for params in ({"n_components": 0}, {"fun": "tanh"}, {"max_iter": 0}, {"tol": 0.0}, {"seed": 1.5},
                   {"n_components": 60}):
        with pytest.raises(DataError):
            ICARecovery(**params).fit(diffs)
    with pytest.raises(DataError):
        ICARecovery().fit(diffs, diffs[:-1])
    with pytest.raises(DataError):
        ICARecovery().fit(np.full((10, D), np.nan))
    with pytest.raises(DataError):
        ICARecovery(n_components=3).fit(np.outer(np.arange(20.0), np.ones(D)))  # rank 1
    with pytest.raises(DataError):
        ICARecovery().match(truth)  # not fitted
    fit = ICARecovery(n_components=3).fit(diffs)
    with pytest.raises(DataError):
        fit.match(np.zeros((2, D)))
