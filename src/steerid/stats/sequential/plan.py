"""Planned looks of a group-sequential paired TOST and their boundaries.

Looks ``n_1 < … < n_K = n_max`` have information fractions ``t_k = n_k / n_max``. The nominal
one-sided level of look k is ``α_k = 1 − Φ(c_k)`` (``α_1 = α(t_1)`` exactly; ``c_k`` from
:mod:`steerid.stats.sequential.boundaries`), converted to a t critical value with ``n_k − 1``
degrees of freedom, ``t*_k = t_{1−α_k, n_k−1}`` (significance-level matching, since σ is
estimated at every look).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from scipy import stats as st

from steerid.errors import DataError
from steerid.results import ResultMixin, Summary, Table
from steerid.stats.sequential.boundaries import _spending_name, _spent, _z_boundaries
from steerid.validation import check_count, check_finite, check_probability

Spending = Literal["obrien-fleming", "pocock"]


@dataclass(frozen=True, repr=False)
class SequentialPlan(ResultMixin):
    """Planned looks and one-sided boundaries of a group-sequential TOST.

    Attributes:
        looks: Cumulative sample sizes n_1 < … < n_K.
        n_max: n_K.
        alpha: One-sided level of each TOST side.
        spending: ``"obrien-fleming"`` or ``"pocock"`` (Lan–DeMets type).
        info_fractions: t_k = n_k / n_max.
        alpha_spent: Cumulative α(t_k).
        alpha_increment: α(t_k) − α(t_{k−1}), the exit probability assigned to look k.
        z_boundaries: Nominal one-sided z boundaries c_k.
        alpha_nominal: Nominal one-sided level α_k = 1 − Φ(c_k) of look k.
        t_boundaries: t critical values t_{1−α_k, n_k−1}.
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("looks", "alpha", "spending")

    looks: tuple[int, ...]
    n_max: int
    alpha: float
    spending: str
    info_fractions: tuple[float, ...]
    alpha_spent: tuple[float, ...]
    alpha_increment: tuple[float, ...]
    z_boundaries: tuple[float, ...]
    alpha_nominal: tuple[float, ...]
    t_boundaries: tuple[float, ...]

    @property
    def n_looks(self) -> int:
        """Number of planned looks K."""
        return len(self.looks)

    def summary(self) -> Summary:
        """Table of the looks and their boundaries."""
        header = ("look", "n", "t", "alpha spent", "z bound", "nominal a", "t bound")
        rows = tuple((k + 1, self.looks[k], self.info_fractions[k], self.alpha_spent[k], self.z_boundaries[k],
                      self.alpha_nominal[k], self.t_boundaries[k]) for k in range(self.n_looks))
        return Summary(f"Group-sequential TOST plan ({self.spending} spending)",
                       rows=[("looks", list(self.looks)), ("one-sided alpha per side", self.alpha)],
                       tables=[Table(header, rows)])


def planned_looks(n_first: int, n_max: int, growth: float = 2.0) -> tuple[int, ...]:
    """Geometric look sizes ``n_first, n_first·g, n_first·g², …`` ending exactly at ``n_max``.

    Intermediate looks are ``round(n_first·g^k)`` below ``n_max``; the last intermediate look is
    dropped when the final step to ``n_max`` would be less than half a regular step
    (``n_max < n_last·(1 + (g − 1)/2)``), so that no look is wasted just before the end.

    Example:
        >>> planned_looks(48, 384)
        (48, 96, 192, 384)
        >>> planned_looks(48, 200)
        (48, 96, 200)
    """
    n_first = check_count(n_first, "n_first", minimum=3)
    n_max = check_count(n_max, "n_max", minimum=3)
    g = check_finite(growth, "growth")
    if g <= 1.0:
        raise DataError(f"growth = {growth!r} must exceed 1", "give growth > 1 (2 doubles n at every look)")
    if n_first > n_max:
        raise DataError(f"n_first = {n_first} exceeds n_max = {n_max}", "give n_first ≤ n_max")
    looks = [n_first]
    while True:
        nxt = max(looks[-1] + 1, int(round(looks[-1] * g)))
        if nxt >= n_max:
            break
        looks.append(nxt)
    if looks[-1] >= n_max:
        return (n_max,)
    if len(looks) > 1 and n_max < looks[-1] * (1.0 + (g - 1.0) / 2.0):
        looks.pop()
    return (*looks, n_max)


