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

Layout: :mod:`~steerid.stats.sequential.boundaries` (spending and boundaries),
:mod:`~steerid.stats.sequential.plan` (looks and plan), :mod:`~steerid.stats.sequential.decision`
(the rule of one look), :mod:`~steerid.stats.sequential.result` (result objects),
:mod:`~steerid.stats.sequential.monitor` (running the test) and
:mod:`~steerid.stats.sequential.operating` (simulated operating characteristics).
"""

from steerid.stats.sequential.monitor import SequentialTost, sequential_paired_tost
from steerid.stats.sequential.operating import SequentialOperatingCharacteristics, average_sample_number
from steerid.stats.sequential.plan import SequentialPlan, planned_looks, sequential_plan
from steerid.stats.sequential.result import SequentialLook, SequentialTostResult

__all__ = [
    "SequentialLook",
    "SequentialOperatingCharacteristics",
    "SequentialPlan",
    "SequentialTost",
    "SequentialTostResult",
    "average_sample_number",
    "planned_looks",
    "sequential_paired_tost",
    "sequential_plan",
]
