r"""Error-controlled per-try decisions and the existence claim built from them.

An existence claim ("v is not identifiable here") is chosen from K tries: every draw of the unit
(both signs, every ρ, every sampler) plus the farthest-vector candidate when that search ran.
Under the plan's correction the tries' p-values are adjusted along the **last axis** (vectorised
over any leading axes, e.g. simulated repetitions):

* Bonferroni: p̃ = min(1, K·p);
* Holm: p̃₍ᵢ₎ = min(1, maxⱼ≤ᵢ (K − j + 1)·p₍ⱼ₎) (step-down);
* none: p̃ = p.

NaN p-values stay NaN and are left out of K (tries that could not be tested); tries that were not
made (a sign that does not steer) enter with p = 1, so K is fixed by the design.

Decision of try j (codes 1 / −1 / 0):

* **equivalent** (1) when p̃_tost < level — family-wise error ≤ level over the K tries;
* **not equivalent** (−1) when not equivalent and p̃_difference < level: the interval at the
  family-wise level excludes "no difference" (the draw is shown to steer differently from v);
* **undecided** (0) otherwise.

The claim "not identifiable" holds when some try is equivalent; its error (a false claim when no
try is truly equivalent) is ≤ level under Bonferroni or Holm whatever the dependence between tries.
"identifiable here" needs every try shown different.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from steerid.stats.plan import EquivalencePlan

EQUIVALENT, NOT_EQUIVALENT, UNDECIDED = 1, -1, 0
DECISIONS = {EQUIVALENT: "equivalent", NOT_EQUIVALENT: "not equivalent", UNDECIDED: "undecided"}


def adjust(p: Any, correction: str) -> np.ndarray:
    """Family-wise adjusted p-values along the last axis (see module docstring); NaN left out of K.

    Equal to :meth:`steerid.stats.plan.EquivalencePlan.adjust` row by row.
    """
    p = np.asarray(p, dtype=np.float64)
    if correction == "none":
        return p.copy()
    finite = np.isfinite(p)
    k = finite.sum(axis=-1, keepdims=True)
    if correction == "bonferroni":
        return np.where(finite, np.minimum(1.0, k * p), np.nan)
    if correction != "holm":
        raise ValueError(f"unknown correction {correction!r}")
    keyed = np.where(finite, p, np.inf)
    order = np.argsort(keyed, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(keyed, order, axis=-1)
    j = np.arange(p.shape[-1])
    factor = np.maximum(k - j, 1)
    stepped = np.maximum.accumulate(np.minimum(1.0, factor * sorted_p), axis=-1)
    out = np.empty_like(p)
    np.put_along_axis(out, order, stepped, axis=-1)
    return np.where(finite, out, np.nan)


def decide(p_tost: Any, p_difference: Any, plan: EquivalencePlan) -> dict[str, np.ndarray]:
    """Fixed-design decisions of K tries (last axis) under ``plan``'s correction and level.

    Returns ``p_adjusted``, ``p_difference_adjusted`` and integer ``codes`` (1, −1, 0).
    """
    correction = plan.effective_correction
    p_adj = adjust(p_tost, correction)
    d_adj = adjust(p_difference, correction)
    equivalent = np.nan_to_num(p_adj, nan=1.0) < plan.level
    different = ~equivalent & (np.nan_to_num(d_adj, nan=1.0) < plan.level)
    codes = np.where(equivalent, EQUIVALENT, np.where(different, NOT_EQUIVALENT, UNDECIDED)).astype(np.int8)
    return {"p_adjusted": p_adj, "p_difference_adjusted": d_adj, "codes": codes}


def claims(codes: Any) -> dict[str, np.ndarray]:
    """The unit's claims from its tries' codes (last axis): ``not_identifiable`` (some try equivalent)
    and ``identifiable_here`` (every try shown different), plus the counts."""
    codes = np.asarray(codes)
    n_eq = (codes == EQUIVALENT).sum(-1)
    n_not = (codes == NOT_EQUIVALENT).sum(-1)
    return {"not_identifiable": n_eq > 0, "identifiable_here": (n_not == codes.shape[-1]) & (codes.shape[-1] > 0),
            "n_equivalent": n_eq, "n_not_equivalent": n_not, "n_undecided": codes.shape[-1] - n_eq - n_not}
