r"""Paired TOST on per-prompt differences ``d = x − y``.

``m = mean(d)``, ``se = sd(d)/√n``, ``ν = n − 1``; equivalence iff ``max(p₁, p₂) < α`` iff the
``1 − 2α`` CI ``m ± t_{1−α,ν}·se`` lies strictly inside ``(low, high)``
(:mod:`steerid.stats.tost.onesided`).
"""

from __future__ import annotations

import math

from steerid.stats._summary import mean_sd
from steerid.stats.power import tost_power_paired, tost_sample_size_paired
from steerid.stats.tost.onesided import _common_assumptions, _decision, _margins, _power_notes, _required_n
from steerid.stats.tost.result import TostResult
from steerid.validation import as_sample, check_paired, check_probability


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
    decision = _decision(m, se, df, low, high, alpha)

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
        n_required = _required_n(tost_sample_size_paired, c, alpha, scale)
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
        **decision,
        power=power,
        n_required=n_required,
        underpowered=underpowered,
        assumptions=tuple(["paired design: each difference comes from one prompt under both conditions",
                           *_common_assumptions(source, "margin_dz")]),
        notes=tuple(notes),
    )
