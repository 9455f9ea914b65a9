import numpy as np
import pytest
from scipy import stats as sps

from steerid.errors import DataError
from steerid.stats import ratio_tost_paired


def _fieller_set(a, b, alpha, grid):
    """Ratios ρ not rejected by the two-sided paired t-test of mean(a − ρ b) = 0 at level 2α."""
    n = a.size
    crit = sps.t.ppf(1 - alpha, n - 1)
    keep = []
    for rho in grid:
        d = a - rho * b
        t = d.mean() / (d.std(ddof=1) / np.sqrt(n))
        keep.append(abs(t) <= crit)
    return grid[np.array(keep)]


@pytest.mark.parametrize("seed,scale,true_ratio", [(0, 0.3, 1.0), (1, 0.3, 1.3), (2, 1.5, 1.0), (3, 0.2, 0.9), (4, 0.1, 0.75)])
def test_equivalence_iff_fieller_interval_inside_margin(seed, scale, true_ratio):
    """Duality: p < α exactly when the (1 − 2α) Fieller interval of the ratio lies inside 1 ± ε."""
    rng = np.random.default_rng(seed)
    b = 1.0 + rng.normal(0, 0.5, 40)
    a = true_ratio * b + rng.normal(0, scale, 40)
    res = ratio_tost_paired(a, b, margin=0.2)
    kept = _fieller_set(a, b, 0.05, np.linspace(0.5, 1.5, 2001))
    inside = kept.size > 0 and kept.min() > 0.8 and kept.max() < 1.2 and kept.min() > 0.5005 and kept.max() < 1.4995
    assert res.equivalent == inside
    assert res.ratio == pytest.approx(a.mean() / b.mean())


def test_negative_reference_effects_use_their_direction():
    rng = np.random.default_rng(5)
    b = -(2.0 + rng.normal(0, 0.3, 30))
    a = 1.05 * b + rng.normal(0, 0.05, 30)
    res = ratio_tost_paired(a, b, margin=0.2)
    assert res.direction == -1 and res.equivalent and res.ratio == pytest.approx(1.05, abs=0.03)
    twice = ratio_tost_paired(2 * b + rng.normal(0, 0.05, 30), b, margin=0.2)
    assert not twice.equivalent and twice.p_upper > 0.5 and twice.outside
    assert not res.outside


def test_type_one_error_at_the_margin_is_at_most_alpha():
    rng = np.random.default_rng(7)
    rejections = 0
    for _ in range(1000):
        b = 1.0 + rng.normal(0, 0.5, 25)
        a = 1.2 * b + rng.normal(0, 0.2, 25)  # true ratio exactly on the upper margin
        rejections += ratio_tost_paired(a, b, margin=0.2).equivalent
    assert rejections / 1000 <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 1000)


def test_bad_input_is_refused():
    with pytest.raises(DataError, match="mean 0"):
        ratio_tost_paired([1.0, 2.0], [1.0, -1.0])
    with pytest.raises(DataError, match="relative margin"):
        ratio_tost_paired([1.0, 2.0], [1.0, 2.0], margin=1.5)
    with pytest.raises(DataError):
        ratio_tost_paired([1.0, np.nan], [1.0, 2.0])
