r"""Group-sequential paired TOST with Lan–DeMets alpha spending.

Design. The per-prompt differences ``d`` are analysed at planned cumulative sample sizes
``n_1 < n_2 < … < n_K = n_max`` (the *looks*), with information fractions
``t_k = n_k / n_max``. Each side of the TOST is a one-sided test at overall level α, and that
α is spent over the looks by a Lan–DeMets spending function (one-sided α, ``t ≤ 1``):

- O'Brien–Fleming type: ``α(t) = 2 − 2Φ(z_{1−α/2} / √t)`` (spends almost nothing early);
- Pocock type:          ``α(t) = α · ln(1 + (e − 1)·t)`` (spends roughly evenly).

Boundaries. Under the null at the margin, the look statistics ``Z_1…Z_K`` of one side have the
canonical joint distribution: multivariate normal, unit variances,
``corr(Z_j, Z_k) = √(t_j / t_k)`` (j ≤ k), i.e. ``S_k = Z_k √t_k`` is Brownian motion at times
``t_k``. The nominal one-sided boundaries ``c_k`` solve

    P(Z_1 < c_1, …, Z_{k−1} < c_{k−1}, Z_k ≥ c_k) = α(t_k) − α(t_{k−1}),

computed by recursive numerical integration (Armitage–McPherson–Rowe; Jennison & Turnbull
2000, ch. 19): the sub-density of ``S_k`` on the continuation region ``S_k < c_k √t_k`` is
propagated by convolution with the ``N(0, t_{k+1} − t_k)`` increment density on a Simpson grid,
and ``c_{k+1}`` is found by root finding (relative accuracy ~1e-7; the tests check the crossing
probabilities against ``scipy.stats.multivariate_normal.cdf``). The nominal one-sided level of
look k is ``α_k = 1 − Φ(c_k)`` (``α_1 = α(t_1)`` exactly), converted to a t critical value with
``n_k − 1`` degrees of freedom, ``t*_k = t_{1−α_k, n_k−1}`` (significance-level matching, since
σ is estimated at every look).

Decision at look k, with ``m_k``, ``s_k`` the mean and SD of the first ``n_k`` differences,
``se_k = s_k/√n_k`` and bounds ``(low, high)``:

    p_lower = P(T ≥ (m_k − low)/se_k),   p_upper = P(T ≤ (m_k − high)/se_k),   T ~ t_{n_k−1}

- **equivalent** when ``p_lower < α_k`` and ``p_upper < α_k``, i.e. the repeated confidence
  interval ``m_k ± t*_k·se_k`` (level ``1 − 2α_k``) lies strictly inside ``(low, high)``;
- **not equivalent** when that repeated CI lies entirely above ``high`` or below ``low`` (the
  difference is shown to lie beyond the margin; non-binding futility), or at the last look when
  equivalence is not shown;
- **continue** otherwise.

The boundaries are computed as if the procedure never stopped for futility. Stopping for
futility only removes chances to claim equivalence, so it cannot raise the type-I error
(probability of a false equivalence claim), which is at most α per side, hence ≤ α overall at
any true difference on or beyond the margin. With a single look (``n_1 = n_max``) the procedure
is exactly :func:`steerid.stats.paired_tost`.

Margin. ``margin_raw`` gives bounds ±margin_raw in score units. ``margin_dz`` gives
``±margin_dz · s_1`` with ``s_1`` the SD of the differences at the **first** look; the raw
bounds are then frozen for all later looks (so the bounds do not move with the data after the
first look).

Operating characteristics (:func:`average_sample_number`) are simulated with normal
differences ``d ~ N(δ, 1)``: the average sample number (ASN, expected stopping n), the
probability of an equivalence claim (the power when ``δ`` is inside the margin, the type-I
error when on its edge), and the stopping probabilities per look.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import optimize
from scipy import stats as st

from steerid.errors import DataError
from steerid.stats._checks import as_sample, check_count, check_finite, check_positive, check_probability, mean_sd
from steerid.stats._jsonable import jsonable
from steerid.stats.power import tost_power_paired

Spending = Literal["obrien-fleming", "pocock"]
Decision = Literal["equivalent", "not equivalent", "continue"]
SimMargin = Literal["fixed", "first_look_sd"]

_SPENDING_ALIASES = {
    "obrien-fleming": "obrien-fleming",
    "o'brien-fleming": "obrien-fleming",
    "obf": "obrien-fleming",
    "of": "obrien-fleming",
    "pocock": "pocock",
}
_GRID_SDS = 8.0  # lower truncation of the Simpson grid, in SDs of S_k (mass below ≈ 6e-16)
_MIN_POINTS, _MAX_POINTS = 201, 4001
_CHUNK = 512
_SIM_BLOCK = 2_000_000  # simulated values per block (memory bound)


# --------------------------------------------------------------------------------------------
# plan
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SequentialPlan:
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of all fields."""
        return jsonable(self)

    def summary(self) -> str:
        """Readable table of the looks and their boundaries."""
        title = f"Group-sequential TOST plan ({self.spending} spending, one-sided alpha = {_fmt(self.alpha)} per side)"
        rule = "=" * max(78, len(title))
        lines = [title, rule]
        lines.append(f"{'look':>4}{'n':>8}{'t':>9}{'alpha spent':>14}{'z bound':>10}{'nominal a':>12}{'t bound':>10}")
        for k in range(self.n_looks):
            lines.append(
                f"{k + 1:>4}{self.looks[k]:>8}{self.info_fractions[k]:>9.4f}{_fmt(self.alpha_spent[k]):>14}"
                f"{_fmt(self.z_boundaries[k]):>10}{_fmt(self.alpha_nominal[k]):>12}{_fmt(self.t_boundaries[k]):>10}"
            )
        lines.append(rule)
        return "\n".join(lines)


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


