"""Every recovery constraint follows the scikit-learn estimator contract (see ``sklearn_contract``)."""

from __future__ import annotations

import numpy as np
import pytest

from _recover_data import D, environments, orthonormal, pairs, sparse_direction
from steerid.recover import (
    CONSTRAINTS,
    CrossLayerConsistency,
    GaugeFix,
    ICARecovery,
    MultiEnvInvariance,
    SparseDirection,
    Stability,
)

RNG = np.random.default_rng(0)
W = sparse_direction(RNG)
POS, NEG = pairs(W, 60)
COV = np.cov(np.vstack([POS, NEG]).T)
VECTORS = {layer: W + 0.1 * RNG.normal(size=D) for layer in range(3)}
ENVS, _ = environments("shared", n=30)
MIXED = RNG.exponential(size=(300, 2)) @ orthonormal(RNG)[:, :2].T

CASES = {
    "gauge": (lambda: GaugeFix(variance=0.9), lambda est: est.fit(COV)),
    "sparse": (lambda: SparseDirection(n_resamples=10, basis=np.eye(D)), lambda est: est.fit(POS, NEG)),
    "multienv": (lambda: MultiEnvInvariance(n_bootstrap=10), lambda est: est.fit(ENVS)),
    "crosslayer": (lambda: CrossLayerConsistency(min_cosine=0.5), lambda est: est.fit(VECTORS)),
    "ica": (lambda: ICARecovery(seed=3), lambda est: est.fit(MIXED)),
    "stability": (lambda: Stability("pca", n_bootstrap=5), lambda est: est.fit(POS, NEG)),
}


def test_every_constraint_is_covered():
    assert set(CONSTRAINTS) <= set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_constraint_contract(name, sklearn_contract):
    make, fit = CASES[name]
    sklearn_contract(make, fit)


def test_params_record_hyper_parameters_and_fitted_choices():
    gauge = GaugeFix(rank=2)
    assert gauge.params() == {"basis": "covariance", "variance": 0.95, "rank": 2, "centered": True,
                              "fitted_rank": None, "captured": None}
    gauge.fit(COV)
    assert gauge.params()["fitted_rank"] == 2
    sparse = SparseDirection(basis=np.eye(D))
    assert sparse.params()["basis"] == [D, D]  # an array hyper-parameter is recorded by its shape
