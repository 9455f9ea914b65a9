"""Algebraic properties of the extraction methods (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from steerid.extract.lda import LDA
from steerid.extract.mean_diff import MeanDiff
from steerid.extract.pca import PCA

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)
values = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)


@st.composite
def problems(draw, paired: bool):
    """Positive/negative activations (n ≤ 8, d ≤ 6) and a common translation of norm ≤ 100·√d."""
    d = draw(st.integers(2, 6))
    n_pos = draw(st.integers(2, 8))
    n_neg = n_pos if paired else draw(st.integers(2, 8))
    pos = draw(arrays(np.float64, (n_pos, d), elements=values))
    neg = draw(arrays(np.float64, (n_neg, d), elements=values))
    shift = draw(arrays(np.float64, (d,), elements=st.floats(-100.0, 100.0)))
    return pos, neg, shift


def _check(est_cls, pos, neg, shift, atol):
    u = est_cls().fit(pos, neg).direction_
    assert abs(np.linalg.norm(u) - 1.0) < 1e-12
    moved = est_cls().fit(pos + shift, neg + shift).direction_
    np.testing.assert_allclose(moved, u, atol=atol)


@SETTINGS
@given(problems(paired=False))
def test_mean_diff_unit_and_translation_invariant(problem):
    pos, neg, shift = problem
    assume(np.linalg.norm(pos.mean(axis=0) - neg.mean(axis=0)) > 1e-2)
    _check(MeanDiff, pos, neg, shift, atol=1e-9)


@SETTINGS
@given(problems(paired=False))
def test_lda_unit_and_translation_invariant(problem):
    pos, neg, shift = problem
    within = np.vstack([pos - pos.mean(axis=0), neg - neg.mean(axis=0)])
    assume(np.linalg.norm(within) > 1e-2)
    assume(np.linalg.norm(pos.mean(axis=0) - neg.mean(axis=0)) > 1e-2)
    _check(LDA, pos, neg, shift, atol=1e-7)


@SETTINGS
@given(problems(paired=True))
def test_centred_pca_unit_and_translation_invariant(problem):
    pos, neg, shift = problem
    diffs = pos - neg
    centred = diffs - diffs.mean(axis=0)
    _, sing, vt = np.linalg.svd(centred)
    # A well-defined top component (clear eigengap) with a well-defined sign (the mean
    # difference is not orthogonal to it); otherwise the direction is not a function of the data.
    assume(sing[0] > 1e-2 and sing[0] - sing[1] > 1e-2 * sing[0])
    assume(abs(diffs.mean(axis=0) @ vt[0]) > 1e-3)
    _check(lambda: PCA(centred=True), pos, neg, shift, atol=1e-7)