def _check_looks(looks: object) -> tuple[int, ...]:
    if isinstance(looks, (str, bytes)) or not isinstance(looks, (Sequence, np.ndarray)):
        raise DataError(f"looks must be a sequence of sample sizes, got {type(looks).__name__}",
                        "pass increasing cumulative sample sizes, e.g. planned_looks(48, 384)")
    values = list(looks)
    if not values:
        raise DataError("looks is empty", "pass increasing cumulative sample sizes, e.g. planned_looks(48, 384)")
    out = tuple(check_count(v, "look size", minimum=3) for v in values)
    if any(b <= a for a, b in zip(out, out[1:])):
        raise DataError(f"looks {out} are not strictly increasing",
                        "pass increasing cumulative sample sizes, e.g. planned_looks(48, 384)")
    return out


def sequential_plan(looks: Sequence[int], *, alpha: float = 0.05, spending: Spending = "obrien-fleming") -> SequentialPlan:
    """Boundaries of a group-sequential paired TOST at the given looks.

    Args:
        looks: Strictly increasing cumulative sample sizes (each ≥ 3); the last one is n_max.
        alpha: One-sided level of each TOST side, in (0, 0.5).
        spending: ``"obrien-fleming"`` (default) or ``"pocock"`` Lan–DeMets spending function.

    Returns:
        A :class:`SequentialPlan` with z and t boundaries (see the module docstring).

    Raises:
        DataError: non-integer, non-increasing or too small looks; bad alpha or spending name.

    Example:
        >>> plan = sequential_plan((100, 200, 300), alpha=0.025)
        >>> [round(c, 3) for c in plan.z_boundaries]
        [3.71, 2.511, 1.993]
    """
    looks_t = _check_looks(looks)
    alpha = check_probability(alpha, "alpha", upper=0.5)
    name = _spending_name(spending)
    n_max = looks_t[-1]
    t = tuple(n / n_max for n in looks_t)
    spent = tuple(_spent(tk, alpha, name) for tk in t)
    inc = tuple(spent[k] - (spent[k - 1] if k else 0.0) for k in range(len(t)))
    z = _z_boundaries(t, inc)
    nominal = [spent[0]] + [float(st.norm.sf(ck)) for ck in z[1:]]
    tb = tuple(float(st.t.isf(a, n - 1)) if a > 0.0 else math.inf for a, n in zip(nominal, looks_t))
    return SequentialPlan(
        looks=looks_t,
        n_max=n_max,
        alpha=alpha,
        spending=name,
        info_fractions=t,
        alpha_spent=spent,
        alpha_increment=inc,
        z_boundaries=tuple(float(v) for v in z),
        alpha_nominal=tuple(float(v) for v in nominal),
        t_boundaries=tb,
    )


def _as_plan(looks: object, alpha: float | None, spending: str | None) -> SequentialPlan:
    if isinstance(looks, SequentialPlan):
        bad_alpha = alpha is not None and check_probability(alpha, "alpha", upper=0.5) != looks.alpha
        bad_spending = spending is not None and _spending_name(spending) != looks.spending
        if bad_alpha or bad_spending:
            raise DataError(
                f"the plan has alpha = {looks.alpha}, spending = {looks.spending!r}, but alpha = {alpha}, "
                f"spending = {spending!r} were passed",
                "pass either a SequentialPlan or look sizes with alpha/spending, not conflicting both")
        return looks
    return sequential_plan(looks, alpha=0.05 if alpha is None else alpha,  # type: ignore[arg-type]
                           spending="obrien-fleming" if spending is None else spending)
