"""Calibration of the existence claim by simulation through steerid's own decision code.

Every draw's true ratio μ_T/μ_S sits on the margin (half at 1 − ε, half at 1 + ε; no draw truly
equivalent): the rate of "not identifiable" must be ≤ level within Monte-Carlo error, for 8 and
16 draws, fixed (Bonferroni, Holm) and group-sequential (level split over the draws, then spent
over the looks). Draws share the prompts (v's shift S and a common per-prompt component), as in an
audit. With every draw truly equivalent (ratio 1) the same code gives the power, printed for the
README. The uncorrected rule (every draw at the level) is shown to fail the same check.
"""

from __future__ import annotations

import numpy as np
import pytest

from steerid.stats import sequential_plan
from steerid.stats.existence import claims, decide, dz_tost, relative_tost, run_relative_sequential
from steerid.stats.plan import EquivalencePlan

R = 2000
N = 96
LOOKS = (48, 96)
EPS = 0.2
LEVEL = 0.05
MC = 3 * np.sqrt(LEVEL * (1 - LEVEL) / R)


def _simulate(k: int, ratios: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """T (R, k, N) and S (R, 1, N): S = 1 + z; T_j = r_j + z + c + e_j (c shared by the draws)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.0, (R, 1, N))
    c = rng.normal(0, 0.4, (R, 1, N))
    e = rng.normal(0, 0.4, (R, k, N))
    S = 1.0 + z
    T = ratios[None, :, None] + z + c + e
    return T, S


def _fixed_rate(T, S, plan: EquivalencePlan) -> float:
    k = T.shape[1]
    res = relative_tost(T, S, sign=1, margin=plan.margin_rel, level=plan.try_level(k))
    out = decide(res["p_tost"], res["p_difference"], plan)
    return float(claims(out["codes"])["not_identifiable"].mean())


def _sequential_rate(T, S, plan: EquivalencePlan) -> float:
    k = T.shape[1]
    seq = sequential_plan(LOOKS, alpha=plan.try_level(k), spending=plan.spending)
    out = run_relative_sequential(T, S, sign=1, margin=plan.margin_rel, plan=seq, level=plan.level)
    codes = np.where(out["codes"] == 1, 1, np.where(out["codes"] == -1, -1, 0))
    assert ((out["p_adjusted"] < plan.level) == (codes == 1)).all()
    return float(claims(codes)["not_identifiable"].mean())


def _at_margin(k: int) -> np.ndarray:
    return np.where(np.arange(k) % 2 == 0, 1 - EPS, 1 + EPS)


@pytest.mark.parametrize("k", [8, 16])
def test_false_not_identifiable_rate_is_at_most_the_level(k):
    T, S = _simulate(k, _at_margin(k), seed=k)
    T_low, S_low = _simulate(k, np.full(k, 1 - EPS), seed=100 + k)  # every draw on the same side
    rates = {}
    for name, plan in {"bonferroni": EquivalencePlan(correction="bonferroni", sequential=False),
                       "holm": EquivalencePlan(correction="holm", sequential=False)}.items():
        rates[name] = max(_fixed_rate(T, S, plan), _fixed_rate(T_low, S_low, plan))
    seq = EquivalencePlan(correction="bonferroni", sequential=True)
    rates["sequential"] = max(_sequential_rate(T, S, seq), _sequential_rate(T_low, S_low, seq))
    print(f"K={k}: false 'not identifiable' rates {rates} (level {LEVEL}, MC ±{MC:.3f})")
    assert all(r <= LEVEL + MC for r in rates.values()), rates


def test_the_uncorrected_rule_fails_the_same_check():
    k = 16
    T, S = _simulate(k, np.full(k, 1 - EPS), seed=7)
    rate = _fixed_rate(T, S, EquivalencePlan(correction="none", sequential=False))
    assert rate > LEVEL + MC


def test_dz_margin_fixed_design_is_calibrated():
    """d_z margin, 16 draws, each draw's true difference at +δ·σ (σ the SD of T − S)."""
    rng = np.random.default_rng(11)
    k, delta = 16, 0.4
    shared = rng.normal(0, np.sqrt(0.5), (R, 1, N))
    D = delta + shared + rng.normal(0, np.sqrt(0.5), (R, k, N))
    plan = EquivalencePlan(margin="dz", margin_dz=delta, correction="bonferroni", sequential=False)
    res = dz_tost(D, margin_dz=delta, level=plan.try_level(k))
    rate = float(claims(decide(res["p_tost"], res["p_difference"], plan)["codes"])["not_identifiable"].mean())
    assert rate <= LEVEL + MC


@pytest.mark.parametrize("k", [8, 16])
def test_power_with_truly_equivalent_draws(k):
    T, S = _simulate(k, np.ones(k), seed=200 + k)
    fixed = _fixed_rate(T, S, EquivalencePlan(correction="holm", sequential=False))
    seq = _sequential_rate(T, S, EquivalencePlan(correction="bonferroni", sequential=True))
    print(f"K={k}: power of 'not identifiable' with every draw equivalent: fixed Holm {fixed:.3f}, "
          f"sequential {seq:.3f} (n {N}, looks {LOOKS})")
    assert fixed > 0.5 and seq > 0.5
