"""The shared fixtures of ``tests/conftest.py`` do what the test modules rely on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from steerid.extract.pca import PCA

pytestmark = pytest.mark.usefixtures("one_thread")


def test_one_thread_runs_torch_and_blas_single_threaded():
    assert torch.get_num_threads() == 1
    assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")


NEG = np.random.default_rng(0).normal(size=(8, 4))
POS = NEG + np.random.default_rng(1).normal(size=(8, 4)) + [2.0, 0.0, 0.0, 0.0]


def test_sklearn_contract_catches_a_fit_that_changes_a_hyper_parameter(sklearn_contract):
    def bad_fit(est):
        est.centred = True  # a hyper-parameter changed by fit: the contract forbids it
        return est.fit(POS, NEG)

    with pytest.raises(AssertionError):
        sklearn_contract(lambda: PCA(centred=False), bad_fit)
    sklearn_contract(lambda: PCA(centred=True), lambda est: est.fit(POS, NEG))
