"""Strength by a KL budget (``kl:B``): parsing, the KL meter, and the bisection on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest

from steerid.capture import median_token_norm
from steerid.errors import DataError
from steerid.experiments.kl_budget import KLBudget, KLMeter, alpha_for_kl, alphas_for_kl, parse_strength
from steerid.models import Site

PROMPTS = ["Tell me about your day.", "What is the weather like?", "Describe a cat.", "Write a short note."]


@pytest.fixture(scope="module")
def setup(llama_lm):
    site = Site(1)
    rng = np.random.default_rng(0)
    direction = rng.normal(size=llama_lm.info.hidden_size)
    norm = median_token_norm(llama_lm, PROMPTS, site)
    return llama_lm, site, direction / np.linalg.norm(direction), norm


def test_parse_strength_reads_numbers_and_budgets():
    assert parse_strength("0.25") == 0.25 and parse_strength(2) == 2.0
    assert parse_strength("kl:1.5") == KLBudget(1.5) and str(KLBudget(1.5)) == "kl:1.5"
    for bad in ("kl:0", "kl:-1", "kl:abc", "kl:nan", "fast", "-0.1"):
        with pytest.raises(DataError):
            parse_strength(bad)


def test_meter_is_zero_without_steering_and_grows_with_alpha(setup):
    lm, site, direction, norm = setup
    meter = KLMeter(lm, site, direction, PROMPTS, token_norm=norm, max_new_tokens=4)
    assert meter(0.0) == 0.0 and meter.n_positions > 0
    values = [meter(a) for a in (0.25, 1.0, 4.0)]
    assert 0 < values[0] < values[1] < values[2]
    assert meter(1.0) == pytest.approx(values[1])  # deterministic


def test_bisection_lands_within_the_budget_and_records_what_it_measured(setup):
    lm, site, direction, norm = setup
    meter = KLMeter(lm, site, direction, PROMPTS, token_norm=norm, max_new_tokens=4)
    target = meter(1.0)  # a budget the tiny model reaches at α ≈ 1
    found = alpha_for_kl(meter, target, +1, rtol=0.02)
    assert found.reached and (1 - 0.02) * target <= found.kl <= target
    assert found.alpha_rel == pytest.approx(1.0, rel=0.1)
    assert meter(found.alpha_rel) == pytest.approx(found.kl)  # the recorded KL is the KL at the α returned
    assert found.displacement_norm == pytest.approx(found.alpha_rel * norm)
    prov = found.provenance()
    assert prov["strength"] == f"kl:{target:g}" and prov["alpha_rel"] == found.alpha_rel
    # an unreachable budget: the largest α allowed, marked not reached
    capped = alpha_for_kl(meter, 1e6, +1, max_alpha=0.4)
    assert not capped.reached and capped.alpha_rel == pytest.approx(0.4) and capped.kl < 1e6


def test_both_signs_get_their_own_alpha(setup):
    lm, site, direction, norm = setup
    meter = KLMeter(lm, site, direction, PROMPTS, token_norm=norm, max_new_tokens=4)
    budget = 0.5 * min(meter(2.0, +1), meter(2.0, -1))
    out = alphas_for_kl(lm, site, direction, PROMPTS, budget, token_norm=norm, max_new_tokens=4, rtol=0.05)
    assert set(out) == {1, -1}
    for sign, rec in out.items():
        assert rec.sign == sign and (1 - 0.05) * budget <= rec.kl <= budget and rec.reached
        assert meter(rec.alpha_rel, sign) == pytest.approx(rec.kl)
    assert out[1].alpha_rel != out[-1].alpha_rel  # the two signs need different strengths


def test_audit_config_refuses_a_kl_budget_with_the_way_to_get_alpha():
    from steerid.audit.config import validate_config
    from steerid.errors import ConfigError

    with pytest.raises(ConfigError, match="steerid layers"):
        validate_config({"alphas_rel": ["kl:1.0"]})
    assert validate_config({"alphas_rel": [0.2]}).alphas_rel == [0.2]
