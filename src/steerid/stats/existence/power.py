r"""Power plan of an existence claim tested over K tries (Bonferroni split: each try at a = level / K).

The plan sizes n so that **one truly equivalent try** (μ_T = μ_S, or difference 0 on the d_z margin)
is shown equivalent with probability ≥ ``power`` at its try level a — the conservative criterion
(the claim's own power, "some try passes", is higher when several tries are truly equivalent, by
how much depends on their correlation, which a plan cannot know).

* **Relative margin.** With true ratio 1 the three one-sided tests of
  :func:`~steerid.stats.existence.onesided.relative_tost` have noncentralities
  λ_lower = ε|μ_S|√n / sd(u), λ_upper = ε|μ_S|√n / sd(w), λ_shift = |μ_S|√n / sd(S), and
  power ≥ 1 − Σ_i P(T'_{n−1, λ_i} ≤ t_{1−a, n−1}) (Bonferroni lower bound on the intersection).
  These need the noise of the linear combinations: a :class:`RelativePilot` estimated from pilot data
  (e.g. the first look), stated with the plan.
* **d_z margin.** The exact paired TOST power :func:`steerid.stats.tost_power_paired` at a.
* **Sequential design.** The group-sequential maximum is the fixed n × ``inflation`` (1.05 for
  O'Brien–Fleming with two or three looks, as the audit's collection uses).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats as st

from steerid.errors import DataError
from steerid.stats.plan import EquivalencePlan
from steerid.stats.power import tost_power_paired

SEQUENTIAL_INFLATION = 1.05
N_CAP = 1_000_000


@dataclass(frozen=True)
class RelativePilot:
    """Noise of the relative TOST's per-prompt combinations, from pilot data (all positive).

    Attributes:
        shift: |mean S|, v's own shift. sd_shift: sd(S). sd_lower / sd_upper: sd(u), sd(w) at margin ε
            (median over the pilot's draws). n: pilot prompts. margin: the ε these were computed at.
    """

    shift: float
    sd_shift: float
    sd_lower: float
    sd_upper: float
    n: int
    margin: float

    @classmethod
    def from_data(cls, T: Any, S: Any, *, sign: int, margin: float) -> RelativePilot:
        """Estimate from (draws, n) shifts T of s·v + v⊥ and (n,) shifts S of s·v (e.g. the first look)."""
        T = np.atleast_2d(np.asarray(T, dtype=np.float64))
        S = np.asarray(S, dtype=np.float64)
        if T.shape[-1] < 3 or S.shape[-1] != T.shape[-1]:
            raise DataError("a relative pilot needs ≥ 3 paired prompts", "run the pilot (first look) on more prompts")
        u = sign * (T - (1 - margin) * S)
        w = sign * ((1 + margin) * S - T)
        return cls(shift=float(abs(S.mean())), sd_shift=float(S.std(ddof=1)),
                   sd_lower=float(np.median(u.std(axis=-1, ddof=1))), sd_upper=float(np.median(w.std(axis=-1, ddof=1))),
                   n=int(S.size), margin=float(margin))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields."""
        return asdict(self)


def relative_try_power(n: int, pilot: RelativePilot, try_level: float) -> float:
    """Power of one try with true ratio 1 at n prompts, one-sided level ``try_level`` (module docstring)."""
    if n < 3:
        return 0.0
    crit = st.t.isf(try_level, n - 1)
    miss = 0.0
    for mean, sd in ((pilot.margin * pilot.shift, pilot.sd_lower), (pilot.margin * pilot.shift, pilot.sd_upper),
                     (pilot.shift, pilot.sd_shift)):
        if sd > 0:
            miss += float(st.nct.cdf(crit, n - 1, mean * math.sqrt(n) / sd))
        elif not mean > 0:
            miss += 1.0
    return max(0.0, 1.0 - miss)


def dz_try_power(n: int, margin_dz: float, try_level: float) -> float:
    """Exact paired TOST power of one try at difference 0 (margin ±margin_dz·σ, level ``try_level``)."""
    return float(tost_power_paired(n, margin_dz=margin_dz, alpha=try_level)) if n >= 3 else 0.0


def _smallest_n(power_at, target: float) -> int | None:
    lo, hi = 3, 4
    while power_at(hi) < target:
        lo, hi = hi, hi * 2
        if hi > N_CAP:
            return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if power_at(mid) >= target else (mid, hi)
    return hi if power_at(lo) < target else lo


def existence_sample_size(n_tries: int, plan: EquivalencePlan, pilot: RelativePilot | None = None, *,
                          power: float = 0.8) -> dict[str, Any]:
    """Prompts needed so that one truly equivalent try is shown equivalent with probability ``power``
    under ``plan``'s correction over ``n_tries`` tries (Bonferroni split), on both margins.

    Returns a record with ``try_level``, ``n_dz`` (d_z margin), ``n_relative`` (None without a pilot),
    ``n_needed`` (the deciding margin's, × the sequential inflation when ``plan.sequential``), the pilot
    and ``n_dz_uncorrected`` / ``n_relative_uncorrected`` (one try at ``plan.level``) for the cost of the correction.

    Example:
        >>> rec = existence_sample_size(16, EquivalencePlan(margin="dz", margin_dz=0.4, sequential=False))
        >>> rec["n_dz"], rec["n_dz_uncorrected"]
        (105, 55)
    """
    if n_tries < 1:
        raise DataError(f"an existence claim needs ≥ 1 try, got {n_tries}", "count every draw of the unit")
    if pilot is not None and abs(pilot.margin - plan.margin_rel) > 1e-12:
        raise DataError(f"the pilot was computed at ε {pilot.margin}, the plan's margin is {plan.margin_rel}",
                        "estimate the pilot at the plan's margin_rel")
    a = plan.try_level(n_tries)
    n_dz = _smallest_n(lambda n: dz_try_power(n, plan.margin_dz, a), power)
    n_dz0 = _smallest_n(lambda n: dz_try_power(n, plan.margin_dz, plan.level), power)
    n_rel = n_rel0 = None
    if pilot is not None:
        n_rel = _smallest_n(lambda n: relative_try_power(n, pilot, a), power)
        n_rel0 = _smallest_n(lambda n: relative_try_power(n, pilot, plan.level), power)
    deciding = n_rel if plan.margin == "relative" else n_dz
    factor = SEQUENTIAL_INFLATION if plan.sequential else 1.0
    return {"n_tries": int(n_tries), "try_level": float(a), "correction": plan.effective_correction,
            "power_target": float(power), "n_dz": n_dz, "n_relative": n_rel, "n_dz_uncorrected": n_dz0,
            "n_relative_uncorrected": n_rel0, "margin": plan.margin,
            "n_needed": None if deciding is None else int(math.ceil(factor * deciding)),
            "sequential_inflation": factor, "pilot": pilot.to_dict() if pilot is not None else None}


def existence_power(n: int, n_tries: int, plan: EquivalencePlan, pilot: RelativePilot | None = None) -> float | None:
    """Power of one truly equivalent try at ``n`` prompts under the corrected design (deciding margin)."""
    a = plan.try_level(n_tries)
    if plan.margin == "relative":
        return None if pilot is None else relative_try_power(n, pilot, a)
    return dz_try_power(n, plan.margin_dz, a)
