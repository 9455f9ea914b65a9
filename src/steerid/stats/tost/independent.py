r"""Two-sample TOST on ``mean(x) − mean(y)``, pooled-variance or Welch.

Pooled: ``se = s_p·√(1/n_x + 1/n_y)``, ``ν = n_x + n_y − 2``. Welch: ``se = √(s_x²/n_x + s_y²/n_y)``
with the Welch–Satterthwaite ``ν = (g_x + g_y)² / (g_x²/(n_x − 1) + g_y²/(n_y − 1))``,
``g = s²/n``. The margin ``±margin_d`` is in units of the pooled SD ``s_p``.
"""

from __future__ import annotations

import math

from steerid.stats._summary import mean_sd
from steerid.stats.power import tost_power_ind, tost_sample_size_ind
from steerid.stats.tost.onesided import _common_assumptions, _decision, _margins, _power_notes, _required_n
from steerid.stats.tost.result import IndependentTostResult
from steerid.validation import as_sample, check_probability


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
    decision = _decision(m, se, df, low, high, alpha)

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
        n_required = _required_n(tost_sample_size_ind, c, alpha, scale)
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
        **decision,
        power=power,
        n_required=n_required,
        underpowered=underpowered,
        assumptions=tuple(assumptions),
        notes=tuple(notes),
    )
