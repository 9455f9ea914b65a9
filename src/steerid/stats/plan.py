r"""The equivalence plan: one description of how every equivalence test of an audit is decided.

Every experiment that compares v + v⊥ with v (E1 by generation, the likelihood route, E2/E3,
E5, E7, the farthest-vector search) reads its margin, test level, correction and sequential
design from one :class:`EquivalencePlan`, so a verdict means the same thing everywhere.

**Margin.** For a draw j with per-prompt scores, let S_i = score_i(s·v) − score_i(none) be v's
own shift (sign s) and T_i = score_i(s·v + v⊥_j) − score_i(none) the draw's. Two margins:

* ``relative`` (the default, the one a practitioner reads): the draw is equivalent when its mean
  shift lies within (1 ± ε) of v's, μ_T / μ_S ∈ (1 − ε, 1 + ε). For μ_S of sign s this is the pair
  of one-sided paired t-tests on the per-prompt linear combinations (Fieller's construction)

      H₀⁻: E[s·(T − (1 − ε)S)] ≤ 0        H₀⁺: E[s·(T − (1 + ε)S)] ≥ 0,

  which needs no ratio of means and no delta method; it is only meaningful when v steers
  (μ_S ≠ 0 shown first), which every experiment checks before it tests equivalence.
* ``dz``: |E[T − S]| < δ·sd(T − S), Cohen's d_z margin. Kept as a second statement: on the
  likelihood route the paired differences are nearly noise-free, so the same δ allows a tiny share
  of v's effect for one trait and a large share for another.

**Level and correction.** ``level`` is the test level of one claim (never called ``alpha``: that
is the steering strength). A claim such as "v is not identifiable here" is an *existence* claim
chosen from K tries (every draw of the unit, both signs, every ρ and sampler, the farthest-vector
candidates); the plan controls the family-wise error over those K tries:

* ``bonferroni``: each try is tested at level / K. With a group-sequential design the level is
  split *before* it is spent over the looks (each try's own α-spending function at level / K), so
  the family-wise error stays ≤ level across tries and looks.
* ``holm``: step-down over the K fixed-sample p-values, p̃₍ᵢ₎ = min(1, maxⱼ≤ᵢ (K − j + 1)·p₍ⱼ₎).
  Holm needs fixed-sample p-values; with ``sequential`` on, ``holm`` is applied as Bonferroni
  (:attr:`EquivalencePlan.effective_correction` says which one ran).
* ``none``: every try at ``level`` (for reproducing an uncorrected analysis; the claim then carries
  a family-wise error of up to 1 − (1 − level)^K).

**Sequential design.** With ``sequential`` on, each try's TOST is monitored at looks
``first_look``, 2·``first_look``, … up to the power plan's n, with Lan–DeMets ``spending``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np

from steerid.errors import ConfigError
from steerid.stats.multiple import holm

MarginKind = Literal["relative", "dz"]
Correction = Literal["bonferroni", "holm", "none"]
SpendingName = Literal["obrien-fleming", "pocock"]


@dataclass(frozen=True)
class EquivalencePlan:
    """How the equivalence tests of an audit are decided (see the module docstring for the math).

    Attributes:
        margin: which margin decides a draw's verdict, ``"relative"`` (share of v's own shift) or ``"dz"``.
        margin_rel: ε of the relative margin: v + v⊥'s shift within (1 ± ε) of v's.
        margin_dz: δ of the d_z margin, |mean difference| < δ·sd (the second statement).
        level: test level of one claim (family-wise over the tries the claim chose from).
        correction: ``"bonferroni"``, ``"holm"`` or ``"none"``, over the tries of an existence claim.
        sequential: group-sequential per-try TOSTs (stop collecting prompts once every try is decided).
        first_look: prompts (or items) at the first look of the sequential design.
        spending: Lan–DeMets spending function of the sequential design.

    Example:
        >>> plan = EquivalencePlan(sequential=False)
        >>> plan.try_level(16)
        0.003125
    """

    margin: MarginKind = "relative"
    margin_rel: float = 0.2
    margin_dz: float = 0.2
    level: float = 0.05
    correction: Correction = "bonferroni"
    sequential: bool = True
    first_look: int = 48
    spending: SpendingName = "obrien-fleming"

    def __post_init__(self) -> None:
        if self.margin not in ("relative", "dz"):
            raise ConfigError(f"equivalence margin {self.margin!r} is not known", "use 'relative' or 'dz'")
        if not 0 < self.margin_rel < 1:
            raise ConfigError(f"equivalence margin_rel must be in (0, 1), got {self.margin_rel}",
                              "give a share of v's own effect, e.g. 0.2 for ±20 %")
        if not 0 < self.margin_dz <= 2:
            raise ConfigError(f"equivalence margin_dz must be in (0, 2], got {self.margin_dz}", "e.g. 0.2 or 0.4")
        if not 0 < self.level < 0.5:
            raise ConfigError(f"equivalence level must be in (0, 0.5), got {self.level}", "e.g. 0.05")
        if self.correction not in ("bonferroni", "holm", "none"):
            raise ConfigError(f"equivalence correction {self.correction!r} is not known",
                              "use 'bonferroni', 'holm' or 'none'")
        if self.first_look < 3:
            raise ConfigError(f"equivalence first_look must be ≥ 3, got {self.first_look}", "e.g. 48")

    @property
    def effective_correction(self) -> Correction:
        """The correction actually applied: Holm becomes Bonferroni under a sequential design."""
        return "bonferroni" if self.correction == "holm" and self.sequential else self.correction

    def try_level(self, family_size: int) -> float:
        """Level at which each of ``family_size`` tries is tested (Bonferroni split, or ``level``).

        Under Holm this is the level of the first (smallest-p) step; use :meth:`adjust` for the rest.
        """
        if family_size < 1:
            raise ValueError("family_size must be ≥ 1")
        return self.level if self.effective_correction == "none" else self.level / family_size

    def adjust(self, pvalues: Any) -> np.ndarray:
        """Family-wise adjusted p-values of the tries of one claim (NaN kept, excluded from K).

        ``bonferroni``: min(1, K·p); ``holm``: step-down (see module docstring); ``none``: p.
        A try supports the claim when its adjusted p < ``level``.
        """
        p = np.asarray(pvalues, dtype=float).reshape(-1)
        out = p.copy()
        finite = np.isfinite(p)
        k = int(finite.sum())
        if k == 0 or self.effective_correction == "none":
            return out
        if self.effective_correction == "bonferroni":
            out[finite] = np.minimum(1.0, k * p[finite])
            return out
        out[finite] = holm(p[finite], alpha=self.level).p_adjusted
        return out

    def describe(self) -> str:
        """One sentence for the report's "how to read this" section."""
        margin = (f"v + v⊥'s shift lies within ±{self.margin_rel:.0%} of v's own (paired Fieller TOST), d_z "
                  f"±{self.margin_dz:g} as a second statement" if self.margin == "relative" else
                  f"|difference| < {self.margin_dz:g}·sd (d_z), ±{self.margin_rel:.0%} of v's shift as a second statement")
        corr = {"bonferroni": "Bonferroni over every try the claim chose from",
                "holm": "Holm over every try the claim chose from", "none": "no correction over tries"}
        seq = (f"; group-sequential, looks from {self.first_look}, {self.spending} spending, the level split "
               "over the tries before it is spent over the looks" if self.sequential else "")
        return (f"A draw is equivalent when {margin}. Existence claims are tested at family-wise level "
                f"{self.level:g} ({corr[self.effective_correction]}){seq}.")

    def with_(self, **changes: Any) -> EquivalencePlan:
        """A copy with ``changes`` applied (validated)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields plus the correction actually applied."""
        return {**asdict(self), "effective_correction": self.effective_correction}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EquivalencePlan:
        """Inverse of :meth:`to_dict` (extra keys such as ``effective_correction`` ignored)."""
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})
