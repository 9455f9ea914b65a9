"""Result objects of the paired and two-sample TOST, with their printed summaries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from steerid.results import ResultMixin, Summary, Table, fmt
from steerid.stats.tost.onesided import TARGET_POWER


@dataclass(frozen=True, repr=False)
class TostResult(ResultMixin):
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

    _repr_fields: ClassVar[tuple[str, ...]] = ("equivalent", "p_tost", "mean_diff", "low", "high", "n")

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

    def summary(self) -> Summary:
        """Readable report of the test: sample, margin, both one-sided tests, CI, power."""
        rows = [("n", self.n), ("df", self.df), ("alpha", self.alpha), ("mean diff", self.mean_diff),
                ("sd diff", self.sd_diff), ("d_z", self.dz),
                *_margin_rows(self.margin_source, "d_z", self.margin_dz, self.low, self.high)]
        return _render(self, rows, _fmt_n(self.n_required, "pairs"))


@dataclass(frozen=True, repr=False)
class IndependentTostResult(ResultMixin):
    """Result of a two-sample TOST (see the module docstring for the formulas).

    Attributes mirror :class:`TostResult`; the sample is described by ``n_x``, ``n_y``, the
    difference of means ``mean_diff = mean(x) − mean(y)``, the pooled SD ``sd_pooled`` and
    Cohen's ``d``; ``margin_d`` is the margin in units of ``sd_pooled``; ``equal_var`` says
    whether the pooled-variance or Welch test was run; ``n_required`` is per group (equal
    groups).
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("equivalent", "p_tost", "mean_diff", "low", "high", "n_x", "n_y")

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

    def summary(self) -> Summary:
        """Readable report of the test: samples, margin, both one-sided tests, CI, power."""
        rows = [("n_x", self.n_x), ("n_y", self.n_y), ("df", self.df), ("alpha", self.alpha),
                ("mean diff", self.mean_diff), ("pooled sd", self.sd_pooled), ("d", self.d),
                *_margin_rows(self.margin_source, "d", self.margin_d, self.low, self.high)]
        return _render(self, rows, _fmt_n(self.n_required, "per group"))


def _fmt_n(value: int | None, unit: str) -> str:
    return "undefined" if value is None else f"{value} {unit}"


def _margin_rows(source: str, unit: str, margin_std: float, low: float, high: float) -> list[tuple[str, Any]]:
    origin = f"±{fmt(margin_std)} {unit} × observed sd" if source != "raw" else "given in raw units"
    return [("margin (raw)", (low, high)), ("margin origin", origin), (f"margin in {unit}", margin_std)]


def _render(res: TostResult | IndependentTostResult, rows: list[tuple[str, Any]], n_required: str) -> Summary:
    verdict = "EQUIVALENT" if res.equivalent else "not shown equivalent"
    tests = Table(("one-sided test", "t", "p"), (
        (f"H0: diff <= {fmt(res.low)}", res.t_lower, res.p_lower),
        (f"H0: diff >= {fmt(res.high)}", res.t_upper, res.p_upper),
        ("TOST p = max", "", res.p_tost),
    ))
    rows = [*rows, (f"{res.ci_level:.0%} CI of mean diff", res.ci90), ("power at true diff 0", res.power),
            (f"n for {TARGET_POWER:.0%} power", n_required)]
    return Summary(res.test, rows=rows, tables=[tests], verdict=f"conclusion at alpha = {fmt(res.alpha)}: {verdict}",
                   sections={"assumptions": res.assumptions, "notes": res.notes})
