r"""Equivalence of two effects *relative to the reference effect*: a paired ratio TOST.

The d_z margin of :func:`~steerid.stats.paired_tost` is in units of the spread of the
differences, so whatever the effect sizes it needs n ≳ (t_{1−α}/δ)² units (97 at δ = 0.3). The
question a steering audit asks is usually relative — *does v+v⊥ move the measure as much as v
does, within ±ε of v's own effect?* With per-unit shifts a_i (test, e.g. v+v⊥ vs none) and
b_i (reference, v vs none), and s = sign(mean b),

    H₀: μ_a ≤ (1 − ε)·μ_b   or   μ_a ≥ (1 + ε)·μ_b      (in the direction s of the effect)
    H₁: (1 − ε)·|μ_b| < s·μ_a < (1 + ε)·|μ_b|.

Each one-sided hypothesis is linear in the paired means, so it is an exact paired t-test on a
per-unit combination (Fieller's construction; the reference effect's uncertainty is included,
nothing is plugged in):

    lower:  u_i = s·(a_i − (1 − ε)·b_i),   H₀₁: E u ≤ 0  vs  E u > 0
    upper:  w_i = s·((1 + ε)·b_i − a_i),   H₀₂: E w ≤ 0  vs  E w > 0

p = max(p₁, p₂); equivalence at level α when p < α. The ratio μ_a/μ_b then lies in
[1 − ε, 1 + ε] with the usual TOST guarantee. The mirrored one-sided tests (H₁: ratio > 1 + ε,
H₁: ratio < 1 − ε) give ``p_outside``: below α, the ratio is shown to lie *outside* the margin. Only meaningful when the reference effect is real
(test that first: no equivalence claim for a vector that does not steer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import stats as sps

from steerid.errors import DataError
from steerid.results import ResultMixin
from steerid.validation import as_sample, check_paired, check_probability


@dataclass(frozen=True, repr=False)
class RatioTostResult(ResultMixin):
    """Paired ratio TOST of test vs reference effects at relative margin ±``margin``."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("equivalent", "ratio", "p_tost", "margin", "n")
    _title: ClassVar[str] = "Paired ratio TOST (test effect / reference effect)"

    margin: float
    ratio: float
    p_lower: float
    p_upper: float
    p_tost: float
    p_outside: float
    equivalent: bool
    outside: bool
    alpha: float
    n: int
    direction: int



def ratio_tost_paired(test: object, reference: object, *, margin: float = 0.2, alpha: float = 0.05) -> RatioTostResult:
    """Paired ratio TOST (module docstring): is mean(test)/mean(reference) within 1 ± margin?

    Args:
        test: per-unit effect of the condition under test (e.g. shift of v+v⊥ vs none).
        reference: per-unit effect of the reference (e.g. shift of v vs none), same units.
        margin: ε in (0, 1).
        alpha: level of each one-sided test.

    Raises:
        DataError: fewer than 2 pairs, NaN/inf, unequal lengths, margin outside (0, 1), or a
            reference with mean exactly 0 (no direction to compare against).
    """
    a = as_sample(test, "test")
    b = as_sample(reference, "reference")
    check_paired(a, b)
    check_probability(alpha, "alpha", upper=0.5)
    if not 0 < margin < 1:
        raise DataError(f"relative margin must be in (0, 1), got {margin}", "use e.g. 0.2 for ±20 % of the reference effect")
    mean_b = float(b.mean())
    if mean_b == 0.0:
        raise DataError("the reference effect has mean 0", "a ratio needs a reference that moves the measure")
    s = 1 if mean_b > 0 else -1
    lower = s * (a - (1 - margin) * b)
    upper = s * ((1 + margin) * b - a)
    p1, p2 = _one_sided_greater(lower), _one_sided_greater(upper)
    p = max(p1, p2)
    above = _one_sided_greater(s * (a - (1 + margin) * b))
    below = _one_sided_greater(s * ((1 - margin) * b - a))
    p_out = min(1.0, 2 * min(above, below))  # Bonferroni over the two directions
    return RatioTostResult(margin=float(margin), ratio=float(a.mean() / mean_b), p_lower=p1, p_upper=p2, p_tost=p,
                           p_outside=p_out, equivalent=bool(p < alpha), outside=bool(p_out < alpha), alpha=float(alpha),
                           n=int(a.size), direction=s)


def _one_sided_greater(values: np.ndarray) -> float:
    """p of H₀: E x ≤ 0 vs H₁: E x > 0 by a one-sample t-test (degenerate samples decided exactly)."""
    if np.allclose(values, values[0]):
        return 0.0 if values[0] > 0 else 1.0
    return float(sps.ttest_1samp(values, 0.0, alternative="greater").pvalue)
