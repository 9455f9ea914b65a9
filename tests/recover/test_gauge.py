"""Gauge fixing: null-space perturbations vanish, range perturbations do not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _recover_data import D, orthonormal
from steerid.errors import DataError, VectorError
from steerid.moments import RunningMoments
from steerid.provenance import Provenance
from steerid.recover.gauge import GaugeFix
from steerid.vector import SteeringVector

RANK = 12


def _world(seed: int = 0):
    """Covariance with a 12-dim range (variances 1..4) and a 36-dim near-null space (1e-6)."""
    q = orthonormal(np.random.default_rng(seed))
    values = np.concatenate([np.linspace(4.0, 1.0, RANK), np.full(D - RANK, 1e-6)])
    return q[:, :RANK], q[:, RANK:], (q * values) @ q.T


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.01, 100.0))
def test_null_space_perturbation_maps_to_same_vector(seed, scale):
    """Property: v and v + v⊥ with v⊥ fully in the null space give the same canonical vector."""
    rng = np.random.default_rng(seed)
    range_basis, null_basis, cov = _world(seed % 7)
    gauge = GaugeFix(variance=0.99).fit(cov)
    v = range_basis @ rng.normal(size=RANK) + null_basis @ rng.normal(size=D - RANK)
    v_perp = scale * null_basis @ rng.normal(size=D - RANK)
    a, b = gauge.transform(v), gauge.transform(v + v_perp)
    assert gauge.rank_ == RANK
    assert a.direction @ b.direction == pytest.approx(1.0, abs=1e-10)
    assert b.norm == pytest.approx(a.norm, rel=1e-9)  # the part that can matter is untouched


def test_mostly_null_perturbation_keeps_cosine_above_095():
    rng = np.random.default_rng(1)
    range_basis, null_basis, cov = _world()
    gauge = GaugeFix(variance=0.99).fit(cov)
    v = range_basis @ rng.normal(size=RANK)
    # ‖v⊥‖ = ‖v‖, 97 % of its squared norm in the null space, 3 % in the range.
    null_part = null_basis @ rng.normal(size=D - RANK)
    range_part = range_basis @ rng.normal(size=RANK)
    v_perp = np.sqrt(0.97) * null_part / np.linalg.norm(null_part) + np.sqrt(0.03) * range_part / np.linalg.norm(range_part)
    v_perp *= np.linalg.norm(v)
    cos = gauge.transform(v).direction @ gauge.transform(v + v_perp).direction
    assert cos >= 0.95
    raw_cos = v @ (v + v_perp) / (np.linalg.norm(v) * np.linalg.norm(v + v_perp))
    assert raw_cos < 0.75  # the raw vectors do differ


def test_range_perturbation_is_not_removed():
    """Failing case: v⊥ inside the range matters, so the gauge must keep it."""
    rng = np.random.default_rng(2)
    range_basis, _, cov = _world()
    gauge = GaugeFix(variance=0.99).fit(cov)
    v = range_basis @ rng.normal(size=RANK)
    g = range_basis @ rng.normal(size=RANK)
    v_perp = g - (g @ v) / (v @ v) * v
    v_perp *= np.linalg.norm(v) / np.linalg.norm(v_perp)
    cos = gauge.transform(v).direction @ gauge.transform(v + v_perp).direction
    assert cos < 0.95
    assert cos == pytest.approx(1 / np.sqrt(2), abs=1e-9)


def test_removed_fraction_and_rank_rule():
    gauge = GaugeFix(variance=0.99).fit(np.diag([4.0, 1.0, 1e-9, 1e-9]))
    assert gauge.rank_ == 2 and gauge.null_dim_ == 2
    result = gauge.transform(np.array([1.0, 0.0, 1.0, 0.0]))
    assert result.removed_fraction == pytest.approx(0.5)
    assert result.norm == pytest.approx(1.0)
    assert GaugeFix(variance=0.7).fit(np.diag([4.0, 1.0, 1e-9, 1e-9])).rank_ == 1
    assert GaugeFix(rank=3).fit(np.diag([4.0, 1.0, 1e-9, 1e-9])).rank_ == 3


def test_accepts_moments_eigenpairs_and_basis():
    rng = np.random.default_rng(3)
    range_basis, null_basis, _ = _world()
    rows = rng.normal(size=(500, RANK)) @ range_basis.T + 1e-4 * rng.normal(size=(500, D))
    moments = RunningMoments(D).update(rows)
    by_moments = GaugeFix(variance=0.99).fit(moments)
    by_pairs = GaugeFix(variance=0.99).fit(np.linalg.eigh(moments.covariance()))
    by_basis = GaugeFix("fisher").fit(range_basis)
    assert by_moments.rank_ == by_pairs.rank_ == by_basis.rank_ == RANK
    for gauge in (by_moments, by_pairs, by_basis):
        assert np.allclose(gauge.projector_, range_basis @ range_basis.T, atol=1e-4)
        assert gauge.null_basis().shape == (D, D - RANK)
    # The uncentred second moment keeps the mean direction; the covariance does not.
    shifted = RunningMoments(D).update(rows + 5.0 * null_basis[:, 0])
    kept = GaugeFix(rank=RANK + 1, centered=False).fit(shifted)
    assert np.linalg.norm(kept.basis_.T @ null_basis[:, 0]) == pytest.approx(1.0, abs=1e-6)
    dropped = GaugeFix(rank=RANK + 1).fit(shifted)
    assert np.linalg.norm(dropped.basis_.T @ null_basis[:, 0]) < 0.5


def test_transform_vector_records_provenance():
    range_basis, null_basis, cov = _world()
    gauge = GaugeFix(variance=0.99).fit(cov)
    prov = Provenance(model_spec="tiny:llama", model_name="tiny", weights_hash="", site="in:1", method="mean_diff")
    vector = SteeringVector.from_array(range_basis[:, 0] + null_basis[:, 0], prov)
    fixed = gauge.transform_vector(vector)
    assert fixed.provenance.method == "mean_diff+gauge"
    assert fixed.provenance.method_params["removed_fraction"] == pytest.approx(0.5)
    assert fixed.direction @ range_basis[:, 0] == pytest.approx(1.0)


def test_bad_inputs_raise_steerid_errors():
    _, null_basis, cov = _world()
    with pytest.raises(DataError):
        GaugeFix(variance=0.0).fit(cov)
    with pytest.raises(DataError):
        GaugeFix(basis="hessian").fit(cov)
    with pytest.raises(DataError):
        GaugeFix().fit(np.triu(np.ones((4, 4))))  # not symmetric
    with pytest.raises(DataError):
        GaugeFix().fit(np.diag([1.0, -1.0, 0.5]))  # indefinite
    with pytest.raises(DataError):
        GaugeFix().fit(np.zeros((3, 3)))
    with pytest.raises(DataError):
        GaugeFix().fit(np.ones((5, 2)))  # basis columns not orthonormal
    with pytest.raises(DataError):
        GaugeFix("fisher").fit(RunningMoments(D).update(np.ones((3, D))))
    with pytest.raises(DataError):
        GaugeFix().fit(RunningMoments(D))
    with pytest.raises(DataError):
        GaugeFix().transform(np.ones(D))  # not fitted
    gauge = GaugeFix(variance=0.99).fit(cov)
    with pytest.raises(VectorError):
        gauge.transform(null_basis[:, 0])  # nothing left after projection
    with pytest.raises(VectorError):
        gauge.transform(np.ones(D + 1))
    with pytest.raises(VectorError):
        gauge.transform(np.full(D, np.nan))
