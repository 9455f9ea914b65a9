"""Operating characteristics of a sequential TOST plan, by simulation.

Differences are simulated as ``d ~ N(δ, 1)`` (every quantity in units of the true SD σ) and run
through exactly the decision rule of :func:`steerid.stats.sequential.sequential_paired_tost`:
the average sample number (ASN, expected stopping n), the probability of an equivalence claim
(the power when ``δ`` is inside the margin, the type-I error when on its edge) and the stopping
probabilities per look. Monte-Carlo standard errors: ``sd(n_stop)/√N`` and ``√(p(1 − p)/N)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from steerid.errors import DataError
from steerid.results import ResultMixin, Summary, fmt
from steerid.stats.power import tost_power_paired
from steerid.stats.sequential.decision import _decide, _one_sided
from steerid.stats.sequential.plan import SequentialPlan
from steerid.stats.sequential.plan import sequential_plan  # noqa: F401 (the doctest uses it)
from steerid.validation import check_count, check_finite, check_positive

SimMargin = Literal["fixed", "first_look_sd"]

_SIM_BLOCK = 2_000_000  # simulated values per block (memory bound)


@dataclass(frozen=True, repr=False)
class SequentialOperatingCharacteristics(ResultMixin):
    """Simulated operating characteristics of a sequential TOST plan (normal differences, σ = 1).

    Attributes:
        plan: The plan.
        margin_dz: Margin in units of the true SD σ.
        margin_scale: ``"fixed"`` (bounds ±margin_dz·σ known in raw units) or ``"first_look_sd"``
            (bounds ±margin_dz·s_1, as :func:`sequential_paired_tost` does with ``margin_dz``).
        true_diff_dz: True mean difference δ/σ of the simulation.
        n_sims: Number of simulated trials.
        seed: Seed of the generator.
        asn: Average sample number (mean stopping n).
        asn_se: Monte-Carlo standard error of ``asn``.
        p_equivalent: Probability of an equivalence claim at ``true_diff_dz``.
        p_equivalent_se: Its Monte-Carlo standard error.
        p_stop: Probability of stopping at each look.
        p_stop_futility: Probability of stopping for futility before the last look.
        power_at_zero: Probability of an equivalence claim at true difference 0 (simulated with
            the same seed; equals ``p_equivalent`` when ``true_diff_dz == 0``).
        fixed_power: Exact power of the fixed-sample paired TOST at n_max and ``true_diff_dz``
            (``tost_power_paired``; same margin scale).
        fixed_power_at_zero: The same at true difference 0.
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("asn", "p_equivalent", "power_at_zero")

    plan: SequentialPlan
    margin_dz: float
    margin_scale: str
    true_diff_dz: float
    n_sims: int
    seed: int
    asn: float
    asn_se: float
    p_equivalent: float
    p_equivalent_se: float
    p_stop: tuple[float, ...]
    p_stop_futility: float
    power_at_zero: float
    fixed_power: float
    fixed_power_at_zero: float

    def summary(self) -> Summary:
        """Simulated ASN, equivalence-claim probability and stopping probabilities."""
        return Summary("Sequential TOST operating characteristics (simulation)", rows=[
            ("looks", list(self.plan.looks)), ("spending", self.plan.spending), ("alpha", self.plan.alpha),
            ("margin", f"±{fmt(self.margin_dz)} sd ({self.margin_scale})"), ("true diff (sd)", self.true_diff_dz),
            ("simulations", self.n_sims), ("seed", self.seed),
            ("ASN", f"{self.asn:.1f} (± {self.asn_se:.1f}) of n_max = {self.plan.n_max}"),
            ("P(equivalence claim)", f"{self.p_equivalent:.4f} (± {self.p_equivalent_se:.4f})"),
            ("P(equivalence claim), fixed design at n_max", f"{self.fixed_power:.4f}"),
            ("power at true 0", f"{self.power_at_zero:.4f}"),
            ("power at true 0, fixed design at n_max", f"{self.fixed_power_at_zero:.4f}"),
            ("P(stop at look)", ", ".join(f"{p:.3f}" for p in self.p_stop)),
            ("P(futility stop before the last look)", f"{self.p_stop_futility:.4f}"),
        ])


def _simulate(plan: SequentialPlan, data: np.ndarray, margin_dz: float, margin_scale: str
              ) -> tuple[np.ndarray, np.ndarray]:
    """Stop look index (0-based) and decision code of each row of ``data`` (rows = trials)."""
    looks = np.asarray(plan.looks)
    seg = np.split(data, looks[:-1], axis=1)
    sums = np.cumsum(np.stack([s.sum(axis=1) for s in seg], axis=1), axis=1)
    sq = np.cumsum(np.stack([(s * s).sum(axis=1) for s in seg], axis=1), axis=1)
    n = looks.astype(np.float64)
    m = sums / n
    var = np.maximum(sq - n * m * m, 0.0) / (n - 1.0)
    sd = np.sqrt(var)
    rows = data.shape[0]
    if margin_scale == "fixed":
        high = np.full(rows, margin_dz)
    else:
        high = margin_dz * sd[:, 0]
    low = -high
    empty = ~(high > low)
    stop = np.full(rows, -1, dtype=np.int64)
    code = np.zeros(rows, dtype=np.int8)
    for k in range(plan.n_looks):
        active = stop < 0
        if not active.any():
            break
        se = sd[active, k] / math.sqrt(n[k])
        _, _, p1, p2, pa, pb = _one_sided(m[active, k], se, n[k] - 1.0, low[active], high[active])
        dec = _decide(p1, p2, pa, pb, plan.alpha_nominal[k], k == plan.n_looks - 1, empty[active])
        idx = np.flatnonzero(active)
        done = dec != 0
        stop[idx[done]] = k
        code[idx[done]] = dec[done]
    return stop, code


