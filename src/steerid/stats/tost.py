r"""Two one-sided tests (TOST) for equivalence of means, paired and two-sample.

Equivalence bounds ``(low, high)`` are in raw score units. For a mean difference μ the test
pair is

    H₀₁: μ ≤ low   vs  H₁₁: μ > low,    t₁ = (m − low)/se,   p₁ = P(T_ν ≥ t₁)
    H₀₂: μ ≥ high  vs  H₁₂: μ < high,   t₂ = (m − high)/se,  p₂ = P(T_ν ≤ t₂)

and ``p_TOST = max(p₁, p₂)``; equivalence is declared when ``p_TOST < α``, which is the same
as the ``1 − 2α`` confidence interval ``m ± t_{1−α,ν}·se`` lying strictly inside
``(low, high)``.

- Paired: ``m = mean(d)``, ``se = sd(d)/√n``, ``ν = n − 1`` for per-prompt differences ``d``.
- Two-sample: ``m = mean(x) − mean(y)``; pooled ``se = s_p·√(1/n_x + 1/n_y)``,
  ``ν = n_x + n_y − 2``, or Welch ``se = √(s_x²/n_x + s_y²/n_y)`` with the
  Welch–Satterthwaite ``ν``.

The margin is ±``margin_raw`` when given, otherwise ±``margin_dz·sd(d)`` (paired) or
±``margin_d·s_p`` (two-sample) with the *observed* SD, then treated as fixed bounds (the
convention of TOSTER and of statsmodels' ``ttost_paired`` / ``ttost_ind``, whose p-values these
reproduce). Both the raw bounds and the standardised margin are reported.

Zero variance (all differences identical, or both groups constant) is handled explicitly:
``se = 0`` makes each one-sided test deterministic, ``p₁ = 0`` if ``m > low`` else 1 and
``p₂ = 0`` if ``m < high`` else 1, so the result is "equivalent" iff the constant difference
lies strictly inside the raw bounds. A standardised margin is then 0 raw units wide and
equivalence can never be shown; the result says so in ``notes``. Power and the required
sample size are undefined (NaN / None) in that case.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from scipy import stats as st

from steerid.errors import DataError
from steerid.stats._checks import as_sample, check_paired, check_positive, check_probability, mean_sd
from steerid.stats._jsonable import jsonable
from steerid.stats.power import MarginScale, tost_power_ind, tost_power_paired
from steerid.stats.power import tost_sample_size_ind, tost_sample_size_paired

TARGET_POWER = 0.8


@dataclass(frozen=True)
class TostResult:
    """Result of a paired TOST (see the module docstring for the formulas).

    Attributes:
        test: Name of the test.
        n: Number of pairs (prompts).
        df: Degrees of freedom ν = n − 1.
        mean_diff: Mean of the per-prompt differences (x − y).
        sd_diff: SD of the differences (ddof = 1).
        dz: Cohen's d_z = mean_diff / sd_diff (NaN when sd_diff = 0).
        margin_source: ``"dz"`` (bounds = ±margin_dz·sd_diff) or ``"raw"`` (±margin_raw); the
            two-sample result uses ``"d"`` (bounds = ±margin_d·sd_pooled) or ``"raw"``.
        margin_dz: The margin in d_z units (for raw margins margin_raw/sd_diff; NaN if sd = 0).
        low: Lower equivalence bound in raw units.
        high: Upper equivalence bound in raw units.
        t_lower: t-statistic of H₀: μ ≤ low.
        t_upper: t-statistic of H₀: μ ≥ high.
        p_lower: One-sided p-value against the lower bound.
        p_upper: One-sided p-value against the upper bound.
        p_tost: max(p_lower, p_upper).
        ci90: The (1 − 2α) confidence interval of the mean difference (90 % at α = 0.05).
        ci_level: 1 − 2α.
        equivalent: ``p_tost < alpha``.
        alpha: Level of each one-sided test.
        power: Power of this test at true difference 0 with this n and margin (sd plugged in).
        n_required: Smallest n with ≥ 80 % power at true difference 0 (None if undefined).
        underpowered: ``n < n_required``.
        assumptions: What the test assumes.
        notes: Data-specific warnings (zero variance, low power).
    """

    test: str
    n: int
    df: float
    mean_diff: float
    sd_diff: float
    dz: float
    margin_source: str
    margin_dz: float
    low: float
    high: float
    t_lower: float
    t_upper: float
    p_lower: float
    p_upper: float
    p_tost: float
    ci90: tuple[float, float]
    ci_level: float
    equivalent: bool
    alpha: float
    power: float
    n_required: int | None
    underpowered: bool
    assumptions: tuple[str, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of all fields (NaN kept as float NaN)."""
        return jsonable(self)

    def summary(self) -> str:
        """Readable multi-line report of the test."""
        head = [
            f"n = {self.n}    df = {_fmt(self.df)}    alpha = {_fmt(self.alpha)}",
            f"mean diff = {_fmt(self.mean_diff)}    sd diff = {_fmt(self.sd_diff)}    d_z = {_fmt(self.dz)}",
            _margin_line(self.margin_source, "d_z", self.margin_dz, self.low, self.high),
        ]
        return _render(self, head, f"n for {TARGET_POWER:.0%} power: {_fmt_n(self.n_required, 'pairs')}")


