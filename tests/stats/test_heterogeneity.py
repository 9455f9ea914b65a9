"""Draw heterogeneity (two-way ANOVA, MLS interval) and the share of equivalent directions."""

from __future__ import annotations

import doctest
import importlib
import json
import math

import numpy as np
import pytest
from scipy import stats as st

from steerid.errors import DataError, SteerIdError
from steerid.stats import draw_heterogeneity, fraction_equivalent, paired_tost
from steerid.stats.heterogeneity.layout import two_way
from steerid.stats.heterogeneity.mls import _mls_difference


def _draws(rng: np.random.Generator, j: int, n: int, *, tau: float, mu: float = 0.0, prompt_sd: float = 0.5,
           noise_sd: float = 1.0) -> np.ndarray:
    """D = μ + a_j + b_i + e_ji with a_j ~ N(0, τ²), b_i ~ N(0, prompt_sd²), e ~ N(0, noise_sd²)."""
    return (mu + rng.normal(0.0, tau, (j, 1)) + rng.normal(0.0, prompt_sd, (1, n))
            + rng.normal(0.0, noise_sd, (j, n)))


def test_anova_matches_statsmodels() -> None:
    import pandas as pd
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    rng = np.random.default_rng(0)
    D = _draws(rng, 6, 25, tau=0.3)
    res = draw_heterogeneity(D)
    frame = pd.DataFrame({"y": D.ravel(), "draw": np.repeat(np.arange(6), 25), "prompt": np.tile(np.arange(25), 6)})
    table = anova_lm(ols("y ~ C(draw) + C(prompt)", data=frame).fit())
    ms = table["sum_sq"] / table["df"]
    assert res.ms_draw == pytest.approx(ms["C(draw)"], rel=1e-10)
    assert res.ms_error == pytest.approx(ms["Residual"], rel=1e-10)
    assert res.f_stat == pytest.approx(table.loc["C(draw)", "F"], rel=1e-10)
    assert res.p_value == pytest.approx(table.loc["C(draw)", "PR(>F)"], rel=1e-8)
    assert (res.df_draw, res.df_error) == (5, 5 * 24) == (table.loc["C(draw)", "df"], table.loc["Residual", "df"])
    assert res.tau2 == pytest.approx(max(0.0, (res.ms_draw - res.ms_error) / 25))
    assert res.i2 == pytest.approx(max(0.0, 1 - 1 / res.f_stat))
    assert res.grand_mean == pytest.approx(D.mean()) and res.draw_means == pytest.approx(tuple(D.mean(axis=1)))
    assert res.se_per_draw == pytest.approx(math.sqrt(np.mean(D.var(axis=1, ddof=1)) / 25))


def test_mls_interval_limits_and_coverage() -> None:
    # with no error term (S₂ → 0, ν₂ → ∞) the MLS interval is the exact chi-square interval for θ₁
    lo, hi = _mls_difference(2.0, 1e-12, 7, 1e9, 0.95)
    assert lo == pytest.approx(2.0 * 7 / st.chi2.isf(0.025, 7), rel=1e-6)
    assert hi == pytest.approx(2.0 * 7 / st.chi2.ppf(0.025, 7), rel=1e-6)
    # coverage of τ² (θ₁ − θ₂ = nτ²) over simulated mean squares, J = 8 draws, n = 50 prompts
    rng = np.random.default_rng(1)
    nu1, nu2, n = 7, 7 * 49, 50
    for tau2 in (0.0, 0.01, 0.05, 0.2):
        theta1, theta2 = 1.0 + n * tau2, 1.0
        s1 = theta1 * rng.chisquare(nu1, 4000) / nu1
        s2 = theta2 * rng.chisquare(nu2, 4000) / nu2
        lo, hi = _mls_difference(s1, s2, nu1, nu2, 0.95)
        cover = np.mean((np.maximum(lo, 0.0) / n <= tau2) & (tau2 <= np.maximum(hi, 0.0) / n))
        assert 0.93 <= cover <= 0.99, (tau2, cover)


def test_homogeneous_draws() -> None:
    rng = np.random.default_rng(2)
    D = _draws(rng, 10, 150, tau=0.0)
    res = draw_heterogeneity(D)
    assert res.p_value > 0.05 and res.interpretation == "not detected" and not res.heterogeneous
    assert res.tau < 0.5 * res.se_per_draw
    assert res.tau2_ci[0] == 0.0 and res.tau2_ci[1] < 0.02
    frac = fraction_equivalent(D, margin_raw=0.5, n_boot=500, seed=1)  # generous: 5.8 per-draw se
    assert frac.n_pass == 10 and frac.pass_fraction.estimate == 1.0
    assert frac.share.estimate > 0.99 and frac.share.low > 0.95 and frac.share.high == 1.0


