"""Extraction methods on synthetic data with a planted direction (see ``_extract_data``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

from _extract_data import D, anisotropic, isotropic, paired
from steerid.errors import DataError
from steerid.extract.lda import LDA
from steerid.extract.mean_diff import MeanDiff
from steerid.extract.pca import PCA
from steerid.extract.probe import Probe

# The convention tests use a short C grid for the probe: on separable data the largest C values
# of the default grid cost hundreds of L-BFGS iterations and test nothing more here.
ALL = [MeanDiff, lambda: PCA(), lambda: PCA(centred=True), lambda: Probe(Cs=[0.01, 0.1, 1.0]), LDA]
ALL_IDS = ["mean_diff", "pca", "pca_centred", "probe", "lda"]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- recovery of the planted direction ------------------------------------------------------
# d = 64. Unpaired data: shift 3, σ = 1 per coordinate (noise norm ≈ 8 per example), so the
# mean-difference error has norm ≈ σ·√(2d/n) and cos ≈ 3/√(9 + 128/n): 0.966 at n = 200.
# Paired data: shift sᵢ ~ 2·U(0.5, 1.5), shared nuisance s.d. 3, per-side noise s.d. 0.2.
RECOVERY = [
    pytest.param(MeanDiff, isotropic, 200, (0, 1, 2), id="mean_diff-n200"),
    pytest.param(LDA, isotropic, 200, (0, 1, 2), id="lda-n200"),
    # The probe is less sample-efficient under Gaussian classes, and log-loss CV picks a
    # weaker penalty than the one best for the direction: at n = 200 per class cos is 0.88-0.93
    # over seeds 0-4; the mean crosses 0.95 near n = 500.
    pytest.param(Probe, isotropic, 800, (0,), id="probe-n800"),
    pytest.param(PCA, paired, 50, (0, 1, 2), id="pca-50pairs"),
    # Centring leaves only the variation of sᵢ (s.d. ≈ 0.58) as signal.
    pytest.param(lambda: PCA(centred=True), paired, 400, (0, 1, 2), id="pca_centred-400pairs"),
]


@pytest.mark.parametrize(("make", "data", "n", "seeds"), RECOVERY)
def test_recovers_planted_direction(make, data, n, seeds):
    for seed in seeds:
        pos, neg, w = data(n, seed=seed)
        est = make().fit(pos, neg)
        assert est.direction_ @ w >= 0.95, f"seed {seed}: cos {est.direction_ @ w:.3f}"


def test_centred_pca_loses_a_constant_shift():
    # Every pair differs by exactly 2·w plus noise: centring removes the whole signal.
    pos, neg, w = paired(200, spread=0.0)
    assert PCA().fit(pos, neg).direction_ @ w >= 0.99
    assert abs(PCA(centred=True).fit(pos, neg).direction_ @ w) < 0.5


def test_lda_beats_mean_diff_under_anisotropic_noise():
    # 8 nuisance directions with s.d. 10 (variance 100×), orthogonal to w; n = 100 per class.
    # The sampling error of μ₊ − μ₋ lives mostly in those directions and pulls mean_diff toward
    # them; whitening by the shrunk covariance discounts them.
    md, lda = [], []
    for seed in range(5):
        pos, neg, w, _ = anisotropic(100, seed=seed)
        md.append(MeanDiff().fit(pos, neg).direction_ @ w)
        lda.append(LDA().fit(pos, neg).direction_ @ w)
    md, lda = np.array(md), np.array(lda)
    assert np.all(lda > md)
    assert lda.mean() - md.mean() >= 0.2, (lda.round(3), md.round(3))
    assert lda.mean() >= 0.85


def test_lda_targets_the_discriminant_not_the_mean_shift():
    # A nuisance direction of s.d. 5 with half its length along w: w is no longer an
    # eigenvector of Σ, so lda converges to Σ⁻¹w while mean_diff stays on the shift w.
    pos, neg, w, cov = anisotropic(2000, k=1, big=5.0, overlap=0.5)
    target = np.linalg.solve(cov, w)
    lda = LDA().fit(pos, neg).direction_
    assert cosine(lda, target) > 0.97
    assert cosine(lda, target) > lda @ w + 0.05
    assert MeanDiff().fit(pos, neg).direction_ @ w > 0.98


@pytest.mark.parametrize("make", [LDA, Probe], ids=["lda", "probe"])
def test_fewer_examples_than_dimensions(make):
    # 40 examples, d = 64; over seeds 0-4 cos is 0.90-0.94 (lda) and 0.82-0.88 (probe).
    pos, neg, w = isotropic(20, shift=6.0)
    est = make().fit(pos, neg)
    assert est.direction_ @ w >= 0.8
    assert np.isclose(np.linalg.norm(est.direction_), 1.0)


def test_lda_shrinkage_falls_as_examples_grow():
    # Anisotropic covariance, so the scaled-identity target is wrong and only small samples
    # should lean on it. (With isotropic noise the target is exact and λ stays near 1.)
    shrinkage = [LDA().fit(*anisotropic(n)[:2]).params()["shrinkage"] for n in (20, 2000)]
    assert 0.0 <= shrinkage[1] < 0.01 and 0.1 < shrinkage[0] <= 1.0  # measured ≈ 0.003 and 0.22


# --- conventions ------------------------------------------------------------------------------
@pytest.mark.parametrize("make", ALL, ids=ALL_IDS)
def test_positives_project_higher_and_swapping_flips(make):
    pos, neg, _ = paired(30, seed=3)
    est = make().fit(pos, neg)
    u = est.direction_
    assert u.shape == (D,) and u.dtype == np.float64
    assert np.isclose(np.linalg.norm(u), 1.0)
    gap = pos.mean(axis=0) @ u - neg.mean(axis=0) @ u
    assert gap > 0
    assert np.isclose(est.raw_norm_, gap) or isinstance(est, MeanDiff)
    assert cosine(make().fit(neg, pos).direction_, u) <= -0.999


@pytest.mark.parametrize("make", ALL, ids=ALL_IDS)
def test_deterministic(make):
    pos, neg, _ = paired(30, seed=4)
    first = make().fit(pos, neg).direction_
    again = make().fit(pos.copy(), neg.copy()).direction_
    assert np.array_equal(first, again)


@pytest.mark.parametrize("make", ALL, ids=ALL_IDS)
def test_params_are_json_serialisable(make):
    pos, neg, _ = paired(30, seed=5)
    est = make().fit(pos, neg)
    assert json.loads(json.dumps(est.params())) == est.params()


def test_pca_params():
    pos, neg, _ = paired(50)
    params = PCA().fit(pos, neg).params()
    assert params["centred"] is False
    # E‖dᵢ along w‖² ≈ 2²·(1 + 1/12) + 2·0.2² ≈ 4.41 of E‖dᵢ‖² ≈ 4.33 + 2·0.2²·64 ≈ 9.45.
    assert 0.4 < params["explained_variance_ratio"] < 0.6
    assert PCA(centred=True).params() == {"centred": True, "explained_variance_ratio": None}


def test_probe_params_and_fold_clipping():
    pos, neg, _ = isotropic(3, d=8)
    params = Probe(Cs=[0.1, 1.0], cv=5, seed=7).fit(pos, neg).params()
    assert params["cv"] == 5 and params["cv_folds"] == 3 and params["seed"] == 7
    assert params["Cs"] == [0.1, 1.0] and params["C"] in (0.1, 1.0)
    assert 0.0 <= params["cv_accuracy"] <= 1.0 and params["cv_log_loss"] > 0


def test_probe_cv_accuracy_matches_independent_cross_validation():
    pos, neg, _ = isotropic(60, shift=1.0, d=16, seed=2)
    est = Probe(seed=3).fit(pos, neg)
    x = np.vstack([pos, neg])
    x = (x - x.mean(axis=0)) / np.sqrt(np.mean((x - x.mean(axis=0)) ** 2))
    y = np.r_[np.ones(60, dtype=int), np.zeros(60, dtype=int)]
    folds = StratifiedKFold(5, shuffle=True, random_state=3)
    ref = cross_val_score(LogisticRegression(C=est.C_, max_iter=1000), x, y, cv=folds)
    assert abs(est.cv_accuracy_ - ref.mean()) <= 0.02


def test_probe_is_rotation_equivariant():
    # Global scaling keeps the L2 penalty isotropic: rotating the activations rotates the probe.
    pos, neg, _ = isotropic(40, shift=2.0, d=16, seed=6)
    q = np.linalg.qr(np.random.default_rng(1).normal(size=(16, 16)))[0]
    u = Probe(Cs=[0.1, 1.0, 10.0]).fit(pos, neg).direction_
    u_rot = Probe(Cs=[0.1, 1.0, 10.0]).fit(pos @ q.T, neg @ q.T).direction_
    assert cosine(q @ u, u_rot) >= 0.999


# --- user errors ------------------------------------------------------------------------------
def _bad_inputs():
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    with_nan = pos.copy()
    with_nan[2, 1] = np.nan
    with_inf = neg.copy()
    with_inf[0, 0] = np.inf
    return {
        "width": (pos, neg[:, :3]),
        "nan": (with_nan, neg),
        "inf": (pos, with_inf),
        "zero_difference": (pos, pos.copy()),
        "one_dimensional": (pos[0], neg[0]),
        "empty": (pos[:0], neg),
    }


@pytest.mark.parametrize("case", list(_bad_inputs()))
@pytest.mark.parametrize("make", ALL, ids=ALL_IDS)
def test_bad_inputs_raise_data_error(make, case):
    pos, neg = _bad_inputs()[case]
    with pytest.raises(DataError):
        make().fit(pos, neg)


@pytest.mark.parametrize("centred", [False, True])
def test_pca_needs_pairs(centred):
    pos, neg, _ = paired(10)
    with pytest.raises(DataError, match="paired"):
        PCA(centred=centred).fit(pos, neg[:9])


@pytest.mark.parametrize(
    ("make", "pos", "neg", "match"),
    [
        (lambda: PCA(centred=True), np.ones((1, 3)), np.zeros((1, 3)), "two pairs"),
        (lambda: PCA(centred=True), np.eye(3) + [1, 2, 3], np.eye(3), "same vector"),
        (lambda: PCA(centred="yes"), np.eye(3), np.zeros((3, 3)), "true or false"),
        (Probe, np.eye(3)[:1], np.eye(3), "two positive"),
        (lambda: Probe(cv=1), np.eye(3), -np.eye(3), "cv"),
        (lambda: Probe(Cs=[1.0, -1.0]), np.eye(3), -np.eye(3), "Cs"),
        (lambda: Probe(Cs=0), np.eye(3), -np.eye(3), "Cs"),
        (lambda: Probe(Cs="10"), np.eye(3), -np.eye(3), "Cs"),
        (lambda: Probe(Cs=[1.0, "a"]), np.eye(3), -np.eye(3), "Cs"),
        (lambda: Probe(seed=None), np.eye(3), -np.eye(3), "seed"),
        (LDA, np.ones((1, 3)), np.zeros((1, 3)), "no variation"),
    ],
)
def test_method_specific_errors(make, pos, neg, match):
    with pytest.raises(DataError, match=match):
        make().fit(pos, neg)
