import numpy as np
import pytest
import torch

from steerid.engine.batching import left_pad
from steerid.capture import median_token_norm
from steerid.errors import DataError, ModelError
from steerid.experiments.fisher import (
    PointSet,
    SiteLinearization,
    differentiable_displacement,
    finite_difference_fisher,
    finite_difference_quadratic_forms,
    fisher_points,
    null_space_dimension,
    sketch_from_quadratic_forms,
    spectrum,
)
from steerid.models import Site, load_model
from steerid.models.hooks import count_hooks
from steerid.engine.steer import steering

TEXTS = ["hello there friend", "the quick brown fox jumps", "a b c d e f"]
SITE = Site(1)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def llama_lin(llama_lm):
    return SiteLinearization.build(llama_lm, SITE, TEXTS, positions=3)


@pytest.fixture(scope="module")
def llama_dense(llama_lin):
    return llama_lin.dense()


def _full_logprobs(lm, points, base=None):
    """Independent path: full forward of prefix + token, logits at the last position."""
    batch = left_pad([list(p.prefix) + [p.token] for p in points], lm.tokenizer.pad_token_id)
    ctx = steering(lm, SITE, base, scope="all") if base is not None else None
    with torch.inference_mode():
        if ctx is None:
            logits = lm.model(**batch.model_inputs()).logits
        else:
            with ctx:
                logits = lm.model(**batch.model_inputs()).logits
    return torch.log_softmax(logits[:, -1].double(), -1)


def test_points_skip_first_token_and_take_last_positions(llama_lm):
    points = fisher_points(llama_lm, [[1, 5, 6, 7], [1, 9]], positions=2)
    assert [(p.sequence_index, p.position) for p in points] == [(0, 3), (0, 2), (1, 1)]
    assert points[0].prefix == (1, 5, 6) and points[0].token == 7
    with pytest.raises(DataError):
        fisher_points(llama_lm, [[1]], positions=2)


def test_cached_points_match_full_forward_and_dense_fisher_is_psd(tiny_lm):
    pts = PointSet(tiny_lm, SITE, TEXTS[:2], positions=2)
    for chunk, ref in zip(pts.chunks, pts._reference):
        torch.testing.assert_close(ref, _full_logprobs(tiny_lm, chunk.points), atol=2e-5, rtol=1e-5)
    lin = SiteLinearization(pts)
    raw = np.stack([lin.product(e) for e in np.eye(lin.d)], axis=1)
    np.testing.assert_allclose(lin.products(np.eye(lin.d), block=20).T, raw, atol=1e-5 * np.abs(raw).max())
    scale = np.abs(raw).max()
    assert np.abs(raw - raw.T).max() < 1e-4 * scale  # symmetric before symmetrisation
    eigs = np.linalg.eigvalsh(0.5 * (raw + raw.T))
    assert eigs.min() > -1e-5 * eigs.max()  # PSD up to float32 round-off
    assert count_hooks(tiny_lm.model) == 0


def test_base_displacement_matches_steering_at_every_position(llama_lm):
    base = np.random.default_rng(0).standard_normal(llama_lm.info.hidden_size) * 0.05
    pts = PointSet(llama_lm, SITE, TEXTS, positions=2, base=base)
    torch.testing.assert_close(pts._reference[0], _full_logprobs(llama_lm, pts.chunks[0].points, base),
                               atol=2e-5, rtol=1e-5)
    assert abs(pts.kl(np.zeros((1, llama_lm.info.hidden_size)))[0]) < 1e-9


def test_half_quadratic_form_matches_true_kl_for_small_steps(llama_lm, llama_lin, llama_dense):
    norm = median_token_norm(llama_lm, TEXTS, SITE)
    rng = np.random.default_rng(0)
    top = np.linalg.eigh(llama_dense)[1][:, -1]
    directions = [top] + [u / np.linalg.norm(u) for u in rng.standard_normal((3, llama_lin.d))]
    for scale in (0.01, 0.03):
        deltas = np.stack([scale * norm * u for u in directions])
        kl = llama_lin.points.kl(deltas)
        approx = 0.5 * np.einsum("md,de,me->m", deltas, llama_dense, deltas)
        np.testing.assert_array_less(np.abs(approx / kl - 1), 0.05)


def test_lanczos_top_eigenvalues_match_dense(llama_lin, llama_dense):
    dense = np.linalg.eigvalsh(llama_dense)[::-1]
    spec = spectrum(llama_lin, method="lanczos", k=6, lanczos_tol=1e-10)
    assert spec.method == "lanczos" and spec.k == 6 and not spec.complete
    np.testing.assert_array_less(np.abs(spec.eigenvalues / dense[:6] - 1), 1e-3)
    assert np.all(np.diff(spec.eigenvalues) <= 0)
    assert spec.n_products < 10 * llama_lin.d  # no d × d Jacobian: tens of products
    full = spectrum(llama_lin)
    assert full.method == "dense" and full.complete and full.null_space[0].kind == "exact"
    np.testing.assert_allclose(full.eigenvalues, dense, rtol=1e-9)


