import numpy as np
import pytest

from steerid.errors import DataError
from steerid.experiments.fisher import PointSet, SiteLinearization
from steerid.experiments.fisher.exact import exact_fisher, lanczos_inflation
from steerid.models import Site
from steerid.models.hooks import count_hooks

TEXTS = ["hello there friend", "the quick brown fox jumps", "a b c d e f"]
SITE = Site(1)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def llama_points(llama_lm):
    return PointSet(llama_lm, SITE, TEXTS, positions=3)


def test_exact_fisher_matches_double_backward_products_on_every_family(tiny_lm):
    points = PointSet(tiny_lm, SITE, TEXTS[:2], positions=2)
    exact = exact_fisher(points, tail=0.0, max_tokens=10**6)
    assert exact.tail_mass_max == 0 and exact.bound == 0
    lin = SiteLinearization(points)
    probes = np.random.default_rng(0).standard_normal((6, points.d))
    reference = lin.products(probes)
    lam = np.linalg.eigvalsh(exact.matrix)[-1]
    np.testing.assert_allclose(probes @ exact.matrix, reference, atol=1e-5 * lam * np.sqrt(points.d), rtol=1e-5)
    dense = np.linalg.eigvalsh(lin.dense())[::-1]
    assert np.abs(exact.eigh()[0] - dense).max() <= 1e-4 * dense[0]
    assert count_hooks(tiny_lm.model) == 0


def test_truncated_fisher_is_a_lower_bound_within_the_stated_bound(llama_points):
    full = exact_fisher(llama_points, tail=0.0, max_tokens=10**6).eigh()[0]
    cut = exact_fisher(llama_points, tail=0.1, max_tokens=120, lanczos_steps=24)
    assert 0 < cut.tail_mass_max and cut.tokens_max <= 120 and np.isfinite(cut.bound)
    gap = full - cut.eigh()[0]
    lam = full[0]
    assert gap.min() >= -1e-6 * lam  # 0 ⪯ F̄ − F̄_S
    assert gap.max() <= cut.bound + 1e-6 * lam  # F̄ − F̄_S ⪯ β I
    assert gap.max() > 1e-3 * lam  # the truncation really changed something (the check can fail)


def test_exact_fisher_at_a_steered_operating_point(llama_lm):
    rng = np.random.default_rng(1)
    base = rng.standard_normal(llama_lm.info.hidden_size)
    points = PointSet(llama_lm, SITE, TEXTS, positions=2, base=base)
    exact = exact_fisher(points, tail=0.0, max_tokens=10**6, operating_point="+v")
    probes = rng.standard_normal((4, points.d))
    reference = SiteLinearization(points).products(probes)
    np.testing.assert_allclose(probes @ exact.matrix, reference, rtol=1e-5, atol=1e-6 * np.abs(reference).max())
    unsteered = exact_fisher(PointSet(llama_lm, SITE, TEXTS, positions=2), tail=0.0, max_tokens=10**6)
    assert np.abs(unsteered.matrix - exact.matrix).max() > 1e-3 * np.abs(exact.matrix).max()
    assert exact.operating_point == "+v" and unsteered.operating_point == "unsteered"


def test_null_dimension_ci_and_dependence_on_points(llama_points):
    exact = exact_fisher(llama_points, tail=0.0, max_tokens=10**6)
    vals = exact.eigh()[0]
    cis = exact.null_dimension_ci((1e-2, 1e-4), n_boot=30, seed=0)
    for ci in cis:
        assert ci.low <= ci.high and ci.n_boot == 30
        assert ci.dimension == int((vals < ci.tolerance * vals[0]).sum())
    assert cis[0].dimension >= cis[1].dimension
    rows = exact.null_dimension_by_points((1 / 3, 1.0), (0.2,), repeats=3, seed=0)
    few, all_points = rows[0], rows[1]
    assert few.n_points < all_points.n_points == exact.n_points
    assert all_points.median == int((vals < 0.2 * vals[0]).sum())
    basis = exact.null_space(0.2)
    assert 0 < basis.shape[1] == all_points.median
    np.testing.assert_allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-10)
    assert np.linalg.eigvalsh(basis.T @ exact.matrix @ basis).max() < 0.2 * vals[0]


def test_lanczos_inflation_and_bad_arguments(llama_points):
    assert lanczos_inflation(40, 576, 1e-5) < lanczos_inflation(16, 576, 1e-5)
    with pytest.raises(DataError):
        lanczos_inflation(2, 576, 1e-5)
    with pytest.raises(DataError):
        exact_fisher(llama_points, tail=1.0)
    with pytest.raises(DataError):
        exact_fisher(llama_points, max_tokens=0)


def test_soft_capped_logits_and_a_readout_that_is_not_linear():
    from steerid.errors import ModelError
    from steerid.models import load_model

    gemma = load_model("tiny:gemma", seed=1)
    gemma.model.config.final_logit_softcapping = 0.05  # small enough that the cap bends the logits
    points = PointSet(gemma, SITE, TEXTS[:2], positions=2)
    exact = exact_fisher(points, tail=0.0, max_tokens=10**6)
    probes = np.random.default_rng(2).standard_normal((4, points.d))
    reference = SiteLinearization(points).products(probes)
    np.testing.assert_allclose(probes @ exact.matrix, reference, rtol=1e-4, atol=1e-5 * np.abs(reference).max())
    llama = load_model("tiny:llama", seed=1)
    llama.model.config.final_logit_softcapping = 0.05  # llama ignores it: the logits are not what the rows assume
    with pytest.raises(ModelError, match="linear readout"):
        exact_fisher(PointSet(llama, SITE, TEXTS[:1], positions=1), tail=0.0)
