"""Per-input steerability: anti-steerable fraction, the noise-only expectation Φ(−d_z), and the
agreement of v+v⊥ draws with v input by input (Cohen's κ against chance), on data with a known truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from steerid.experiments.conditions import ConditionRuns, e1_conditions
from steerid.experiments.orthogonal import E1Config, analyse
from steerid.stats.steerability import family_steerability, fraction_anti, sign_agreement


def test_fraction_anti_counts_the_wrong_way_inputs_with_a_wilson_interval():
    shift = np.array([1.0, 2.0, -0.5, 0.0, 3.0, -1.0, 0.2, 0.4])
    rec = fraction_anti(shift, +1, deterministic=True)
    assert (rec["n"], rec["n_steerable"], rec["n_anti"], rec["n_tied"]) == (8, 5, 2, 1)
    frac = rec["fraction_anti"]
    assert frac["estimate"] == pytest.approx(0.25) and frac["ci_low"] < 0.25 < frac["ci_high"]
    assert rec["noise"] is None  # deterministic route: no noise comparison
    # the sign flips what counts as intended
    assert fraction_anti(shift, -1, deterministic=True)["n_anti"] == 5


def test_noise_only_expectation_matches_a_constant_effect_and_flags_a_split_population():
    rng = np.random.default_rng(0)
    constant = 0.6 + rng.normal(0, 1, 4000)  # constant effect d_z 0.6: about Φ(−0.6) ≈ 0.27 look anti
    rec = fraction_anti(constant, +1, deterministic=False)
    noise = rec["noise"]
    assert noise["expected_fraction_anti"] == pytest.approx(sps.norm.cdf(-0.6), abs=0.02)
    assert abs(noise["excess"]) < 0.03 and noise["p_value"] > 0.01
    # a population where 40 % of inputs truly move the other way, with little noise: excess anti-steerable
    effect = np.where(rng.random(4000) < 0.4, -1.0, 2.0) + rng.normal(0, 0.1, 4000)
    split = fraction_anti(effect, +1, deterministic=False)["noise"]
    assert split["excess"] > 0.1 and split["p_value"] < 1e-6


def test_sign_agreement_kappa_is_one_for_the_same_inputs_and_near_zero_for_independent_ones():
    rng = np.random.default_rng(1)
    a = rng.random(500) < 0.7
    same = sign_agreement(a, a)
    assert same["agreement"] == 1.0 and same["kappa"] == pytest.approx(1.0) and same["p_value"] < 1e-10
    b = rng.random(500) < 0.7  # independent inputs: agreement ≈ chance p_v·p_d + (1−p_v)(1−p_d)
    indep = sign_agreement(a, b)
    p_v, p_d = a.mean(), b.mean()
    assert indep["chance_agreement"] == pytest.approx(p_v * p_d + (1 - p_v) * (1 - p_d))
    # the κ = 0 test keeps its level on independent inputs (400 replicates, n = 200)
    rejections = [sign_agreement(rng.random(200) < 0.7, rng.random(200) < 0.6)["p_value"] < 0.05 for _ in range(400)]
    assert 0.02 <= np.mean(rejections) <= 0.09
    # all inputs steerable by both: κ undefined
    assert sign_agreement(np.ones(10, bool), np.ones(10, bool))["kappa"] is None


def test_family_record_holm_over_draws():
    rng = np.random.default_rng(2)
    base = rng.normal(0.5, 1, 300)
    draws = np.stack([base + rng.normal(0, 0.2, 300), rng.normal(0.5, 1, 300)])  # one follows v, one does not
    rec = family_steerability(base, draws, +1, deterministic=True, draws=[0, 1])
    assert [d["agrees_beyond_chance"] for d in rec["draws"]] == [True, False]
    assert rec["n_draws_beyond_chance"] == 1 and len(rec["v"]["per_input"]) == 300
    assert rec["draws"][0]["p_value_holm"] >= rec["draws"][0]["p_value"]


def test_every_e1_family_carries_a_steerability_record():
    direction = np.zeros(8)
    direction[0] = 1.0
    conditions = e1_conditions(direction, 1.0, rhos=(1.0,), n_draws=3, seed=0)
    rng = np.random.default_rng(3)
    prompt_effect = rng.normal(0, 1, 60)  # each prompt's own response to steering, shared by v and v+v⊥
    scores = np.stack([c.sign * prompt_effect if c.kind in ("v", "v_plus_perp") else np.zeros(60)
                       for c in conditions]) + rng.normal(0, 0.05, (len(conditions), 60))
    runs = ConditionRuns(conditions, [], {"likelihood": scores})
    _, families = analyse(runs, E1Config(rhos=(1.0,), n_draws=3), "likelihood")
    for f in families:
        rec = f["steerability"]
        assert rec["route_deterministic"] and rec["sign"] == f["sign"]
        assert rec["v"]["n_anti"] == int((prompt_effect < 0).sum())  # the inputs with a negative own effect
        assert all(d["kappa"] > 0.8 for d in rec["draws"])  # draws steer the same inputs


def test_generation_families_compare_the_anti_steerable_fraction_with_noise():
    direction = np.zeros(8)
    direction[0] = 1.0
    conditions = e1_conditions(direction, 1.0, rhos=(1.0,), n_draws=2, seed=0)
    rng = np.random.default_rng(4)
    scores = np.stack([0.6 * c.sign * np.ones(300) if c.kind in ("v", "v_plus_perp") else np.zeros(300)
                       for c in conditions]) + rng.normal(0, 1 / np.sqrt(2), (len(conditions), 300))
    runs = ConditionRuns(conditions, [], {"sentiment": scores})  # a generated measure: sampling noise per prompt
    _, families = analyse(runs, E1Config(rhos=(1.0,), n_draws=2), "sentiment")
    for f in families:
        noise = f["steerability"]["v"]["noise"]
        assert not f["steerability"]["route_deterministic"]
        assert noise["expected_fraction_anti"] == pytest.approx(sps.norm.cdf(-0.6), abs=0.08)
        assert abs(noise["excess"]) < 0.08
