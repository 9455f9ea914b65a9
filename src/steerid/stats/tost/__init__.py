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

Layout: :mod:`~steerid.stats.tost.onesided` (the two one-sided tests, margins, power notes),
:mod:`~steerid.stats.tost.paired`, :mod:`~steerid.stats.tost.independent` and
:mod:`~steerid.stats.tost.result` (result objects and their summaries).
"""

from steerid.stats.tost.independent import independent_tost
from steerid.stats.tost.onesided import TARGET_POWER
from steerid.stats.tost.paired import paired_tost
from steerid.stats.tost.result import IndependentTostResult, TostResult

__all__ = ["TARGET_POWER", "IndependentTostResult", "TostResult", "independent_tost", "paired_tost"]
