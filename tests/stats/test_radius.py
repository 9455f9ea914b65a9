"""Equivalence radius: known crossings, bootstrap coverage, censoring and input checks."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from scipy import stats as st

from steerid.errors import DataError, SteerIdError
from steerid.stats import equivalence_radius, fraction_equivalent
from steerid.stats import radius as radius_module
from steerid.stats.radius import crossing

RHOS = (0.25, 0.5, 1.0, 2.0, 4.0)


def _curve_data(rng: np.random.Generator, slope: float, *, j: int = 20, n: int = 100, rhos=RHOS,
                prompt_sd: float = 0.5) -> list[np.ndarray]:
    """Draw effects with SD slope·ρ around 0, shared prompt effects, unit noise."""
    prompts = rng.normal(0.0, prompt_sd, (1, n))
    return [rng.normal(0.0, slope * r, (j, 1)) + prompts + rng.normal(0.0, 1.0, (j, n)) for r in rhos]


def _true_radius(delta: float, slope: float) -> float:
    # π(ρ) = 2Φ(δ/(slope·ρ)) − 1 = 1/2  ⇔  ρ* = δ / (slope · Φ⁻¹(3/4))
    return delta / (slope * st.norm.ppf(0.75))


def test_crossing_interpolates_on_log_rho() -> None:
    log_r = np.log(np.array([1.0, 2.0, 4.0]))
    out = crossing(log_r, np.array([[0.9, 0.7, 0.3], [0.9, 0.5, 0.1], [0.4, 0.3, 0.2], [0.9, 0.8, 0.6],
                                    [0.9, 0.4, 0.7]]))
    assert math.exp(out[0]) == pytest.approx(2.0 * math.sqrt(2.0))  # halfway in log between 2 and 4
    assert math.exp(out[1]) == pytest.approx(2.0)  # π = 0.5 exactly at ρ = 2 is not below 1/2
    assert out[2] == -math.inf and out[3] == math.inf
    assert math.exp(out[4]) == pytest.approx(2.0 ** (0.4 / 0.5))  # first crossing, between 1 and 2


def test_known_crossing_is_covered() -> None:
    rng = np.random.default_rng(0)
    delta, slope = 0.5, 0.5
    truth = _true_radius(delta, slope)  # 1.4826
    res = equivalence_radius(RHOS, _curve_data(rng, slope, j=30), margin_raw=delta, n_boot=1000, seed=1)
    assert res.censoring == "none" and not res.is_lower_bound and not res.is_upper_bound
    assert res.ci[0] < truth < res.ci[1]
    assert res.ci[0] <= res.radius <= res.ci[1]
    assert abs(math.log(res.radius / truth)) < math.log(1.5)
    shares = [p.share.estimate for p in res.curve]
    assert shares[0] > 0.9 and shares[-1] < 0.3  # the curve falls through 1/2
    for p, r in zip(res.curve, RHOS):
        true_share = 2 * st.norm.cdf(delta / (slope * r)) - 1
        assert p.rho == r and p.share.low - 0.1 <= true_share <= p.share.high + 0.1
        assert p.pass_fraction.method == "wilson" and p.n_draws == 30
    # the point estimates agree with fraction_equivalent at each ρ
    data = _curve_data(np.random.default_rng(0), slope, j=30)
    for p, x in zip(res.curve, data):
        assert p.share.estimate == pytest.approx(fraction_equivalent(x, margin_raw=delta, n_boot=100).share.estimate)


def test_radius_interval_coverage() -> None:
    rng = np.random.default_rng(2)
    delta, slope = 0.5, 0.5
    truth = _true_radius(delta, slope)
    reps, covered = 30, 0
    for rep in range(reps):
        res = equivalence_radius(RHOS, _curve_data(rng, slope, j=12, n=60), margin_raw=delta, n_boot=200, seed=rep)
        covered += res.ci[0] <= truth <= res.ci[1]
    assert covered / reps >= 0.8  # nominal 0.95 (measured ≈ 0.93 over many more repetitions)


def test_right_censoring() -> None:
    rng = np.random.default_rng(3)
    res = equivalence_radius(RHOS, _curve_data(rng, 0.02), margin_raw=0.5, n_boot=300)
    assert res.censoring == "right" and res.is_lower_bound and not res.is_upper_bound
    assert res.radius == RHOS[-1] and res.ci[1] == math.inf and res.boot_right > 0.5
    assert any("extend the rho grid" in note for note in res.notes)
    assert "radius > 4" in res.summary()
    json.dumps(res.to_dict())


def test_left_censoring() -> None:
    rng = np.random.default_rng(4)
    res = equivalence_radius(RHOS, _curve_data(rng, 20.0), margin_raw=0.5, n_boot=300)
    assert res.censoring == "left" and res.is_upper_bound and not res.is_lower_bound
    assert res.radius == RHOS[0] and res.ci[0] == 0.0 and res.boot_left > 0.5
    assert any("smaller rho" in note for note in res.notes)
    assert "radius < 0.25" in res.summary()


def test_shared_draws_and_dz_margin() -> None:
    rng = np.random.default_rng(5)
    n, j = 80, 16
    directions = rng.normal(0.0, 1.0, (j, 1))  # draw j is the same direction rescaled
    prompts = rng.normal(0.0, 0.5, (1, n))
    data = [0.5 * r * directions + prompts + rng.normal(0.0, 1.0, (j, n)) for r in RHOS]
    shared = equivalence_radius(RHOS, data, margin_raw=0.5, n_boot=300, shared_draws=True)
    indep = equivalence_radius(RHOS, data, margin_raw=0.5, n_boot=300)
    assert shared.shared_draws and not indep.shared_draws
    assert shared.radius == indep.radius  # the estimate does not depend on the resampling scheme
    assert any("same indices" in a for a in shared.assumptions)
    dz = equivalence_radius(RHOS, data, margin_dz=0.4, n_boot=200)
    s_pool = math.sqrt(np.mean(data[0].var(axis=1, ddof=1)))
    assert dz.margin_source == "dz" and dz.delta == pytest.approx(0.4 * s_pool)
    assert equivalence_radius(RHOS, data, margin_raw=dz.delta, n_boot=200).radius == pytest.approx(dz.radius)


def test_three_d_array_input_json_and_summary() -> None:
    rng = np.random.default_rng(6)
    data = np.stack(_curve_data(rng, 0.5, j=10, n=40))
    res = equivalence_radius(RHOS, data, margin_raw=0.5, n_boot=200, seed=3)
    again = equivalence_radius(RHOS, list(data), margin_raw=0.5, n_boot=200, seed=3)
    assert res.to_dict() == again.to_dict()
    back = json.loads(json.dumps(res.to_dict()))
    assert len(back["curve"]) == 5 and back["curve"][0]["rho"] == 0.25
    text = res.summary()
    for piece in ("Equivalence radius", "share pi", "Wilson CI", "bootstrap:", "assumptions:"):
        assert piece in text
    assert res.rhos == RHOS


def _arrays(k: int = 3, j: int = 4, n: int = 10) -> list[np.ndarray]:
    return [np.random.default_rng(i).normal(0, 1, (j, n)) for i in range(k)]


@pytest.mark.parametrize(
    "call",
    [
        lambda: equivalence_radius([0.5, 0.5, 1.0], _arrays(), margin_raw=0.3),
        lambda: equivalence_radius([1.0, 0.5, 2.0], _arrays(), margin_raw=0.3),
        lambda: equivalence_radius([-0.5, 0.5, 1.0], _arrays(), margin_raw=0.3),
        lambda: equivalence_radius([0.5], _arrays(1), margin_raw=0.3),
        lambda: equivalence_radius([0.5, float("nan"), 1.0], _arrays(), margin_raw=0.3),
        lambda: equivalence_radius([0.5, 1.0], _arrays(), margin_raw=0.3),
        lambda: equivalence_radius([0.5, 1.0, 2.0], [*_arrays(2), np.ones((4, 11))], margin_raw=0.3),
        lambda: equivalence_radius([0.5, 1.0, 2.0], [*_arrays(2), np.ones((1, 10))], margin_raw=0.3),
        lambda: equivalence_radius([0.5, 1.0, 2.0], [*_arrays(2), np.ones((4, 2))], margin_raw=0.3),
        lambda: equivalence_radius([0.5, 1.0, 2.0], [*_arrays(2), np.full((4, 10), np.nan)], margin_raw=0.3),
        lambda: equivalence_radius([0.5, 1.0, 2.0], [*_arrays(2), np.ones((5, 10))], margin_raw=0.3,
                                   shared_draws=True),
        lambda: equivalence_radius([0.5, 1.0, 2.0], _arrays()),
        lambda: equivalence_radius([0.5, 1.0, 2.0], _arrays(), margin_raw=0.3, margin_dz=0.3),
        lambda: equivalence_radius([0.5, 1.0, 2.0], _arrays(), margin_raw=0.3, n_boot=5),
        lambda: equivalence_radius([0.5, 1.0, 2.0], _arrays(), margin_raw=0.3, confidence=0.0),
        lambda: equivalence_radius([0.5, 1.0, 2.0], "abc", margin_raw=0.3),
    ],
)
def test_bad_input_raises_data_error(call) -> None:
    with pytest.raises(DataError) as info:
        call()
    assert isinstance(info.value, SteerIdError)
    assert "fix:" in str(info.value) and "\n" not in str(info.value)


def test_docstring_examples() -> None:
    assert doctest.testmod(radius_module, optionflags=doctest.ELLIPSIS).failed == 0
