"""Sparse recovery: finds a planted sparse direction, reports a dense one as not recoverable."""

from __future__ import annotations

import numpy as np
import pytest

from _recover_data import D, orthonormal, pairs, sparse_direction
from steerid.errors import DataError
from steerid.recover.sparse import SparseDirection


@pytest.mark.parametrize("model", ["lasso", "logistic"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_sparse_direction_is_recovered(model, seed):
    w = sparse_direction(np.random.default_rng(seed))
    pos, neg = pairs(w, 200, seed=seed)
    fit = SparseDirection(model=model, n_resamples=30, seed=seed).fit(pos, neg)
    assert fit.direction_ @ w >= 0.95
    assert fit.reliable_, fit.diagnosis_
    assert set(fit.support_) <= set(np.flatnonzero(w))
    mean_diff = pos.mean(0) - neg.mean(0)
    assert fit.direction_ @ w > mean_diff @ w / np.linalg.norm(mean_diff)  # sparsity removes noise


@pytest.mark.parametrize("kind", ["gaussian", "flat"])
@pytest.mark.parametrize("seed", [0, 1])
def test_dense_direction_is_reported_unreliable(kind, seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=D) if kind == "gaussian" else rng.choice([-1.0, 1.0], size=D)
    w /= np.linalg.norm(w)
    pos, neg = pairs(w, 200, seed=seed)
    fit = SparseDirection(n_resamples=30, seed=seed).fit(pos, neg)
    assert not fit.reliable_
    assert fit.diagnosis_
    # Either the answer is not sparse at all, or the sparse answer misses w.
    assert fit.support_fraction_ > 0.25 or fit.direction_ @ w < 0.9


def test_dense_perturbation_below_penalty_is_removed():
    """v + v⊥ with a dense v⊥ (ρ = 0.5) returns nearly the same vector as v alone."""
    rng = np.random.default_rng(4)
    w = sparse_direction(rng)
    pos, neg = pairs(w, 200, seed=4)
    g = rng.normal(size=D)
    v_perp = g - (g @ w) * w
    v_perp *= 0.5 * 2.0 / np.linalg.norm(v_perp)
    clean = SparseDirection(n_resamples=30).fit(pos, neg).direction_
    perturbed = SparseDirection(n_resamples=30).fit(pos + v_perp, neg).direction_
    raw_clean, raw_pert = pos.mean(0) - neg.mean(0), pos.mean(0) + v_perp - neg.mean(0)
    raw_cos = raw_clean @ raw_pert / (np.linalg.norm(raw_clean) * np.linalg.norm(raw_pert))
    assert clean @ perturbed >= 0.95
    assert raw_cos < 0.95


def test_learned_orthonormal_basis_and_dictionary():
    rng = np.random.default_rng(5)
    basis = orthonormal(rng)
    coef = np.zeros(D)
    coef[[3, 10, 20]] = [1.0, -0.8, 0.6]
    w = basis @ coef
    w /= np.linalg.norm(w)
    pos, neg = pairs(w, 200, seed=5)
    fit = SparseDirection(basis=basis, n_resamples=30).fit(pos, neg)
    assert fit.support_.tolist() == [3, 10, 20]
    assert fit.direction_ @ w >= 0.95
    neuron = SparseDirection(n_resamples=30).fit(pos, neg)
    assert not neuron.reliable_  # dense in the neuron basis
    # Overcomplete dictionary: neurons plus the rotated atoms (unnormalised columns are rescaled).
    dictionary = np.hstack([np.eye(D), 3.0 * basis])
    dict_fit = SparseDirection(basis=dictionary, n_resamples=30).fit(pos, neg)
    assert dict_fit.direction_ @ w >= 0.95
    assert set(dict_fit.support_.tolist()) >= {D + 3, D + 10}


def test_unpaired_data():
    rng = np.random.default_rng(6)
    w = sparse_direction(rng)
    pos = rng.normal(size=(300, D)) + 2.0 * w
    neg = rng.normal(size=(250, D))
    fit = SparseDirection(paired=False, n_resamples=30).fit(pos, neg)
    assert fit.direction_ @ w >= 0.95


def test_deterministic_under_seed():
    w = sparse_direction(np.random.default_rng(7))
    pos, neg = pairs(w, 60, seed=7)
    a = SparseDirection(n_resamples=20, seed=3).fit(pos, neg)
    b = SparseDirection(n_resamples=20, seed=3).fit(pos, neg)
    assert np.array_equal(a.frequency_, b.frequency_) and np.array_equal(a.direction_, b.direction_)
    c = SparseDirection(model="logistic", n_resamples=20, seed=3).fit(pos, neg)
    d = SparseDirection(model="logistic", n_resamples=20, seed=3).fit(pos, neg)
    assert np.array_equal(c.frequency_, d.frequency_)


def test_bad_inputs_raise_steerid_errors():
    w = sparse_direction(np.random.default_rng(8))
    pos, neg = pairs(w, 40, seed=8)
    for params in ({"model": "ridge"}, {"penalty_ratio": 1.5}, {"n_resamples": 1}, {"sample_fraction": 1.0},
                   {"threshold": 0.0}, {"seed": -1}, {"basis": np.ones((D + 1, 3))},
                   {"basis": np.zeros((D, 2))}):
        with pytest.raises(DataError):
            SparseDirection(**params).fit(pos, neg)
    with pytest.raises(DataError):
        SparseDirection().fit(pos, neg[:-1])  # paired sizes differ
    with pytest.raises(DataError):
        SparseDirection().fit(pos, pos)  # equal means
    with pytest.raises(DataError):
        SparseDirection().fit(pos[:, :5], neg)
    with pytest.raises(DataError):
        SparseDirection(threshold=1.0, penalty_ratio=0.99, n_resamples=10).fit(*pairs(w, 10, noise=3.0, seed=8))