def test_f_test_level_without_draw_effects() -> None:
    # the F test keeps its level: rejection rate at 0.05 over simulated homogeneous matrices
    rng = np.random.default_rng(3)
    j, n, reps = 8, 60, 2000
    x = rng.normal(0.0, 0.7, (reps, 1, n)) + rng.normal(0.0, 1.0, (reps, j, n))
    _, msd, mse, _ = two_way(x)
    p = st.f.sf(msd / mse, j - 1, (j - 1) * (n - 1))
    rate = float(np.mean(p < 0.05))
    assert abs(rate - 0.05) < 3 * math.sqrt(0.05 * 0.95 / reps)


def test_strong_heterogeneity_is_detected() -> None:
    rng = np.random.default_rng(4)
    n, noise = 100, 1.0
    se = math.sqrt(0.5**2 + noise**2) / math.sqrt(n)  # per-draw TOST se
    hits = 0
    for _ in range(20):
        D = _draws(rng, 8, n, tau=4 * se, noise_sd=noise)
        res = draw_heterogeneity(D)
        hits += res.p_value < 0.01 and res.interpretation == "strong"
    assert hits >= 18  # τ = 4 se: detected at p < 0.01 and read as strong almost always
    D = _draws(np.random.default_rng(40), 12, n, tau=4 * se, noise_sd=noise)
    res = draw_heterogeneity(D)
    assert res.p_value < 1e-6 and res.interpretation == "strong" and res.tau_over_se > 2 and res.i2 > 0.8
    assert res.tau_ci[0] < 4 * se < res.tau_ci[1]
    assert "STRONG" in res.summary()


def test_prompt_effects_shared_by_all_draws_do_not_mask_draw_effects() -> None:
    # large prompt effects inflate every per-draw se but cancel from the two-way F test
    rng = np.random.default_rng(5)
    D = _draws(rng, 10, 100, tau=0.15, prompt_sd=3.0, noise_sd=0.5)
    res = draw_heterogeneity(D)
    assert res.p_value < 1e-6
    assert res.se_per_draw > 4 * res.se_contrast
    assert res.tau_over_se < 1 and res.interpretation == "small"
    assert any("prompt effects" in note for note in res.notes)


def test_share_ci_covers_the_true_share() -> None:
    rng = np.random.default_rng(6)
    n, j, mu, delta = 80, 12, 0.1, 0.5
    se = math.sqrt(0.5**2 + 1.0) / math.sqrt(n)
    tau = 4 * se
    truth = st.norm.cdf((delta - mu) / tau) - st.norm.cdf((-delta - mu) / tau)
    reps, covered, estimates = 60, 0, []
    for rep in range(reps):
        res = fraction_equivalent(_draws(rng, j, n, tau=tau, mu=mu), margin_raw=delta, n_boot=300, seed=rep)
        covered += res.share.contains(truth)
        estimates.append(res.share.estimate)
    assert covered / reps >= 0.85  # nominal 0.95; percentile bootstrap with 12 draws
    assert abs(np.mean(estimates) - truth) < 0.05


def test_share_formula_and_degenerate_tau() -> None:
    rng = np.random.default_rng(7)
    D = _draws(rng, 10, 100, tau=0.4, mu=0.2)
    res = fraction_equivalent(D, margin_raw=0.6, n_boot=200)
    h = res.heterogeneity
    expected = st.norm.cdf((0.6 - h.grand_mean) / h.tau) - st.norm.cdf((-0.6 - h.grand_mean) / h.tau)
    assert res.share.estimate == pytest.approx(expected)
    assert res.mu == h.grand_mean and res.tau == h.tau
    # τ̂ = 0 gives an indicator: all draws identical → inside or outside the margin
    base = rng.normal(0.0, 1.0, 60)
    same = np.tile(base - base.mean() + 0.3, (5, 1))
    assert fraction_equivalent(same, margin_raw=0.5, n_boot=100).share.estimate == 1.0
    assert fraction_equivalent(same, margin_raw=0.2, n_boot=100).share.estimate == 0.0


def test_per_draw_tosts_match_paired_tost() -> None:
    rng = np.random.default_rng(8)
    D = _draws(rng, 9, 70, tau=0.2)
    res = fraction_equivalent(D, margin_raw=0.3, alpha=0.05, n_boot=100)
    for j in range(9):
        one = paired_tost(D[j], margin_raw=0.3)
        assert res.draw_equivalent[j] == one.equivalent
        assert res.draw_p_tost[j] == pytest.approx(one.p_tost, rel=1e-10, abs=1e-300)
        assert res.draw_means[j] == pytest.approx(one.mean_diff)
    assert res.n_pass == sum(res.draw_equivalent)
    assert res.pass_fraction.method == "wilson" and res.pass_fraction.n == 9


