"""Multi-environment invariance: the shared direction survives environment-specific shifts."""

from __future__ import annotations

import numpy as np
import pytest

from _recover_data import D, environments
from steerid.errors import DataError
from steerid.recover.multienv import MultiEnvInvariance

B = 40


@pytest.mark.parametrize("seed", [0, 1])
def test_shared_direction_recovered_despite_spurious_shifts(seed):
    envs, w = environments("shared", seed=seed)
    fit = MultiEnvInvariance(n_bootstrap=B, seed=seed).fit(envs)
    assert fit.direction_ @ w >= 0.95
    assert fit.pooled_direction_ @ w <= 0.9  # the pooled mean difference keeps the spurious parts
    assert fit.shared_ and fit.explained_ >= 0.9
    # Every environment does carry a spurious shift: its departure beats all B null draws
    # (Holm over 4 environments needs B ≥ 80 to reject at 0.05, so the raw p-values are checked).
    assert fit.p_values_.max() == pytest.approx(1 / (B + 1))
    assert np.quantile(fit.bootstrap_cosines_, 0.05) >= 0.95


def test_invariant_environments_are_not_flagged():
    envs, w = environments("pure", seed=3)
    fit = MultiEnvInvariance(n_bootstrap=100, seed=3).fit(envs)
    assert fit.direction_ @ w >= 0.99
    assert not fit.departs_.any()
    assert fit.p_values_.min() > 0.01


def test_no_shared_direction_is_reported():
    """Failing case: every environment moves along its own directions."""
    envs, _ = environments("none", seed=4)
    fit = MultiEnvInvariance(n_bootstrap=B, seed=4).fit(envs)
    assert not fit.shared_
    assert fit.explained_ < 0.5
    assert fit.subspace_cosines_.min() < 0.9
    assert fit.p_values_.max() == pytest.approx(1 / (B + 1))


def test_one_vector_per_environment_cannot_remove_spurious_parts():
    """subspace_dim=1 (mean differences only) equals the pooled direction here, as documented."""
    envs, w = environments("shared", seed=5)
    fit = MultiEnvInvariance(subspace_dim=1, n_bootstrap=B, seed=5).fit(envs)
    assert fit.direction_ @ fit.pooled_direction_ >= 0.99
    assert fit.direction_ @ w < 0.95


def test_unpaired_mean_difference_mode_and_mapping_names():
    rng = np.random.default_rng(6)
    w = np.eye(D)[0]
    envs = {f"topic{e}": (rng.normal(size=(60, D)) + 2 * w, rng.normal(size=(50, D))) for e in range(3)}
    fit = MultiEnvInvariance(subspace_dim=1, paired=False, n_bootstrap=B).fit(envs)
    assert fit.names_ == ["topic0", "topic1", "topic2"]
    assert fit.direction_ @ w >= 0.95
    summary = fit.diagnostics()
    assert [e["name"] for e in summary["environments"]] == fit.names_


def test_deterministic_under_seed():
    envs, _ = environments("shared", n=40, seed=7)
    a = MultiEnvInvariance(n_bootstrap=20, seed=1).fit(envs)
    b = MultiEnvInvariance(n_bootstrap=20, seed=1).fit(envs)
    assert np.array_equal(a.direction_, b.direction_)
    assert np.array_equal(a.p_values_, b.p_values_)
    assert np.array_equal(a.bootstrap_cosines_, b.bootstrap_cosines_)


def test_bad_inputs_raise_steerid_errors():
    envs, _ = environments("shared", n=20, seed=8)
    with pytest.raises(DataError):
        MultiEnvInvariance(n_bootstrap=B).fit(envs[:1])
    with pytest.raises(DataError):
        MultiEnvInvariance(n_bootstrap=B).fit("not environments")
    with pytest.raises(DataError):
        MultiEnvInvariance(n_bootstrap=B).fit([envs[0], (envs[1][0][:, :10], envs[1][1][:, :10])])
    with pytest.raises(DataError):
        MultiEnvInvariance(n_bootstrap=B, paired=False).fit(envs)  # k = 2 needs pairs
    with pytest.raises(DataError):
        MultiEnvInvariance(n_bootstrap=B).fit([envs[0], (envs[1][0], envs[1][1][:-1])])
    with pytest.raises(DataError):
        MultiEnvInvariance(n_bootstrap=B).fit([envs[0], (envs[1][0], envs[1][0])])  # equal means
    with pytest.raises(DataError):
        MultiEnvInvariance(n_bootstrap=5).fit(envs)
    with pytest.raises(DataError):
        MultiEnvInvariance(subspace_dim=0, n_bootstrap=B).fit(envs)
    with pytest.raises(DataError):
        MultiEnvInvariance(subspace_dim=30, n_bootstrap=B).fit(envs)
