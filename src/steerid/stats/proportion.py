r"""Wilson score interval for a binomial proportion (e.g. the fraction of v⊥ draws passing TOST).

With p̂ = k/n and z = Φ⁻¹(1 − a/2), a = 1 − confidence:

    centre = (p̂ + z²/(2n)) / (1 + z²/n),
    half   = z·√(p̂(1 − p̂)/n + z²/(4n²)) / (1 + z²/n),
    CI     = [centre − half, centre + half].

Unlike the Wald interval it stays inside [0, 1] and keeps non-zero width at k = 0 and k = n,
which matters for the few (≥ 8) draws per ρ used here. Values come from statsmodels'
``proportion_confint(method="wilson")``.
"""

from __future__ import annotations

from steerid.errors import DataError
from steerid.stats.interval import Interval
from steerid.validation import check_count, check_probability


def wilson_ci(k: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval of a proportion k/n.

    Args:
        k: Number of successes, 0 ≤ k ≤ n.
        n: Number of trials, ≥ 1.
        confidence: Two-sided confidence level.

    Returns:
        An :class:`Interval` with ``estimate = k/n`` and ``method = "wilson"``.

    Raises:
        DataError: non-integer counts, n < 1 or k outside [0, n].

    Example:
        >>> iv = wilson_ci(6, 8)
        >>> round(iv.low, 4), round(iv.high, 4)
        (0.4093, 0.9285)
    """
    k = check_count(k, "k", minimum=0)
    n = check_count(n, "n", minimum=1)
    if k > n:
        raise DataError(f"k = {k} successes exceed n = {n} trials", "count successes among the n trials")
    confidence = check_probability(confidence, "confidence")
    from statsmodels.stats.proportion import proportion_confint  # deferred: ~1 s import

    low, high = proportion_confint(k, n, alpha=1.0 - confidence, method="wilson")
    note = "few trials: the interval is wide" if n < 10 else ""
    return Interval(k / n, float(low), float(high), confidence, "wilson", n, note)