@dataclass(frozen=True)
class IndependentTostResult:
    """Result of a two-sample TOST (see the module docstring for the formulas).

    Attributes mirror :class:`TostResult`; the sample is described by ``n_x``, ``n_y``, the
    difference of means ``mean_diff = mean(x) − mean(y)``, the pooled SD ``sd_pooled`` and
    Cohen's ``d``; ``margin_d`` is the margin in units of ``sd_pooled``; ``equal_var`` says
    whether the pooled-variance or Welch test was run; ``n_required`` is per group (equal
    groups).
    """

    test: str
    n_x: int
    n_y: int
    df: float
    mean_diff: float
    sd_pooled: float
    d: float
    equal_var: bool
    margin_source: str
    margin_d: float
    low: float
    high: float
    t_lower: float
    t_upper: float
    p_lower: float
    p_upper: float
    p_tost: float
    ci90: tuple[float, float]
    ci_level: float
    equivalent: bool
    alpha: float
    power: float
    n_required: int | None
    underpowered: bool
    assumptions: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def n(self) -> int:
        """Total number of observations n_x + n_y."""
        return self.n_x + self.n_y

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of all fields (NaN kept as float NaN)."""
        return jsonable(self)

    def summary(self) -> str:
        """Readable multi-line report of the test."""
        head = [
            f"n_x = {self.n_x}    n_y = {self.n_y}    df = {_fmt(self.df)}    alpha = {_fmt(self.alpha)}",
            f"mean diff = {_fmt(self.mean_diff)}    pooled sd = {_fmt(self.sd_pooled)}    d = {_fmt(self.d)}",
            _margin_line(self.margin_source, "d", self.margin_d, self.low, self.high),
        ]
        return _render(self, head, f"n for {TARGET_POWER:.0%} power: {_fmt_n(self.n_required, 'per group')}")


def _fmt(value: float) -> str:
    return "nan" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def _fmt_n(value: int | None, unit: str) -> str:
    return "undefined" if value is None else f"{value} {unit}"


def _margin_line(source: str, unit: str, margin_std: float, low: float, high: float) -> str:
    origin = f"±{_fmt(margin_std)} {unit} × observed sd" if source != "raw" else "given in raw units"
    return f"margin: [{_fmt(low)}, {_fmt(high)}] raw ({origin}; = ±{_fmt(margin_std)} {unit})"


def _render(res: TostResult | IndependentTostResult, head: list[str], n_line: str) -> str:
    title = res.test
    rule = "=" * max(64, len(title))
    verdict = "EQUIVALENT" if res.equivalent else "not shown equivalent"
    lines = [title.center(len(rule)), rule, *head, "-" * len(rule)]
    lines.append(f"{'one-sided test':<30}{'t':>12}{'p':>12}")
    lines.append(f"{'H0: diff <= ' + _fmt(res.low):<30}{_fmt(res.t_lower):>12}{_fmt(res.p_lower):>12}")
    lines.append(f"{'H0: diff >= ' + _fmt(res.high):<30}{_fmt(res.t_upper):>12}{_fmt(res.p_upper):>12}")
    lines.append(f"{'TOST p = max':<30}{'':>12}{_fmt(res.p_tost):>12}")
    lines.append("-" * len(rule))
    lines.append(f"{res.ci_level:.0%} CI of mean diff: [{_fmt(res.ci90[0])}, {_fmt(res.ci90[1])}]")
    lines.append(f"conclusion at alpha = {_fmt(res.alpha)}: {verdict}")
    lines.append(f"power at true diff 0: {_fmt(res.power)}    {n_line}")
    lines.append("assumptions:")
    lines.extend(f"  - {a}" for a in res.assumptions)
    if res.notes:
        lines.append("notes:")
        lines.extend(f"  - {note}" for note in res.notes)
    lines.append(rule)
    return "\n".join(lines)


def _one_sided(m: float, se: float, df: float, low: float, high: float) -> tuple[float, float, float, float]:
    """t and p of both one-sided tests; se = 0 is resolved deterministically (module docstring)."""
    if se > 0.0:
        t1 = (m - low) / se
        t2 = (m - high) / se
        return t1, t2, float(st.t.sf(t1, df)), float(st.t.cdf(t2, df))
    t1 = math.copysign(math.inf, m - low) if m != low else math.nan
    t2 = math.copysign(math.inf, m - high) if m != high else math.nan
    return t1, t2, 0.0 if m > low else 1.0, 0.0 if m < high else 1.0


@functools.lru_cache(maxsize=256)
def _required_paired(margin_dz: float, alpha: float, scale: MarginScale) -> int | None:
    try:
        return tost_sample_size_paired(margin_dz, TARGET_POWER, alpha, 0.0, margin_scale=scale)
    except DataError:
        return None  # unreachable power (margin too small for n ≤ 10⁷); reported as undefined


@functools.lru_cache(maxsize=256)
def _required_ind(margin_d: float, alpha: float, scale: MarginScale) -> int | None:
    try:
        return tost_sample_size_ind(margin_d, TARGET_POWER, alpha, 0.0, margin_scale=scale)
    except DataError:
        return None  # unreachable power (margin too small for n ≤ 10⁷); reported as undefined


def _margins(
    margin_std: float, margin_raw: float | None, sd: float, std_name: str, std_label: str
) -> tuple[str, float, float, float, MarginScale]:
    """(source, standardised margin, low, high, power scale) for the requested margin."""
    if margin_raw is not None:
        raw = check_positive(margin_raw, "margin_raw")
        std_margin = raw / sd if sd > 0.0 else math.nan
        return "raw", std_margin, -raw, raw, "fixed"
    c = check_positive(margin_std, std_name)
    return std_label, c, 0.0 - c * sd, c * sd, "sample_sd"


def _common_assumptions(source: str, std_name: str) -> list[str]:
    out = [
        "units (prompts) are independent of each other",
        "the mean difference is approximately normal (t distribution with the stated df)",
        "equivalent <=> p_tost < alpha <=> the (1 - 2 alpha) CI lies strictly inside (low, high)",
    ]
    if source != "raw":
        out.append(
            f"raw bounds = ±{std_name} × observed sd, then treated as fixed (TOSTER convention); "
            "power and n_required account for the bounds scaling with the observed sd"
        )
    else:
        out.append("raw bounds fixed before seeing the data; power and n_required plug in the observed sd")
    return out


def _power_notes(n: int, n_required: int | None, power: float, unit: str) -> tuple[bool, list[str]]:
    if n_required is None or math.isnan(power):
        return False, []
    if n < n_required:
        return True, [
            f"underpowered: power {power:.2f} at true difference 0; {n_required} {unit} give "
            f"{TARGET_POWER:.0%} power, so failing to show equivalence is weak evidence"
        ]
    return False, []


def paired_tost(
    x: object,
    y: object | None = None,
    *,
    margin_dz: float = 0.2,
    margin_raw: float | None = None,
    alpha: float = 0.05,
) -> TostResult:
    """Paired TOST on per-prompt differences with a d_z or raw-unit margin.

    Args:
        x: First paired sample, or the per-prompt differences when ``y`` is None.
        y: Second paired sample (same prompt order as ``x``); differences are ``x − y``.
        margin_dz: Margin ±margin_dz·sd(diff), used when ``margin_raw`` is None.
        margin_raw: Margin ±margin_raw in raw score units; overrides ``margin_dz``.
        alpha: Level of each one-sided test, in (0, 0.5).

    Returns:
        A :class:`TostResult` with both one-sided p-values, the (1 − 2α) CI, power and the
        sample size needed for 80 % power.

    Raises:
        DataError: n < 2, NaN/inf values, unequal lengths, a non-positive margin or a bad alpha.

    Example:
        >>> res = paired_tost([0.1, -0.2, 0.05, 0.0, 0.15, -0.1], margin_raw=0.5)
        >>> res.equivalent, round(res.p_tost, 4)
        (True, 0.0001)
    """
    d = as_sample(x, "x")
    if y is not None:
        other = as_sample(y, "y")
        check_paired(d, other)
        d = d - other
    alpha = check_probability(alpha, "alpha", upper=0.5)
    n = d.size
    df = float(n - 1)
    m, sd = mean_sd(d)
    se = sd / math.sqrt(n)
    source, c, low, high, scale = _margins(margin_dz, margin_raw, sd, "margin_dz", "dz")
    t1, t2, p1, p2 = _one_sided(m, se, df, low, high)
    tc = float(st.t.ppf(1.0 - alpha, df))
    ci = (m - tc * se, m + tc * se)
    p_tost = max(p1, p2)

    notes: list[str] = []
    if sd == 0.0:
        dz = math.nan
        power, n_required = math.nan, None
        notes.append(f"all {n} differences equal {m:.6g} (sd = 0): the tests are decided without sampling error")
        if source == "dz":
            notes.append("a d_z margin is 0 raw units when sd = 0, so equivalence cannot be shown; pass margin_raw")
    else:
        dz = m / sd
        power = tost_power_paired(n, c, alpha, 0.0, margin_scale=scale)
        n_required = _required_paired(c, alpha, scale)
        if n_required is None:
            notes.append("margin too small for 80 % power with n ≤ 10^7 pairs")
    underpowered, more = _power_notes(n, n_required, power, "pairs")
    notes.extend(more)
    return TostResult(
        test="Paired TOST equivalence test (two one-sided t-tests)",
        n=n,
        df=df,
        mean_diff=m,
        sd_diff=sd,
        dz=dz,
        margin_source=source,
        margin_dz=c,
        low=low,
        high=high,
        t_lower=t1,
        t_upper=t2,
        p_lower=p1,
        p_upper=p2,
        p_tost=p_tost,
        ci90=ci,
        ci_level=1.0 - 2.0 * alpha,
        equivalent=bool(p_tost < alpha),
        alpha=alpha,
        power=power,
        n_required=n_required,
        underpowered=underpowered,
        assumptions=tuple(["paired design: each difference comes from one prompt under both conditions",
                           *_common_assumptions(source, "margin_dz")]),
        notes=tuple(notes),
    )


def independent_tost(
    x: object,
    y: object,
    *,
    margin_d: float = 0.2,
    margin_raw: float | None = None,
    alpha: float = 0.05,
    equal_var: bool = False,
) -> IndependentTostResult:
    """Two-sample TOST on mean(x) − mean(y) with a Cohen's d or raw-unit margin.

    Args:
        x: First sample (≥ 2 values).
        y: Second sample (≥ 2 values).
        margin_d: Margin ±margin_d·s_p (pooled SD), used when ``margin_raw`` is None.
        margin_raw: Margin ±margin_raw in raw score units; overrides ``margin_d``.
        alpha: Level of each one-sided test, in (0, 0.5).
        equal_var: Pooled-variance t-tests when True, Welch's when False (default).

    Returns:
        An :class:`IndependentTostResult`; power and ``n_required`` (per group) use the pooled
        formulas, an approximation for Welch's test.

    Raises:
        DataError: a sample with < 2 values, NaN/inf, a non-positive margin or a bad alpha.
    """
    a = as_sample(x, "x")
    b = as_sample(y, "y")
    alpha = check_probability(alpha, "alpha", upper=0.5)
    n_x, n_y = a.size, b.size
    (m_x, s_x), (m_y, s_y) = mean_sd(a), mean_sd(b)
    v_x, v_y = s_x**2, s_y**2
    sp = math.sqrt(((n_x - 1) * v_x + (n_y - 1) * v_y) / (n_x + n_y - 2))
    m = m_x - m_y
    if equal_var:
        se = sp * math.sqrt(1.0 / n_x + 1.0 / n_y)
        df = float(n_x + n_y - 2)
    else:
        g_x, g_y = v_x / n_x, v_y / n_y
        se = math.sqrt(g_x + g_y)
        df = (g_x + g_y) ** 2 / (g_x**2 / (n_x - 1) + g_y**2 / (n_y - 1)) if se > 0.0 else float(n_x + n_y - 2)
    source, c, low, high, scale = _margins(margin_d, margin_raw, sp, "margin_d", "d")
    t1, t2, p1, p2 = _one_sided(m, se, df, low, high)
    tc = float(st.t.ppf(1.0 - alpha, df))
    ci = (m - tc * se, m + tc * se)
    p_tost = max(p1, p2)

    notes: list[str] = []
    if sp == 0.0:
        d = math.nan
        power, n_required = math.nan, None
        notes.append(f"both samples are constant (pooled sd = 0): the difference {m:.6g} is known exactly")
        if source != "raw":
            notes.append("a d margin is 0 raw units when the pooled sd is 0, so equivalence cannot be shown; "
                         "pass margin_raw")
    else:
        d = m / sp
        power = tost_power_ind(n_x, n_y, c, alpha, 0.0, margin_scale=scale)
        n_required = _required_ind(c, alpha, scale)
        if n_required is None:
            notes.append("margin too small for 80 % power with n ≤ 10^7 per group")
    underpowered, more = _power_notes(min(n_x, n_y), n_required, power, "per group")
    notes.extend(more)
    kind = "pooled-variance" if equal_var else "Welch"
    assumptions = [
        "two independent samples",
        "equal variances" if equal_var else "variances may differ (Welch–Satterthwaite df)",
        *_common_assumptions(source, "margin_d"),
    ]
    if not equal_var:
        assumptions.append("power and n_required use the pooled-variance formulas (approximate for Welch)")
    return IndependentTostResult(
        test=f"Two-sample TOST equivalence test ({kind} t-tests)",
        n_x=n_x,
        n_y=n_y,
        df=df,
        mean_diff=m,
        sd_pooled=sp,
        d=d,
        equal_var=bool(equal_var),
        margin_source=source,
        margin_d=c,
        low=low,
        high=high,
        t_lower=t1,
        t_upper=t2,
        p_lower=p1,
        p_upper=p2,
        p_tost=p_tost,
        ci90=ci,
        ci_level=1.0 - 2.0 * alpha,
        equivalent=bool(p_tost < alpha),
        alpha=alpha,
        power=power,
        n_required=n_required,
        underpowered=underpowered,
        assumptions=tuple(assumptions),
        notes=tuple(notes),
    )
