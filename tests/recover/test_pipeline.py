from dataclasses import replace

import numpy as np
import pytest

from steerid.errors import DataError
from steerid.extract.pipeline import extract_vector
from steerid.models import Site
from steerid.recover.pipeline import fisher_eigenpairs, recover_vector
from steerid.traits import format_chat, load_trait


@pytest.fixture(scope="module")
def vector(llama_lm):
    return extract_vector(llama_lm, list(load_trait("sentiment").pairs)[:24], Site(1), trait="sentiment")


@pytest.mark.parametrize("constraint", ["gauge", "sparse", "crosslayer"])
def test_recover_records_constraint_and_returns_unit_vector(llama_lm, vector, constraint):
    params = {"n_resamples": 8} if constraint == "sparse" else None
    new, report = recover_vector(llama_lm, vector, constraint, params=params)
    assert np.linalg.norm(new.direction) == pytest.approx(1.0)
    assert new.provenance.method.endswith("+" + constraint)
    assert constraint in new.provenance.method_params
    assert -1.0 <= report["cosine_to_input"] <= 1.0 and report["cosine_to_input"] >= 0
    again, _ = recover_vector(llama_lm, vector, constraint, params=params)
    np.testing.assert_array_equal(again.direction, new.direction)


def test_gauge_reports_removed_fraction_from_enough_tokens(llama_lm, vector):
    """The covariance is estimated from more tokens than dimensions (full-rank estimate)."""
    new, report = recover_vector(llama_lm, vector, "gauge", params={"variance": 0.9})
    assert 0.0 <= report["removed_fraction"] < 1.0
    assert report["n_tokens"] > llama_lm.info.hidden_size


def test_unknown_constraint_and_missing_trait(llama_lm, vector):
    with pytest.raises(DataError, match="unknown constraint"):
        recover_vector(llama_lm, vector, "magic")
    with pytest.raises(DataError, match="records no trait.*--trait PATH/TO/TRAIT_DIR"):
        recover_vector(llama_lm, vector.with_provenance(trait="custom"), "gauge")


def test_fisher_gauge_maps_v_plus_null_perturbation_to_v(llama_lm, vector):
    """With basis=fisher, adding a direction from the kept subspace's complement leaves the canonical vector."""
    new, report = recover_vector(llama_lm, vector, "gauge", params={"basis": "fisher", "variance": 0.9, "fisher_prompts": 6})
    assert report["basis"] == "fisher" and report["fisher_prompts"] == 6 and 0.0 <= report["removed_fraction"] < 1.0
    prompts = [format_chat(llama_lm.tokenizer, p.prompt) for p in load_trait("sentiment").eval_prompts()]
    (values, vectors), _ = fisher_eigenpairs(llama_lm, Site(1), prompts, batch_size=16, fisher_prompts=6)
    kept = int(np.searchsorted(np.cumsum(values) / values.sum(), 0.9) + 1)
    null = vectors[:, kept:] @ np.random.default_rng(0).standard_normal(vectors.shape[1] - kept)
    moved = replace(vector, direction=(vector.direction + null / np.linalg.norm(null)) / np.sqrt(2))
    new_moved, _ = recover_vector(llama_lm, moved, "gauge", params={"basis": "fisher", "variance": 0.9, "fisher_prompts": 6})
    assert float(new.direction @ new_moved.direction) > 0.999
    assert float(vector.direction @ moved.direction) < 0.8  # the raw vectors do differ


def test_fisher_settings_need_the_fisher_basis(llama_lm, vector):
    with pytest.raises(DataError, match="basis=fisher"):
        recover_vector(llama_lm, vector, "gauge", params={"fisher_k": 8})