def test_dz_margin_uses_the_pooled_sd() -> None:
    rng = np.random.default_rng(9)
    D = _draws(rng, 8, 50, tau=0.1)
    res = fraction_equivalent(D, margin_dz=0.3, n_boot=100)
    s_pool = math.sqrt(np.mean(D.var(axis=1, ddof=1)))
    assert res.margin_source == "dz" and res.delta == pytest.approx(0.3 * s_pool)
    raw = fraction_equivalent(D, margin_raw=res.delta, n_boot=100)
    assert raw.draw_equivalent == res.draw_equivalent and raw.share.estimate == res.share.estimate
    assert raw.margin_dz == pytest.approx(0.3)


def test_degenerate_matrices() -> None:
    const = draw_heterogeneity(np.full((4, 10), 0.7))
    assert const.tau2 == 0.0 and math.isnan(const.p_value) and const.interpretation == "not detected"
    assert any("no variation" in note for note in const.notes)
    json.dumps(const.to_dict())
    rng = np.random.default_rng(10)
    exact = rng.normal(0, 1, (5, 1)) + rng.normal(0, 1, (1, 20))  # additive, no error
    res = draw_heterogeneity(exact)
    assert res.p_value < 1e-10 and res.tau2 > 0
    zero = fraction_equivalent(np.zeros((4, 10)), margin_dz=0.2, n_boot=100)
    assert zero.delta == 0.0 and zero.n_pass == 0 and zero.share.estimate == 0.0
    assert any("margin_raw" in note for note in zero.notes)


def test_seeded_json_and_summary() -> None:
    D = _draws(np.random.default_rng(11), 8, 40, tau=0.3)
    a = fraction_equivalent(D, margin_raw=0.4, n_boot=300, seed=3)
    b = fraction_equivalent(D, margin_raw=0.4, n_boot=300, seed=3)
    c = fraction_equivalent(D, margin_raw=0.4, n_boot=300, seed=4)
    assert a.to_dict() == b.to_dict() and (a.share.low, a.share.high) != (c.share.low, c.share.high)
    back = json.loads(json.dumps(a.to_dict()))
    assert back["share"]["method"].startswith("two-stage bootstrap") and len(back["draw_equivalent"]) == 8
    text = a.summary()
    for piece in ("per-draw TOSTs passing", "Wilson", "model share pi", "assumptions:"):
        assert piece in text
    json.dumps(draw_heterogeneity(D).to_dict())


@pytest.mark.parametrize(
    "call",
    [
        lambda: draw_heterogeneity(np.ones(10)),
        lambda: draw_heterogeneity(np.ones((1, 10))),
        lambda: draw_heterogeneity(np.ones((4, 2))),
        lambda: draw_heterogeneity(np.ones((2, 3, 4))),
        lambda: draw_heterogeneity([[1.0, 2.0, float("nan")], [1.0, 2.0, 3.0]]),
        lambda: draw_heterogeneity([["a", "b", "c"], ["d", "e", "f"]]),
        lambda: draw_heterogeneity(np.ones((3, 5)), confidence=1.0),
        lambda: fraction_equivalent(np.ones((3, 5))),
        lambda: fraction_equivalent(np.ones((3, 5)), margin_raw=0.1, margin_dz=0.1),
        lambda: fraction_equivalent(np.ones((3, 5)), margin_raw=-0.1),
        lambda: fraction_equivalent(np.ones((3, 5)), margin_raw=0.1, alpha=0.6),
        lambda: fraction_equivalent(np.ones((3, 5)), margin_raw=0.1, n_boot=10),
        lambda: fraction_equivalent(np.ones((3, 5)), margin_raw=0.1, seed=-1),
        lambda: fraction_equivalent(np.ones((1, 5)), margin_raw=0.1),
    ],
)
def test_bad_input_raises_data_error(call) -> None:
    with pytest.raises(DataError) as info:
        call()
    assert isinstance(info.value, SteerIdError)
    assert "fix:" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["layout", "mls", "anova", "share"])
def test_docstring_examples(name: str) -> None:
    het_module = importlib.import_module(f"steerid.stats.heterogeneity.{name}")
    assert doctest.testmod(het_module, optionflags=doctest.ELLIPSIS).failed == 0
