r"""Group-sequential relative TOST with the level split over the tries before it is spent over the looks.

Each of the K tries of an existence claim gets its own group-sequential test at one-sided level
a = level / K (Bonferroni split, :meth:`EquivalencePlan.try_level`), spent over the looks
n₁ < … < n_L by the plan's Lan–DeMets function (:func:`steerid.stats.sequential_plan` at a gives the
nominal levels a_k). At look k the relative TOST of :func:`~steerid.stats.existence.onesided.relative_tost`
is computed on the first n_k prompts; the try

* is **equivalent** when p_lower, p_upper and p_shift are all < a_k (each one-sided test at zero
  margin on its per-prompt linear combination; the repeated Fieller interval at 1 − 2a_k lies
  inside (1 − ε, 1 + ε));
* is **shown different** (stops, non-binding futility) when the ratio is shown outside the margin,
  min(p_above, p_below) < a_k;
* stops **undecided** at the last look otherwise.

Each side's crossing probability over all looks is ≤ a under its null (the spending function), so a
false equivalence of one try has probability ≤ a and a false claim over K tries ≤ K·a = level.
(Holm needs fixed-sample p-values; under this design it is applied as Bonferroni.)

``p_adjusted`` of a try is min(1, p_tost·level / a_k) at its stopping look k: below ``level`` exactly
when the sequential test claims equivalence (a rescaling of the stopping look's p onto the claim's
level, not a repeated p-value).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from steerid.stats.existence.onesided import relative_tost
from steerid.stats.sequential.plan import SequentialPlan

CONTINUE, EQUIVALENT, DIFFERENT, UNDECIDED_END = 0, 1, -1, 2
_KEYS = ("estimate", "ci_low", "ci_high", "p_lower", "p_upper", "p_shift", "p_tost", "p_difference")


def look_codes(res: dict[str, np.ndarray], a_nom: float, last: bool) -> np.ndarray:
    """Codes of one look: 1 equivalent, −1 shown outside the margin, 2 undecided at the last look, 0 continue."""
    eq = res["p_tost"] < a_nom
    out = np.minimum(res["p_above"], res["p_below"]) < a_nom
    return np.where(eq, EQUIVALENT, np.where(out, DIFFERENT, UNDECIDED_END if last else CONTINUE)).astype(np.int8)


def run_relative_sequential(T: Any, S: Any, *, sign: Any, margin: float, plan: SequentialPlan,
                            level: float) -> dict[str, np.ndarray]:
    """Run the split sequential relative TOST on complete data (vectorised over leading axes).

    Args:
        T: (..., n ≥ n_max) shifts of s·v + v⊥ vs none; S: (..., n) or (n,) shifts of s·v vs none.
        sign: expected sign of v's shift. margin: ε. plan: the looks at the try level a = level / K.
        level: the claim's family-wise level (for ``p_adjusted``).

    Returns:
        Arrays over the leading axes: ``codes`` (1 equivalent, −1 shown different, 2 undecided),
        ``stop_look`` (1-based), ``stopping_n``, ``alpha_nominal`` (a_k at the stop), ``p_adjusted`` and
        the relative-TOST fields at the stopping look (repeated interval at 1 − 2a_k).
    """
    T = np.asarray(T, dtype=np.float64)
    S = np.broadcast_to(np.asarray(S, dtype=np.float64), T.shape)
    shape = T.shape[:-1]
    codes = np.zeros(shape, dtype=np.int8)
    stop_look = np.zeros(shape, dtype=np.int64)
    a_stop = np.full(shape, np.nan)
    fields = {k: np.full(shape, np.nan) for k in _KEYS}
    for k, (n, a_nom) in enumerate(zip(plan.looks, plan.alpha_nominal)):
        open_ = codes == CONTINUE
        if not open_.any():
            break
        res = relative_tost(T[..., :n], S[..., :n], sign=sign, margin=margin, level=a_nom)
        c = look_codes(res, a_nom, k == plan.n_looks - 1)
        stops = open_ & (c != CONTINUE)
        codes = np.where(stops, c, codes)
        stop_look = np.where(stops, k + 1, stop_look)
        a_stop = np.where(stops, a_nom, a_stop)
        for key in _KEYS:
            fields[key] = np.where(stops, res[key], fields[key])
    looks = np.asarray(plan.looks)
    stopping_n = looks[np.clip(stop_look - 1, 0, len(looks) - 1)]
    p_adj = np.minimum(1.0, fields["p_tost"] * level / a_stop)
    return {"codes": codes, "stop_look": stop_look, "stopping_n": stopping_n, "alpha_nominal": a_stop,
            "p_adjusted": p_adj, **fields}


class SequentialRelativeTost:
    """Incremental monitor of one try's split sequential relative TOST (module docstring).

    Feed it the cumulative per-prompt shifts (T of the draw, S of v) as looks complete; it analyses
    every planned look the data reach, exactly as :func:`run_relative_sequential` does.
    """

    def __init__(self, plan: SequentialPlan, *, margin: float, sign: int, level: float) -> None:
        self.plan, self.margin, self.sign, self.level = plan, float(margin), int(sign), float(level)
        self._look = 0
        self._code = CONTINUE
        self._record: dict[str, Any] = {}

    @property
    def stopped(self) -> bool:
        """True once a look has decided."""
        return self._code != CONTINUE

    def update(self, T: Any, S: Any) -> int:
        """Analyse every planned look reached by the cumulative shifts; return the current code."""
        T, S = np.asarray(T, dtype=np.float64), np.asarray(S, dtype=np.float64)
        while not self.stopped and self._look < self.plan.n_looks and self.plan.looks[self._look] <= T.size:
            n, a_nom = self.plan.looks[self._look], self.plan.alpha_nominal[self._look]
            res = relative_tost(T[:n], S[:n], sign=self.sign, margin=self.margin, level=a_nom)
            self._code = int(look_codes(res, a_nom, self._look == self.plan.n_looks - 1))
            self._look += 1
            self._record = {key: float(res[key]) for key in _KEYS} | {
                "stop_look": self._look, "stopping_n": n, "alpha_nominal": float(a_nom),
                "p_adjusted": float(min(1.0, float(res["p_tost"]) * self.level / a_nom))}
        return self._code

    @property
    def result(self) -> dict[str, Any]:
        """Decision ('equivalent' / 'not equivalent' / 'undecided' / 'continue') and the stopping look's fields."""
        name = {EQUIVALENT: "equivalent", DIFFERENT: "not equivalent", UNDECIDED_END: "undecided",
                CONTINUE: "continue"}[self._code]
        return {"decision": name, "shown_different": self._code == DIFFERENT, **self._record}
