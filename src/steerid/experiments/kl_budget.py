r"""Steering strength by a KL budget: ``kl:BUDGET`` wherever a strength α is given.

"Which α?" has no answer in units of the residual stream, but it has one in units of the
model's output: pick α so that steering moves the next-token distributions by a fixed amount.
For a unit direction v̂ at a site, sign s and relative strength α (displacement s·α·m·v̂, m the
median token norm at the site), let

    KL(α) = (1/N) Σ_i Σ_{j ∈ T_i} KL( p_{s·α}(· | x_i, y_<j) ‖ p_0(· | x_i, y_<j) )   (nats),

the mean over every position j of every prompt i's continuation T_i, where y⁽ⁱ⁾ is the
*unsteered* greedy continuation of the prompt (``max_new_tokens`` tokens, teacher-forced under
both models; N = the number of such positions), p_{s·α} the steered and p_0 the unsteered
next-token distribution; steering covers prompt and continuation (scope ``all``), as in the
experiments. The prompts are the trait's evaluation prompts.

:func:`alpha_for_kl` finds, per sign, the α with KL(α) within the budget B by bracketing and
bisection: starting at α = ``start`` it halves or doubles until KL(α_lo) ≤ B < KL(α_hi), then
bisects [α_lo, α_hi] until B − KL(α_lo) ≤ ``rtol``·B or ``max_iter`` evaluations. The α returned
is the largest evaluated one whose KL is within the budget (α_lo), with its measured KL. KL(α)
is continuous with KL(0) = 0 and, in practice, increasing; where it is not monotone the
bisection still returns an α whose KL lies in [(1 − rtol)·B, B], not necessarily the smallest such.
If KL stays below B up to ``max_alpha`` the record says ``reached: false`` and gives that α.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from steerid.errors import DataError
from steerid.results import ResultMixin, Summary

KL_PREFIX = "kl:"
DEFAULT_TOKENS = 16
"""Length of the unsteered greedy continuations the KL is measured on."""
DEFAULT_PROMPTS = 16
"""Evaluation prompts the KL is averaged over."""


@dataclass(frozen=True)
class KLBudget:
    """A strength given as a KL budget (nats per position), e.g. ``kl:1.0``."""

    budget: float

    def __str__(self) -> str:
        return f"{KL_PREFIX}{self.budget:g}"


def is_kl_spec(value: object) -> bool:
    """Whether a strength is written as a KL budget (``"kl:B"``)."""
    return isinstance(value, str) and value.strip().lower().startswith(KL_PREFIX)


def parse_kl(value: str) -> KLBudget:
    """``"kl:1.0"`` → ``KLBudget(1.0)``.

    Raises:
        DataError: not of the form ``kl:B`` with a finite B > 0.
    """
    text = value.strip().lower()
    try:
        budget = float(text[len(KL_PREFIX):]) if text.startswith(KL_PREFIX) else float("nan")
    except ValueError:
        budget = float("nan")
    if not math.isfinite(budget) or budget <= 0:
        raise DataError(f"cannot read the strength '{value}' as a KL budget",
                        "write kl:B with B > 0 nats, e.g. kl:1.0, or give a number")
    return KLBudget(budget)


def parse_strength(value: str | float) -> float | KLBudget:
    """A number (α) or a :class:`KLBudget` from a ``--alpha`` value.

    Raises:
        DataError: neither a finite number ≥ 0 nor ``kl:B``.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif is_kl_spec(value):
        return parse_kl(str(value))
    else:
        try:
            number = float(str(value))
        except ValueError:
            raise DataError(f"cannot read the strength '{value}'", "give a number (e.g. 0.1) or a KL budget "
                            "(e.g. kl:1.0)") from None
    if not math.isfinite(number):
        raise DataError(f"--alpha must be a finite number, got {value}", "e.g. --alpha 0.1 or --alpha kl:1.0")
    if number < 0:
        raise DataError(f"--alpha must be ≥ 0, got {value} (the sign is chosen by the condition, "
                        "+v or −v)", "e.g. --alpha 0.1 or --alpha kl:1.0")
    return number


@dataclass(repr=False)
class KLAlpha(ResultMixin):
    """The α found for one sign and budget (see the module docstring).

    Attributes:
        budget: B (nats per position).
        sign: +1 or −1.
        alpha_rel: α relative to the median token norm (the displacement is sign·alpha_rel·token_norm·v̂).
        kl: measured mean KL(p_steered ‖ p_unsteered) at ``alpha_rel``.
        displacement_norm: alpha_rel · token_norm.
        token_norm: m.
        reached: whether some α ≤ ``max_alpha`` has KL ≥ (1 − rtol)·B.
        n_prompts / n_positions / max_new_tokens: what the KL averages over.
        history: every (α, KL) evaluated, in order.
    """

    budget: float
    sign: int
    alpha_rel: float
    kl: float
    displacement_norm: float
    token_norm: float
    reached: bool
    n_prompts: int
    n_positions: int
    max_new_tokens: int
    history: list[tuple[float, float]] = field(default_factory=list)

    def summary(self) -> Summary:
        return Summary(f"α for KL budget {self.budget:g} (sign {self.sign:+d})", rows=[
            ("α_rel", self.alpha_rel), ("KL (nats/position)", self.kl), ("‖Δ‖", self.displacement_norm),
            ("budget reached", self.reached), ("prompts", self.n_prompts), ("positions", self.n_positions),
            ("evaluations", len(self.history))])

    def provenance(self) -> dict[str, Any]:
        """What a run records: the budget, the α found, its KL and how it was measured."""
        return {"strength": str(KLBudget(self.budget)), "budget": self.budget, "sign": self.sign,
                "alpha_rel": self.alpha_rel, "kl": self.kl, "reached": self.reached, "n_prompts": self.n_prompts,
                "n_positions": self.n_positions, "max_new_tokens": self.max_new_tokens,
                "measure": "mean KL(p_steered ‖ p_unsteered) over the positions of unsteered greedy continuations "
                           "of the evaluation prompts, teacher-forced"}