def test_finite_differences_approximate_exact_fisher(llama_lm):
    norm = median_token_norm(llama_lm, TEXTS, SITE)
    pts = PointSet(llama_lm, SITE, TEXTS[:2], positions=2)
    exact = SiteLinearization(pts).dense()
    probes = np.random.default_rng(1).standard_normal((8, pts.d))
    q = finite_difference_quadratic_forms(pts, probes, 0.01 * norm)
    np.testing.assert_allclose(q, np.einsum("md,de,me->m", probes, exact, probes), rtol=1e-2)
    fd = finite_difference_fisher(pts, n_probes=40, eps=0.01 * norm, seed=0, estimator="moments")
    assert fd.n_rows == 2 * 40 * pts.n_points and fd.eigenvalues.shape == (pts.d,)
    assert fd.trace == pytest.approx(np.trace(exact), rel=0.5)  # Hutchinson with 40 probes


def test_sketch_recovers_the_matrix_once_probes_span_symmetric_matrices():
    rng = np.random.default_rng(0)
    d = 6
    root = rng.standard_normal((d, d))
    truth = root @ root.T
    probes = rng.standard_normal((d * (d + 1) // 2 + 4, d))
    q = np.einsum("md,de,me->m", probes, truth, probes)
    np.testing.assert_allclose(sketch_from_quadratic_forms(probes, q, "minnorm"), truth, atol=1e-8)
    many = rng.standard_normal((20000, d))
    moments = sketch_from_quadratic_forms(many, np.einsum("md,de,me->m", many, truth, many), "moments")
    assert np.linalg.norm(moments - truth) / np.linalg.norm(truth) < 0.2  # unbiased but noisy
    few = probes[:5]
    under = sketch_from_quadratic_forms(few, q[:5], "minnorm")
    np.testing.assert_allclose(np.einsum("md,de,me->m", few, under, few), q[:5], rtol=1e-8)  # interpolates


def test_fisher_ignores_a_uniform_logit_shift_that_jtj_counts():
    """Two models whose logits differ only by a per-input constant, z₂ = z₁ + (aᵀn(h))·1.

    Adding 1·aᵀ to the unembedding W_U shifts every logit by the same amount, so p(h) and hence
    F are unchanged, while JᵀJ gains the term V·(aᵀ∂n/∂h δ)²: the constant-shift direction
    becomes its top eigenvector, and F gives that direction no more weight than before.
    """
    torch.manual_seed(0)
    lm1, lm2 = load_model("tiny:llama"), load_model("tiny:llama")
    a = torch.randn(lm2.info.hidden_size) * 0.5
    with torch.no_grad():
        lm2.model.lm_head.weight += torch.ones(lm2.model.lm_head.weight.shape[0], 1) * a[None, :]
    lin1 = SiteLinearization.build(lm1, SITE, TEXTS, positions=2)
    lin2 = SiteLinearization.build(lm2, SITE, TEXTS, positions=2)
    f1, f2 = lin1.dense(), lin2.dense()
    g1, g2 = lin1.dense("euclidean"), lin2.dense("euclidean")
    assert np.linalg.norm(f2 - f1) / np.linalg.norm(f1) < 1e-3
    assert np.linalg.norm(g2 - g1) / np.linalg.norm(g1) > 0.5
    shift = np.linalg.eigh(g2 - g1)[1][:, -1]  # the direction that moves all logits together
    assert shift @ g2 @ shift > 0.9 * np.linalg.eigvalsh(g2)[-1]  # JᵀJ: the top direction
    assert shift @ f2 @ shift == pytest.approx(shift @ f1 @ shift, rel=1e-3)  # F: unchanged


def test_null_space_dimension_exact_determined_and_bounded():
    eigs = np.array([10.0, 1.0, 0.05, 0.0005, 1e-6])
    exact = null_space_dimension(eigs, tolerances=(1e-2, 1e-4))
    assert [(n.dimension, n.kind) for n in exact] == [(3, "exact"), (2, "exact")]
    top = null_space_dimension(eigs[:4], d=100, tolerances=(1e-2, 1e-5))
    assert (top[0].dimension, top[0].kind, top[0].fraction) == (98, "determined", 0.98)
    assert (top[1].dimension, top[1].kind, top[1].n_above) == (96, "upper_bound", 4)
    with pytest.raises(DataError):
        null_space_dimension(np.zeros(3))


def test_hooks_always_removed_and_bf16_refused(llama_lm):
    delta = torch.zeros((1, llama_lm.info.hidden_size), requires_grad=True)
    with pytest.raises(RuntimeError, match="boom"):
        with differentiable_displacement(llama_lm, SITE, delta):
            assert count_hooks(llama_lm.model) > 0
            raise RuntimeError("boom")
    assert count_hooks(llama_lm.model) == 0
    with pytest.raises(ModelError, match="float32"):
        PointSet(load_model("tiny:llama", dtype="bfloat16"), SITE, TEXTS)
