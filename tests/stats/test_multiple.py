"""Holm and Benjamini–Hochberg: hand-computed values, NaN handling, algebraic properties."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from statsmodels.stats.multitest import multipletests

from steerid.errors import DataError
from steerid.stats import benjamini_hochberg, holm


def test_hand_computed() -> None:
    # sorted 0.01, 0.03, 0.04 → Holm 3·0.01, max(0.03, 2·0.03), max(0.06, 1·0.04)
    res = holm([0.01, 0.04, 0.03])
    assert res.p_adjusted == pytest.approx([0.03, 0.06, 0.06])
    assert res.reject.tolist() == [True, False, False]
    # BH: 3·0.04/3 = 0.04, min(0.04, 3·0.03/2 = 0.045) = 0.04, min(0.04, 3·0.01/1) = 0.03
    bh = benjamini_hochberg([0.01, 0.04, 0.03])
    assert bh.p_adjusted == pytest.approx([0.03, 0.04, 0.04])
    assert bh.reject.all()


def test_nan_left_out_of_family() -> None:
    p = [0.01, np.nan, 0.04, 0.03, np.nan]
    res = holm(p)
    assert res.n_tests == 3
    assert np.isnan(res.p_adjusted[[1, 4]]).all() and not res.reject[[1, 4]].any()
    assert res.p_adjusted[[0, 2, 3]] == pytest.approx(holm([0.01, 0.04, 0.03]).p_adjusted)
    out = json.loads(json.dumps(res.to_dict()))
    assert out["n_tests"] == 3 and len(out["p_adjusted"]) == 5


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_matches_statsmodels_with_ties(method: str) -> None:
    rng = np.random.default_rng(0)
    p = np.round(rng.uniform(0, 0.2, 40), 2)  # many ties
    ours = holm(p) if method == "holm" else benjamini_hochberg(p)
    rej, ref, _, _ = multipletests(p, alpha=0.05, method=method)
    assert ours.p_adjusted == pytest.approx(ref, rel=1e-12)
    assert np.array_equal(ours.reject, rej)


def test_all_nan_and_empty() -> None:
    res = benjamini_hochberg([np.nan, np.nan])
    assert res.n_tests == 0 and np.isnan(res.p_adjusted).all() and not res.reject.any()
    assert holm([]).n_tests == 0


@pytest.mark.parametrize("bad", [[0.1, 1.2], [-0.01, 0.5], [[0.1, 0.2]], [0.1, np.inf], ["a", 0.1]])
def test_bad_pvalues(bad) -> None:
    with pytest.raises(DataError):
        holm(bad)


def _by_definition(p: np.ndarray) -> tuple[list[float], list[float]]:
    """O(m²) textbook formulas, rank by rank (ranks 1…m of the sorted p-values)."""
    m = p.size
    order = np.argsort(p, kind="stable")
    ps = p[order]
    holm_s = [min(1.0, max((m - j) * ps[j] for j in range(i + 1))) for i in range(m)]
    bh_s = [min(1.0, min(m * ps[j] / (j + 1) for j in range(i, m))) for i in range(m)]
    holm_out, bh_out = [0.0] * m, [0.0] * m
    for rank, idx in enumerate(order):
        holm_out[idx], bh_out[idx] = holm_s[rank], bh_s[rank]
    return holm_out, bh_out


pvals = hs.lists(hs.one_of(hs.floats(0.0, 1.0), hs.just(float("nan"))), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(pvals, hs.sampled_from([0.01, 0.05, 0.1]))
def test_properties(p: list[float], alpha: float) -> None:
    raw = np.asarray(p)
    ok = ~np.isnan(raw)
    h = holm(raw, alpha)
    b = benjamini_hochberg(raw, alpha)
    for res in (h, b):
        adj = res.p_adjusted[ok]
        assert np.all(adj >= raw[ok] - 1e-15) and np.all(adj <= 1.0)
        order = np.argsort(raw[ok], kind="stable")
        assert np.all(np.diff(adj[order]) >= -1e-15)  # order-preserving
        assert np.array_equal(res.reject[ok], adj <= alpha)
    assert np.all(h.p_adjusted[ok] >= b.p_adjusted[ok] - 1e-15)  # Holm is stricter than BH
    ref_h, ref_b = _by_definition(raw[ok])
    assert h.p_adjusted[ok] == pytest.approx(ref_h, rel=1e-12, abs=1e-300)
    assert b.p_adjusted[ok] == pytest.approx(ref_b, rel=1e-12, abs=1e-300)
    perm = np.random.default_rng(len(p)).permutation(len(p))
    assert np.allclose(holm(raw[perm], alpha).p_adjusted, h.p_adjusted[perm], equal_nan=True)
