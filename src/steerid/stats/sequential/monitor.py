"""Run a group-sequential paired TOST: incrementally (:class:`SequentialTost`) or at once.

Margin. ``margin_raw`` gives bounds ±margin_raw in score units. ``margin_dz`` gives
``±margin_dz · s_1`` with ``s_1`` the SD of the differences at the **first** look; the raw
bounds are then frozen for all later looks (so the bounds do not move with the data after the
first look). Each planned look the data reach is analysed in order by the rule of
:mod:`steerid.stats.sequential.decision` until one stops the procedure.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from steerid.errors import DataError
from steerid.stats._margin import margin_choice
from steerid.stats._summary import mean_sd
from steerid.stats.sequential.decision import _CODES, Decision, _decide, _one_sided
from steerid.stats.sequential.plan import SequentialPlan, Spending, _as_plan
from steerid.stats.sequential.plan import planned_looks, sequential_plan  # noqa: F401 (the doctests use them)
from steerid.stats.sequential.result import SequentialLook, SequentialTostResult
from steerid.validation import as_sample


class SequentialTost:
    """Incremental monitor of a group-sequential paired TOST.

    Feed it the cumulative differences as the experiment produces them; every planned look
    that the data reach (and that has not been analysed yet) is analysed in order until one
    stops the procedure. The result is identical to :func:`sequential_paired_tost` on the
    same data.

    Example:
        >>> import numpy as np
        >>> plan = sequential_plan(planned_looks(50, 200))
        >>> mon = SequentialTost(plan, margin_raw=0.5)
        >>> d = np.random.default_rng(0).normal(0.0, 1.0, 200)
        >>> while mon.decision == "continue":
        ...     _ = mon.update(d[:mon.next_n])
        >>> mon.decision, mon.result.stopping_n
        ('equivalent', 100)
    """

    def __init__(self, plan: SequentialPlan, *, margin_dz: float | None = None, margin_raw: float | None = None) -> None:
        if not isinstance(plan, SequentialPlan):
            raise DataError(f"plan must be a SequentialPlan, got {type(plan).__name__}",
                            "build one with sequential_plan(looks, alpha=..., spending=...)")
        self._plan = plan
        self._source, self._margin = margin_choice(margin_dz, margin_raw)
        self._low = -self._margin if self._source == "raw" else math.nan
        self._high = self._margin if self._source == "raw" else math.nan
        self._margin_dz = math.nan
        self._looks: list[SequentialLook] = []
        self._seen = np.empty(0, dtype=np.float64)
        self._n_available = 0
        self._decision: Decision = "continue"
        self._notes: list[str] = []

    @property
    def plan(self) -> SequentialPlan:
        """The plan being monitored."""
        return self._plan

    @property
    def decision(self) -> str:
        """Current decision: ``"continue"`` until a look stops the procedure."""
        return self._decision

    @property
    def stopped(self) -> bool:
        """True once a look has decided."""
        return self._decision != "continue"

    @property
    def next_n(self) -> int | None:
        """Cumulative n of the next planned look (None once stopped)."""
        if self.stopped:
            return None
        return self._plan.looks[len(self._looks)]

    def update(self, diffs_so_far: object) -> str:
        """Analyse every planned look reached by the cumulative differences; return the decision.

        Args:
            diffs_so_far: All per-prompt differences so far (1-D, in collection order). Earlier
                entries must be unchanged from previous calls. Entries beyond the next look that
                do not complete a further look are kept for later.

        Returns:
            ``"equivalent"``, ``"not equivalent"`` or ``"continue"``.

        Raises:
            DataError: NaN/inf, a changed prefix, fewer values than before, or a call after stop.
        """
        if self.stopped:
            raise DataError(f"the sequential TOST already stopped at look {len(self._looks)} ({self._decision})",
                            "read .result; collect no more data for this test")
        d = as_sample(diffs_so_far, "diffs_so_far", min_n=1)
        used = self._seen.size
        if d.size < self._n_available:
            raise DataError(f"diffs_so_far has {d.size} values, fewer than the {self._n_available} seen before",
                            "pass all differences collected so far, oldest first")
        if used and not np.array_equal(d[:used], self._seen):
            raise DataError("the first differences changed since the previous update",
                            "pass the cumulative differences with earlier prompts unchanged and in the same order")
        self._n_available = d.size
        looks = self._plan.looks
        while not self.stopped and len(self._looks) < len(looks) and looks[len(self._looks)] <= d.size:
            self._analyse(d[:looks[len(self._looks)]])
        self._seen = d.copy()
        return self._decision

    def _analyse(self, d: np.ndarray) -> None:
        plan = self._plan
        k = len(self._looks)
        n = d.size
        m, sd = mean_sd(d)
        if k == 0 and self._source == "dz":
            self._low, self._high = -self._margin * sd, self._margin * sd
            self._margin_dz = self._margin
            if sd == 0.0:
                self._notes.append(f"all {n} differences at look 1 equal {m:.6g} (sd = 0): a d_z margin is 0 raw "
                                   "units wide, so equivalence cannot be shown; pass margin_raw")
        elif k == 0:
            self._margin_dz = self._margin / sd if sd > 0.0 else math.nan
        se = sd / math.sqrt(n)
        df = float(n - 1)
        t1, t2, p1, p2, pa, pb = (float(v) for v in _one_sided(
            np.asarray(m), np.asarray(se), np.asarray(df), np.asarray(self._low), np.asarray(self._high)))
        a_nom = plan.alpha_nominal[k]
        tb = plan.t_boundaries[k]
        half = tb * se if se > 0.0 else 0.0
        last = k == plan.n_looks - 1
        empty = np.asarray(not self._high > self._low)
        code = int(_decide(np.asarray(p1), np.asarray(p2), np.asarray(pa), np.asarray(pb), a_nom, last, empty))
        decision = _CODES[code]
        self._looks.append(SequentialLook(
            look=k + 1, n=n, df=df, info_fraction=plan.info_fractions[k], mean_diff=m, sd_diff=sd, se=se,
            t_lower=t1, t_upper=t2, p_lower=p1, p_upper=p2, alpha_nominal=a_nom, z_boundary=plan.z_boundaries[k],
            t_boundary=tb, ci=(m - half, m + half), ci_level=1.0 - 2.0 * a_nom, decision=decision,
        ))
        self._decision = decision

    @property
    def result(self) -> SequentialTostResult:
        """The :class:`SequentialTostResult` of the looks analysed so far."""
        plan = self._plan
        notes = list(self._notes)
        stopped = self.stopped
        if not stopped:
            if self._looks:
                notes.append(f"not stopped after look {len(self._looks)}; the next look is at n = {self.next_n}")
            else:
                notes.append(f"no look reached yet ({self._n_available} of {plan.looks[0]} differences)")
        elif self._n_available > self._looks[-1].n:
            notes.append(f"{self._n_available - self._looks[-1].n} difference(s) after the stopping look were not used")
        if stopped and self._decision == "not equivalent" and len(self._looks) < plan.n_looks:
            notes.append("stopped early for futility: the repeated CI lies beyond the margin")
        assumptions = [
            "paired design: each difference comes from one prompt under both conditions",
            "prompts are independent and analysed in a pre-planned order; looks are at the planned n",
            "look statistics follow the canonical joint distribution (corr(Z_j, Z_k) = sqrt(t_j/t_k)); "
            "t critical values match the nominal z levels (df = n_k - 1)",
            "futility stopping is non-binding: the boundaries ignore it, so it cannot inflate the type-I error",
        ]
        if self._source == "dz":
            assumptions.append("raw bounds = ±margin_dz × sd of the first-look differences, then frozen for all looks")
        else:
            assumptions.append("raw bounds fixed before seeing the data")
        return SequentialTostResult(
            test="Group-sequential paired TOST",
            plan=plan,
            margin_source=self._source,
            margin_dz=self._margin_dz,
            low=self._low,
            high=self._high,
            alpha=plan.alpha,
            looks=tuple(self._looks),
            stop_look=len(self._looks) if stopped else None,
            stopping_n=self._looks[-1].n if stopped else None,
            decision=self._decision,
            equivalent=self._decision == "equivalent",
            n_available=self._n_available,
            assumptions=tuple(assumptions),
            notes=tuple(notes),
        )


def sequential_paired_tost(
    diffs: object,
    looks: Sequence[int] | SequentialPlan,
    *,
    margin_dz: float | None = None,
    margin_raw: float | None = None,
    alpha: float | None = None,
    spending: Spending | None = None,
) -> SequentialTostResult:
    """Walk the planned looks over the first n_k differences and stop at the first decision.

    Args:
        diffs: Per-prompt differences in collection order (1-D; at least n_1 values). Values
            beyond the stopping look are not used.
        looks: Cumulative look sizes (e.g. :func:`planned_looks`) or a :class:`SequentialPlan`.
        margin_dz: Margin ±margin_dz·sd of the first-look differences, frozen afterwards.
        margin_raw: Margin ±margin_raw in raw score units. Give exactly one of the two.
        alpha: One-sided level per TOST side; default 0.05 for look sizes, the plan's own for a
            plan (if given with a plan it must match).
        spending: ``"obrien-fleming"`` (default for look sizes) or ``"pocock"``; with a plan,
            its own (if given it must match).

    Returns:
        A :class:`SequentialTostResult`; its decision is ``"continue"`` only if the data end
        before any look decides.

    Raises:
        DataError: bad looks/alpha/spending/margin, NaN/inf, or fewer differences than n_1.

    Example:
        >>> import numpy as np
        >>> d = np.random.default_rng(1).normal(0.0, 1.0, 400)
        >>> res = sequential_paired_tost(d, planned_looks(50, 400), margin_raw=0.4)
        >>> res.decision, res.stopping_n
        ('equivalent', 200)
    """
    plan = _as_plan(looks, alpha, spending)
    d = as_sample(diffs, "diffs", min_n=2)
    if d.size < plan.looks[0]:
        raise DataError(f"diffs has {d.size} values, fewer than the first look n_1 = {plan.looks[0]}",
                        "collect at least n_1 differences or plan a smaller first look")
    monitor = SequentialTost(plan, margin_dz=margin_dz, margin_raw=margin_raw)
    monitor.update(d)
    res = monitor.result
    if not monitor.stopped:
        notes = [nt for nt in res.notes if not nt.startswith("not stopped")]
        notes.append(f"the data end at n = {d.size} before a decision; the next look is at n = {monitor.next_n}")
        res = dataclasses.replace(res, notes=tuple(notes))
    return res
