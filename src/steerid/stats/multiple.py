r"""Family-wise (Holm) and false-discovery-rate (Benjamini–Hochberg) p-value adjustment.

For m finite p-values sorted ascending, p₍₁₎ ≤ … ≤ p₍ₘ₎:

- Holm (step-down, controls the family-wise error rate):
  p̃₍ᵢ₎ = min(1, max_{j ≤ i} (m − j + 1)·p₍ⱼ₎).
- Benjamini–Hochberg (step-up, controls the false discovery rate under independence or
  positive dependence): p̃₍ᵢ₎ = min(1, min_{j ≥ i} m·p₍ⱼ₎ / j).

A hypothesis is rejected when p̃ ≤ α (the convention of statsmodels' ``multipletests``, whose
adjusted values the tests reproduce). The adjustment is computed here in NumPy rather than by
calling ``multipletests``, which runs a full garbage collection on every Holm call (≈ 0.2 s in
a process holding a model). NaN p-values (tests that could not be run) are left NaN, never rejected, and
*excluded from the family*: m counts only the finite p-values. Report ``n_tests`` with the
result so that a reader sees how large the corrected family was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from steerid.errors import DataError
from steerid.results import ResultMixin, Summary, Table
from steerid.validation import check_probability


@dataclass(frozen=True, eq=False, repr=False)
class MultipleTestResult(ResultMixin):
    """Adjusted p-values of one family of tests.

    Attributes:
        p_raw: The p-values as given (float64, NaN kept).
        p_adjusted: Adjusted p-values (NaN where the raw one is NaN).
        reject: ``p_adjusted ≤ alpha`` (False where NaN).
        method: ``"holm"`` or ``"fdr_bh"``.
        alpha: Family-wise error rate (Holm) or false discovery rate (BH).
        n_tests: Size of the family, the number of non-NaN p-values.
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("method", "alpha", "n_tests")

    p_raw: np.ndarray
    p_adjusted: np.ndarray
    reject: np.ndarray
    method: str
    alpha: float
    n_tests: int

    def summary(self) -> Summary:
        """Raw and adjusted p-value of every test, and whether it is rejected."""
        rows = tuple((i, p, q, bool(r)) for i, (p, q, r) in enumerate(zip(self.p_raw, self.p_adjusted, self.reject)))
        return Summary(f"Multiple-testing correction ({self.method})",
                       rows=[("alpha", self.alpha), ("tests", self.n_tests), ("rejected", int(self.reject.sum()))],
                       tables=[Table(("test", "p raw", "p adjusted", "reject"), rows)])


def _as_pvalues(pvalues: object) -> np.ndarray:
    try:
        p = np.asarray(pvalues, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"p-values are not numeric ({exc})", "pass a 1-D array of p-values") from exc
    if p.ndim != 1:
        raise DataError(f"p-values must be 1-D, got shape {p.shape}", "flatten the family of p-values")
    finite = p[~np.isnan(p)]
    if np.any(np.isinf(finite)) or np.any((finite < 0.0) | (finite > 1.0)):
        raise DataError("p-values outside [0, 1]", "pass probabilities (NaN marks a test that was not run)")
    return p


def _holm_sorted(p_sorted: np.ndarray) -> np.ndarray:
    m = p_sorted.size
    return np.maximum.accumulate(p_sorted * np.arange(m, 0, -1))


def _bh_sorted(p_sorted: np.ndarray) -> np.ndarray:
    m = p_sorted.size
    scaled = p_sorted * m / np.arange(1, m + 1)
    return np.minimum.accumulate(scaled[::-1])[::-1]


def _adjust(pvalues: object, alpha: float, method: str) -> MultipleTestResult:
    p = _as_pvalues(pvalues)
    alpha = check_probability(alpha, "alpha")
    ok = ~np.isnan(p)
    adjusted = np.full(p.shape, np.nan)
    finite = p[ok]
    if finite.size:
        order = np.argsort(finite, kind="stable")
        step = _holm_sorted if method == "holm" else _bh_sorted
        family = np.empty_like(finite)
        family[order] = np.minimum(step(finite[order]), 1.0)
        adjusted[ok] = family
    reject = np.zeros(p.shape, dtype=bool)
    reject[ok] = adjusted[ok] <= alpha
    return MultipleTestResult(p.copy(), adjusted, reject, method, alpha, int(ok.sum()))


def holm(pvalues: object, alpha: float = 0.05) -> MultipleTestResult:
    """Holm–Bonferroni step-down adjustment (controls the family-wise error rate).

    Args:
        pvalues: 1-D p-values; NaN entries stay NaN and are excluded from the family.
        alpha: Family-wise error rate.

    Example:
        >>> holm([0.01, 0.04, 0.03]).p_adjusted.tolist()
        [0.03, 0.06, 0.06]
    """
    return _adjust(pvalues, alpha, "holm")


def benjamini_hochberg(pvalues: object, alpha: float = 0.05) -> MultipleTestResult:
    """Benjamini–Hochberg step-up adjustment (controls the false discovery rate).

    Args:
        pvalues: 1-D p-values; NaN entries stay NaN and are excluded from the family.
        alpha: False discovery rate.

    Example:
        >>> [round(float(p), 6) for p in benjamini_hochberg([0.01, 0.04, 0.03]).p_adjusted]
        [0.03, 0.04, 0.04]
    """
    return _adjust(pvalues, alpha, "fdr_bh")
