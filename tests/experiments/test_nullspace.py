import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steerid.capture import capture, median_token_norm
from steerid.errors import DataError
from steerid.experiments import nullspace
from steerid.experiments.base import ExperimentContext
from steerid.experiments.nullspace import covariance_spectrum, effective_rank, spectrum_from_covariance
from steerid.models import Site
from steerid.provenance import Provenance
from steerid.vector import SteeringVector

TEXTS = ["hello there friend", "the quick brown fox jumps over the lazy dog", "a b c d e f g", "steering is fun"]
SITE = Site(1)


pytestmark = pytest.mark.usefixtures("one_thread")


def test_effective_and_numerical_rank_on_a_known_spectrum():
    d = 10
    eigs = np.array([50.0, 30.0, 15.0, 4.0, 1.0, 0, 0, 0, 0, 0])
    rot = np.linalg.qr(np.random.default_rng(0).standard_normal((d, d)))[0]
    spec = spectrum_from_covariance(rot @ np.diag(eigs) @ rot.T, n=1000, basis_k=2)
    np.testing.assert_allclose(spec.eigenvalues, eigs, atol=1e-12)
    assert spec.effective_rank == {0.9: 3, 0.95: 3, 0.99: 4}  # 80 %, 95 %, 99 %, 100 % cumulative
    assert spec.effective_rank_fraction[0.99] == 0.4
    assert spec.numerical_rank == 5 and not spec.rank_bounded_by_n
    np.testing.assert_allclose(np.abs(spec.basis.T @ rot[:, :2]), np.eye(2), atol=1e-10)
    json.dumps(spec.to_dict())


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 1e3), min_size=1, max_size=20).filter(lambda x: sum(x) > 1e-6),
       st.floats(0.05, 1.0))
def test_effective_rank_is_the_smallest_sufficient_prefix(values, q):
    eigs = np.sort(np.array(values))[::-1]
    r = effective_rank(eigs, q)
    share = np.cumsum(eigs) / eigs.sum()
    assert share[r - 1] >= q * (1 - 1e-9)
    assert r == 1 or share[r - 2] < q


def test_covariance_spectrum_matches_numpy_on_captured_tokens(llama_lm):
    spec = covariance_spectrum(llama_lm, SITE, TEXTS, batch_size=2)
    rows = []
    for text in TEXTS:  # independent path: every token, drop the first of each text
        rows.append(capture(llama_lm, [text], SITE, pooling="all")[SITE][1:])
    tokens = np.concatenate(rows)
    assert spec.n == tokens.shape[0]
    np.testing.assert_allclose(spec.eigenvalues, np.linalg.eigvalsh(np.cov(tokens.T))[::-1], rtol=1e-6, atol=1e-12)


def test_few_tokens_flag_rank_bounded_by_n(llama_lm):
    spec = covariance_spectrum(llama_lm, SITE, ["hi there"])
    assert spec.n < spec.d and spec.rank_bounded_by_n
    assert spec.numerical_rank <= spec.n - 1
    assert "rank ≤ n − 1" in spec.note
    with pytest.raises(DataError):
        covariance_spectrum(llama_lm, SITE, ["a"])


def test_e6_run_reports_covariance_fisher_and_vector(llama_lm):
    v = SteeringVector.from_array(np.random.default_rng(1).standard_normal(llama_lm.info.hidden_size),
                                  Provenance("tiny:llama", "tiny:llama", "", str(SITE), "test"))
    ctx = ExperimentContext(lm=llama_lm, site=SITE, vector=v, prompts=TEXTS,
                            token_norm=median_token_norm(llama_lm, TEXTS, SITE), seed=0, batch_size=8)
    result = nullspace.run(nullspace.NullSpaceConfig(fisher_positions=2, max_new_tokens=4), ctx)
    out = json.loads(json.dumps(result.to_dict()))
    assert out["experiment"] == "E6" and out["covariance"]["d"] == 48
    fisher, euclid = result.fisher, result.euclidean
    assert fisher.method == "exact" and fisher.complete and fisher.n_positions == 2 * len(TEXTS)
    assert np.all(np.diff(fisher.eigenvalues) <= 0) and fisher.eigenvalues[-1] > -1e-6 * fisher.eigenvalues[0]
    assert euclid is not None and euclid.metric == "euclidean"
    assert [n["tolerance"] for n in out["fisher"]["null_space"]] == [1e-2, 1e-3, 1e-4]
    assert 0 < out["vector"]["fisher_rayleigh_over_max"] <= 1 + 1e-9
    assert out["vector"]["fisher_computed_mass"] == pytest.approx(1.0)


def test_e6_exact_reports_steered_points_cis_and_lanczos_above_the_threshold(llama_lm):
    v = SteeringVector.from_array(np.random.default_rng(1).standard_normal(llama_lm.info.hidden_size),
                                  Provenance("tiny:llama", "tiny:llama", "", str(SITE), "test"))
    ctx = ExperimentContext(lm=llama_lm, site=SITE, vector=v, prompts=TEXTS,
                            token_norm=median_token_norm(llama_lm, TEXTS, SITE), seed=0, batch_size=8)
    config = nullspace.NullSpaceConfig(fisher_positions=2, max_new_tokens=4, alpha_rel=2.0, n_boot=20,
                                       tolerances=(0.3, 1e-2))
    result = nullspace.run(config, ctx)
    out = json.loads(json.dumps(result.to_dict()))
    assert out["exact"]["operating_point"] == "unsteered" and out["exact"]["bound"] >= 0
    assert [s["sign"] for s in out["steered"]] == [1, -1]
    for point in [out["exact"], *out["steered"]]:
        assert len(point["eigenvalues"]) == 48
        for ci, null in zip(point["null_dimension_ci"], point["null_space"], strict=True):
            assert ci["dimension"] == null["dimension"] and ci["low"] <= ci["high"]
    assert out["steered"][0]["eigenvalues"] != out["exact"]["eigenvalues"]
    assert set(result.bases) >= {"unsteered@0.3", "+2·v@0.3", "-2·v@0.01"}
    assert "null dim" in str(result.summary())
    lanczos = nullspace.run(nullspace.NullSpaceConfig(fisher_positions=2, max_new_tokens=4, exact_max_dim=0,
                                                      dense_max_dim=0, k=8, euclidean=False), ctx)
    assert lanczos.fisher.method == "lanczos" and lanczos.exact is None