def _run_sims(plan: SequentialPlan, delta: float, margin_dz: float, scale: str, n_sims: int, seed: int
              ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    block = max(1, _SIM_BLOCK // plan.n_max)
    stops, codes = [], []
    for start in range(0, n_sims, block):
        rows = min(block, n_sims - start)
        s, c = _simulate(plan, rng.normal(delta, 1.0, size=(rows, plan.n_max)), margin_dz, scale)
        stops.append(s)
        codes.append(c)
    return np.concatenate(stops), np.concatenate(codes)


def average_sample_number(
    plan: SequentialPlan,
    true_diff_dz: float = 0.0,
    n_sims: int = 10_000,
    seed: int = 0,
    *,
    margin_dz: float = 0.2,
    margin_scale: SimMargin = "fixed",
) -> SequentialOperatingCharacteristics:
    """Simulate the ASN, the equivalence-claim probability and the power at 0 of a plan.

    Differences are simulated as ``N(true_diff_dz, 1)`` (so every quantity is in units of the
    true SD σ) and run through exactly the decision rule of :func:`sequential_paired_tost`.

    Args:
        plan: A :class:`SequentialPlan`.
        true_diff_dz: True mean difference in SDs of the difference.
        n_sims: Number of simulated trials (≥ 100).
        seed: Seed; the same seed gives the same numbers.
        margin_dz: Equivalence margin in SDs.
        margin_scale: ``"fixed"`` (raw bounds ±margin_dz·σ, as with ``margin_raw``) or
            ``"first_look_sd"`` (bounds from the first-look SD, as with ``margin_dz``).

    Returns:
        A :class:`SequentialOperatingCharacteristics` (``asn``, ``p_equivalent``,
        ``power_at_zero`` and the fixed-design powers at n_max for comparison).

    Raises:
        DataError: a bad plan, margin, difference, count or scale.

    Example:
        >>> oc = average_sample_number(sequential_plan((54, 108, 162, 216)), n_sims=2000)
        >>> oc.asn < 216 and abs(oc.power_at_zero - oc.fixed_power_at_zero) < 0.05
        True
    """
    if not isinstance(plan, SequentialPlan):
        raise DataError(f"plan must be a SequentialPlan, got {type(plan).__name__}",
                        "build one with sequential_plan(looks, alpha=..., spending=...)")
    delta = check_finite(true_diff_dz, "true_diff_dz")
    c = check_positive(margin_dz, "margin_dz")
    if margin_scale not in ("fixed", "first_look_sd"):
        raise DataError(f"unknown margin_scale {margin_scale!r}", "use 'fixed' or 'first_look_sd'")
    n_sims = check_count(n_sims, "n_sims", minimum=100)
    seed = check_count(seed, "seed", minimum=0)
    stop, code = _run_sims(plan, delta, c, margin_scale, n_sims, seed)
    looks = np.asarray(plan.looks, dtype=np.float64)
    n_stop = looks[stop]
    p_eq = float(np.mean(code == 1))
    if delta == 0.0:
        p_zero = p_eq
    else:
        _, code0 = _run_sims(plan, 0.0, c, margin_scale, n_sims, seed)
        p_zero = float(np.mean(code0 == 1))
    fixed_scale = "fixed" if margin_scale == "fixed" else "sample_sd"
    fixed = tost_power_paired(plan.n_max, c, plan.alpha, delta, margin_scale=fixed_scale)
    fixed0 = tost_power_paired(plan.n_max, c, plan.alpha, 0.0, margin_scale=fixed_scale)
    p_stop = tuple(float(np.mean(stop == k)) for k in range(plan.n_looks))
    return SequentialOperatingCharacteristics(
        plan=plan,
        margin_dz=c,
        margin_scale=margin_scale,
        true_diff_dz=delta,
        n_sims=n_sims,
        seed=seed,
        asn=float(n_stop.mean()),
        asn_se=float(n_stop.std(ddof=1) / math.sqrt(n_sims)),
        p_equivalent=p_eq,
        p_equivalent_se=math.sqrt(max(p_eq * (1.0 - p_eq), 1e-300) / n_sims),
        p_stop=p_stop,
        p_stop_futility=float(np.mean((code == -1) & (stop < plan.n_looks - 1))),
        power_at_zero=p_zero,
        fixed_power=float(fixed),
        fixed_power_at_zero=float(fixed0),
    )