class KLMeter:
    """KL(α) for one site, direction and prompt set; the continuations are generated once."""

    def __init__(self, lm: Any, site: Any, direction: np.ndarray, prompts: Sequence[str], *, token_norm: float,
                 max_new_tokens: int = DEFAULT_TOKENS, batch_size: int = 64) -> None:
        from steerid.engine.generation import generate

        if not prompts:
            raise DataError("no prompts to measure the KL budget on", "give the trait's evaluation prompts")
        unit = np.asarray(direction, dtype=np.float64)
        self.direction = unit / np.linalg.norm(unit)
        self.lm, self.site, self.token_norm, self.batch_size = lm, site, float(token_norm), batch_size
        self.max_new_tokens = max_new_tokens
        gen = generate(lm, list(prompts), max_new_tokens=max_new_tokens, greedy=True, batch_size=batch_size)
        used = [i for i, toks in enumerate(gen.tokens) if toks]
        if not used:
            raise DataError("no prompt has an unsteered continuation to measure the KL on",
                            "use other prompts or a longer continuation")
        self.prompts = [prompts[i] for i in used]
        self.continuations = [list(gen.tokens[i]) for i in used]
        self.n_positions = int(sum(len(c) for c in self.continuations))

    def __call__(self, alpha_rel: float, sign: int = 1) -> float:
        """Mean KL(p_{sign·α} ‖ p_0) over every continuation position (nats)."""
        from steerid.experiments.logit_distance import divergences

        if alpha_rel == 0:
            return 0.0
        delta = sign * alpha_rel * self.token_norm * self.direction
        div = divergences(self.lm, self.site, self.prompts, self.continuations, delta,
                          {"none": np.zeros_like(delta)}, batch_size=self.batch_size)["none"]
        weights = np.array([len(c) for c in self.continuations], dtype=np.float64)
        return float(np.sum(div.kl * weights) / weights.sum())  # per-prompt means → mean over positions


def alpha_for_kl(meter: KLMeter, budget: float, sign: int = 1, *, start: float = 0.1, rtol: float = 0.05,
                 max_iter: int = 24, max_alpha: float = 64.0) -> KLAlpha:
    """The largest evaluated α_rel with KL(α) ≤ ``budget`` after bracketing and bisection (module doc).

    Raises:
        DataError: budget not > 0.
    """
    if not budget > 0 or not math.isfinite(budget):
        raise DataError(f"KL budget must be a finite number > 0, got {budget}", "e.g. kl:1.0")
    history: list[tuple[float, float]] = []

    def kl(alpha: float) -> float:
        value = meter(alpha, sign)
        history.append((float(alpha), value))
        return value

    lo, lo_kl, hi = 0.0, 0.0, None
    alpha = start
    while len(history) < max_iter:  # bracket: KL(lo) ≤ B < KL(hi)
        value = kl(alpha)
        if value <= budget:
            lo, lo_kl = alpha, value
            if (budget - value) <= rtol * budget:
                break
            if alpha >= max_alpha:
                break
            if hi is not None:
                break
            alpha = min(2 * alpha, max_alpha)
        else:
            hi = alpha
            if lo > 0:
                break
            alpha = alpha / 2
    while hi is not None and (budget - lo_kl) > rtol * budget and len(history) < max_iter:
        mid = 0.5 * (lo + hi)
        value = kl(mid)
        if value <= budget:
            lo, lo_kl = mid, value
        else:
            hi = mid
    reached = (budget - lo_kl) <= rtol * budget or hi is not None
    return KLAlpha(budget=float(budget), sign=int(sign), alpha_rel=float(lo), kl=float(lo_kl),
                   displacement_norm=float(lo * meter.token_norm), token_norm=meter.token_norm, reached=bool(reached),
                   n_prompts=len(meter.prompts), n_positions=meter.n_positions, max_new_tokens=meter.max_new_tokens,
                   history=history)


def alphas_for_kl(lm: Any, site: Any, direction: np.ndarray, prompts: Sequence[str], budget: float, *,
                  token_norm: float, signs: Sequence[int] = (1, -1), max_new_tokens: int = DEFAULT_TOKENS,
                  batch_size: int = 64, rtol: float = 0.05, max_iter: int = 24) -> dict[int, KLAlpha]:
    """:func:`alpha_for_kl` for each sign, on one set of unsteered continuations."""
    meter = KLMeter(lm, site, direction, prompts, token_norm=token_norm, max_new_tokens=max_new_tokens,
                    batch_size=batch_size)
    return {int(s): alpha_for_kl(meter, budget, int(s), rtol=rtol, max_iter=max_iter) for s in signs}