def _spending_name(spending: str) -> str:
    key = str(spending).strip().lower().replace("_", "-").replace(" ", "-")
    if key not in _SPENDING_ALIASES:
        raise DataError(f"unknown spending function {spending!r}", "use 'obrien-fleming' or 'pocock'")
    return _SPENDING_ALIASES[key]


def _spent(t: float, alpha: float, spending: str) -> float:
    """Cumulative one-sided α spent at information fraction t (α exactly at t ≥ 1)."""
    if t >= 1.0:
        return alpha
    if spending == "obrien-fleming":
        return float(2.0 * st.norm.sf(st.norm.isf(alpha / 2.0) / math.sqrt(t)))
    return float(alpha * math.log1p((math.e - 1.0) * t))


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


def _simpson(a: float, b: float, h_target: float) -> tuple[np.ndarray, np.ndarray]:
    """Simpson nodes and weights on [a, b] with spacing ≤ h_target (point count capped)."""
    m = int(math.ceil((b - a) / h_target)) + 1
    m = min(_MAX_POINTS, max(_MIN_POINTS, m))
    if m % 2 == 0:
        m += 1
    x = np.linspace(a, b, m)
    h = (b - a) / (m - 1)
    w = np.full(m, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return x, w * (h / 3.0)


def _z_boundaries(t: Sequence[float], increments: Sequence[float]) -> list[float]:
    """One-sided boundaries c_k for exit probabilities ``increments`` (module docstring)."""
    t = [float(v) for v in t]
    c: list[float] = []
    first = increments[0]
    c.append(float(st.norm.isf(first)) if first > 0.0 else math.inf)
    if len(t) == 1:
        return c
    # sub-density of S_1 = Z_1 √t_1 on (−∞, b_1)
    sd1 = math.sqrt(t[0])
    upper = min(c[0] * sd1, _GRID_SDS * sd1 + 1.0)
    step = min(sd1, math.sqrt(t[1] - t[0])) / 8.0
    s, w = _simpson(-_GRID_SDS * sd1, upper, step)
    f = st.norm.pdf(s, scale=sd1)
    for k in range(1, len(t)):
        inc_sd = math.sqrt(t[k] - t[k - 1])
        g = w * f
        target = increments[k]
        if not target > 1e-300:
            c.append(math.inf)
            b = math.inf
        else:
            def excess(bk: float, g: np.ndarray = g, s: np.ndarray = s, inc_sd: float = inc_sd,
                       target: float = target) -> float:
                return math.log(max(float(np.dot(g, st.norm.sf((bk - s) / inc_sd))), 1e-320)) - math.log(target)

            lo, hi = -12.0, s[-1] + 12.0 * inc_sd
            while excess(hi) > 0.0:
                hi += 12.0 * inc_sd
            b = float(optimize.brentq(excess, lo, hi, xtol=1e-13, rtol=1e-13, maxiter=200))
            c.append(b / math.sqrt(t[k]))
        if k == len(t) - 1:
            break
        sdk = math.sqrt(t[k])
        upper = min(b, _GRID_SDS * sdk + 1.0)
        step = min(sdk, inc_sd, math.sqrt(t[k + 1] - t[k])) / 8.0
        s_new, w_new = _simpson(-_GRID_SDS * sdk, upper, step)
        f_new = np.empty_like(s_new)
        for start in range(0, s_new.size, _CHUNK):
            block = s_new[start:start + _CHUNK, None]
            f_new[start:start + _CHUNK] = st.norm.pdf((block - s[None, :]) / inc_sd) @ g / inc_sd
        s, w, f = s_new, w_new, f_new
    return c


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


# --------------------------------------------------------------------------------------------
# looks and decisions
# --------------------------------------------------------------------------------------------


def _one_sided(m: np.ndarray, se: np.ndarray, df: np.ndarray, low: np.ndarray, high: np.ndarray
               ) -> tuple[np.ndarray, ...]:
    """t statistics and the four one-sided p-values (se = 0 decided deterministically).

    Returns t_lower, t_upper, p_lower (H₀: μ ≤ low), p_upper (H₀: μ ≥ high),
    p_above (H₀: μ ≤ high, small when μ is shown above high) and p_below (H₀: μ ≥ low).
    """
    pos = se > 0.0
    safe = np.where(pos, se, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(pos, (m - low) / safe, np.where(m == low, np.nan, np.copysign(np.inf, m - low)))
        t2 = np.where(pos, (m - high) / safe, np.where(m == high, np.nan, np.copysign(np.inf, m - high)))
    tt1, tt2 = np.where(pos, t1, 0.0), np.where(pos, t2, 0.0)
    p_lower = np.where(pos, st.t.sf(tt1, df), np.where(m > low, 0.0, 1.0))
    p_upper = np.where(pos, st.t.cdf(tt2, df), np.where(m < high, 0.0, 1.0))
    p_above = np.where(pos, st.t.sf(tt2, df), np.where(m > high, 0.0, 1.0))
    p_below = np.where(pos, st.t.cdf(tt1, df), np.where(m < low, 0.0, 1.0))
    return t1, t2, p_lower, p_upper, p_above, p_below


def _decide(p_lower: np.ndarray, p_upper: np.ndarray, p_above: np.ndarray, p_below: np.ndarray,
            a_nom: float, last: bool, empty_margin: np.ndarray) -> np.ndarray:
    """Decision codes: 1 equivalent, −1 not equivalent, 0 continue."""
    equivalent = (p_lower < a_nom) & (p_upper < a_nom) & ~empty_margin
    beyond = (p_above < a_nom) | (p_below < a_nom) | empty_margin
    out = np.where(equivalent, 1, np.where(beyond | last, -1, 0))
    return out.astype(np.int8)


_CODES: dict[int, Decision] = {1: "equivalent", -1: "not equivalent", 0: "continue"}


@dataclass(frozen=True)
class SequentialLook:
    """One analysed look of a group-sequential TOST.

    Attributes:
        look: 1-based look number k.
        n: Cumulative number of prompts n_k.
        df: n_k − 1.
        info_fraction: t_k = n_k / n_max.
        mean_diff: Mean of the first n_k differences.
        sd_diff: Their SD (ddof = 1).
        se: sd_diff / √n_k.
        t_lower: (mean − low)/se.
        t_upper: (mean − high)/se.
        p_lower: Nominal one-sided p of H₀: μ ≤ low.
        p_upper: Nominal one-sided p of H₀: μ ≥ high.
        alpha_nominal: Nominal one-sided level α_k of this look.
        z_boundary: c_k.
        t_boundary: t_{1−α_k, n_k−1}.
        ci: Repeated confidence interval mean ± t_boundary·se.
        ci_level: 1 − 2α_k.
        decision: ``"equivalent"``, ``"not equivalent"`` or ``"continue"``.
    """

    look: int
    n: int
    df: float
    info_fraction: float
    mean_diff: float
    sd_diff: float
    se: float
    t_lower: float
    t_upper: float
    p_lower: float
    p_upper: float
    alpha_nominal: float
    z_boundary: float
    t_boundary: float
    ci: tuple[float, float]
    ci_level: float
    decision: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of all fields."""
        return jsonable(self)


@dataclass(frozen=True)
class SequentialTostResult:
    """Outcome of a group-sequential paired TOST (see the module docstring).

    Attributes:
        test: Name of the procedure.
        plan: The :class:`SequentialPlan` used.
        margin_source: ``"raw"`` or ``"dz"`` (frozen from the SD at the first look).
        margin_dz: The margin in d_z units of the first-look SD (NaN if that SD is 0 or no look
            has been analysed).
        low: Lower equivalence bound in raw units (NaN before the first look).
        high: Upper equivalence bound in raw units.
        alpha: One-sided level per side.
        looks: The analysed looks, in order (up to and including the stopping look).
        stop_look: 1-based look at which the procedure stopped, None if it has not stopped.
        stopping_n: n at the stopping look, None if not stopped.
        decision: ``"equivalent"``, ``"not equivalent"`` or ``"continue"`` (not stopped yet).
        equivalent: ``decision == "equivalent"``.
        n_available: Number of differences supplied.
        assumptions: What the procedure assumes.
        notes: Data-specific remarks.
    """

    test: str
    plan: SequentialPlan
    margin_source: str
    margin_dz: float
    low: float
    high: float
    alpha: float
    looks: tuple[SequentialLook, ...]
    stop_look: int | None
    stopping_n: int | None
    decision: str
    equivalent: bool
    n_available: int
    assumptions: tuple[str, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of all fields (NaN kept as float NaN)."""
        return jsonable(self)

    def summary(self) -> str:
        """Readable report: plan, per-look table, decision."""
        title = "Group-sequential paired TOST (Lan–DeMets alpha spending)"
        rule = "=" * 96
        origin = "given in raw units" if self.margin_source == "raw" else "±margin_dz × sd at look 1, then frozen"
        lines = [title.center(len(rule)), rule,
                 f"looks = {list(self.plan.looks)}    spending = {self.plan.spending}    alpha = {_fmt(self.alpha)} per side",
                 f"margin: [{_fmt(self.low)}, {_fmt(self.high)}] raw ({origin}; = ±{_fmt(self.margin_dz)} d_z at look 1)",
                 "-" * len(rule),
                 f"{'look':>4}{'n':>7}{'mean':>11}{'sd':>10}{'t_lo':>9}{'t_up':>9}{'t bound':>9}"
                 f"{'p_lo':>10}{'p_up':>10}{'nominal a':>11}  {'repeated CI':<22}{'decision'}"]
        for lk in self.looks:
            ci = f"[{_fmt(lk.ci[0])}, {_fmt(lk.ci[1])}]"
            lines.append(
                f"{lk.look:>4}{lk.n:>7}{_fmt(lk.mean_diff):>11}{_fmt(lk.sd_diff):>10}{_fmt(lk.t_lower):>9}"
                f"{_fmt(lk.t_upper):>9}{_fmt(lk.t_boundary):>9}{_fmt(lk.p_lower):>10}{_fmt(lk.p_upper):>10}"
                f"{_fmt(lk.alpha_nominal):>11}  {ci:<22}{lk.decision}"
            )
        lines.append("-" * len(rule))
        if self.stop_look is None:
            lines.append(f"not stopped: continue to n = {self._next_n()}")
        else:
            lines.append(f"stopped at look {self.stop_look} (n = {self.stopping_n}): {self.decision.upper()}")
        lines.append("assumptions:")
        lines.extend(f"  - {a}" for a in self.assumptions)
        if self.notes:
            lines.append("notes:")
            lines.extend(f"  - {note}" for note in self.notes)
        lines.append(rule)
        return "\n".join(lines)

    def _next_n(self) -> int | str:
        k = len(self.looks)
        return self.plan.looks[k] if k < self.plan.n_looks else "?"


def _fmt(value: float) -> str:
    if value is None:
        return "nan"
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}"


def _margin_choice(margin_dz: float | None, margin_raw: float | None) -> tuple[str, float]:
    if margin_dz is None and margin_raw is None:
        raise DataError("no equivalence margin given", "pass margin_raw (score units) or margin_dz (SDs of the differences)")
    if margin_dz is not None and margin_raw is not None:
        raise DataError("both margin_dz and margin_raw given", "pass only one of margin_raw or margin_dz")
    if margin_raw is not None:
        return "raw", check_positive(margin_raw, "margin_raw")
    return "dz", check_positive(margin_dz, "margin_dz")


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
        self._source, self._margin = _margin_choice(margin_dz, margin_raw)
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


# --------------------------------------------------------------------------------------------
# operating characteristics by simulation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SequentialOperatingCharacteristics:
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of all fields."""
        return jsonable(self)

    def summary(self) -> str:
        """Readable report of the simulated operating characteristics."""
        rule = "=" * 72
        lines = [
            "Sequential TOST operating characteristics (simulation)", rule,
            f"looks = {list(self.plan.looks)}    spending = {self.plan.spending}    alpha = {_fmt(self.plan.alpha)}",
            f"margin = ±{_fmt(self.margin_dz)} sd ({self.margin_scale})    true diff = {_fmt(self.true_diff_dz)} sd",
            f"simulations = {self.n_sims}    seed = {self.seed}",
            "-" * len(rule),
            f"ASN = {self.asn:.1f} (± {self.asn_se:.1f})  of n_max = {self.plan.n_max}",
            f"P(equivalence claim) = {self.p_equivalent:.4f} (± {self.p_equivalent_se:.4f}); "
            f"fixed design at n_max: {self.fixed_power:.4f}",
            f"power at true 0 = {self.power_at_zero:.4f}; fixed design at n_max: {self.fixed_power_at_zero:.4f}",
            "P(stop at look) = " + ", ".join(f"{p:.3f}" for p in self.p_stop),
            f"P(futility stop before the last look) = {self.p_stop_futility:.4f}",
            rule,
        ]
        return "\n".join(lines)


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
