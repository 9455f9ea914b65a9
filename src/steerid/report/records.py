r"""Typed read-only views of the ``results.json`` records the report's first screen needs.

The report is built from parsed JSON only. These views read each field once, in one place, with
the fallback an older run needs (``schema_version`` 1 has no per-draw relative test, no
error-controlled decision and no claims), so the rest of the report does not chain ``.get`` calls.

**Per-draw interval on the relative scale.** A draw's relative TOST (paired Fieller) estimates
r = μ_T/μ_S, the shift of s·v + v⊥ over the shift of s·v (both against no steering). The report
plots r − 1 = (shift(v + v⊥) − shift(v)) / shift(v) against ±ε, with the Fieller interval at the
confidence ``ci_level`` the draw's decision was taken at (an interval with a missing bound is
unbounded: v's own shift is not resolved well enough for a ratio).

**d_z margin.** Where the plan decides on the d_z margin (``margin_kind`` "dz"), the draw's ``dz_tost``
interval of D = T − S at the decision's level is shown in units of sd(D) (= its bound ÷ δ) against ±δ.

**Fallback (older runs).** Without ``relative_tost`` the draw's d_z TOST is used: the interval of
the mean difference D = T − S divided by sd(D), against ±δ, at its own ``ci_level`` (90 %), and the
decision is the unadjusted one (or the within-unit Holm one where the run stored it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

Decision = Literal["equivalent", "not equivalent", "undecided", "no claim"]
Scale = Literal["relative", "dz"]

_RHO = re.compile(r"ρ=([^,\]]+)")


def number(x: Any) -> float | None:
    """``x`` as a float when it is a finite number (not a bool), else ``None``."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def mapping(x: Any) -> dict[str, Any]:
    """``x`` when it is a dict, else an empty dict (a JSON ``null`` or an absent record)."""
    return x if isinstance(x, dict) else {}


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval; ``None`` where absent or not finite."""

    estimate: float | None
    low: float | None
    high: float | None
    level: float | None = None

    @classmethod
    def of(cls, record: Any, est: str = "estimate", low: str = "low", high: str = "high",
           level: str = "confidence") -> Interval:
        """From ``{estimate, low, high, confidence}`` (or ``ci_low``/``ci_high`` where ``low``/``high`` are absent)."""
        r = mapping(record)
        lo = r.get(low) if low in r else r.get("ci_low")
        hi = r.get(high) if high in r else r.get("ci_high")
        return cls(number(r.get(est)), number(lo), number(hi), number(r.get(level)))

    @property
    def bounded(self) -> bool:
        return self.low is not None and self.high is not None

    @property
    def coherent(self) -> bool:
        """A two-sided interval that contains its estimate (an unstable ratio's bootstrap may not), up to
        rounding: a Wilson interval of a proportion 0 has a lower end of ≈ 1e-18, not 0."""
        if not (self.bounded and self.estimate is not None):
            return False
        slack = 1e-9 * max(1.0, abs(self.low), abs(self.high))  # type: ignore[arg-type]
        return self.low - slack <= self.estimate <= self.high + slack  # type: ignore[operator]

    def shifted(self, by: float) -> Interval:
        def s(x: float | None) -> float | None:
            return None if x is None else x + by
        return Interval(s(self.estimate), s(self.low), s(self.high), self.level)

    def scaled(self, by: float) -> Interval:
        def s(x: float | None) -> float | None:
            return None if x is None else x / by
        return Interval(s(self.estimate), s(self.low), s(self.high), self.level)


@dataclass(frozen=True)
class DrawView:
    """One v⊥ draw of a family: its decision and the interval that decision rests on.

    ``interval`` is r − 1 on the relative scale, or the d_z interval for older runs (``scale``).
    ``error_controlled`` says whether ``decision`` is the family-wise controlled one.
    """

    draw: int | None
    condition: str
    decision: Decision
    interval: Interval
    margin: float | None
    scale: Scale
    error_controlled: bool
    p_adjusted: float | None
    holm_equivalent: bool | None = None

    @property
    def controlled_decision(self) -> Decision:
        """The decision with family-wise error control where the run has one (an older run's within-unit
        Holm: an unadjusted pass that does not survive it counts as undecided)."""
        if self.decision == "equivalent" and self.holm_equivalent is False:
            return "undecided"
        return self.decision

    @classmethod
    def of(cls, record: dict[str, Any], steers: bool) -> DrawView:
        rel = mapping(record.get("relative_tost"))
        draw = record.get("draw")
        condition = str(record.get("condition", ""))
        dz = mapping(record.get("dz_tost"))
        if dz and record.get("margin_kind") == "dz" and isinstance(record.get("decision"), str):
            # decided on the d_z margin: its interval (raw units, at the decision's level) ÷ sd = high / δ
            margin, high = number(dz.get("margin_dz")), number(dz.get("high"))
            sd = high / margin if margin and high else None
            level = number(record.get("ci_level"))
            iv = Interval(number(dz.get("mean")), number(dz.get("ci_low")), number(dz.get("ci_high")),
                          level if level is not None else number(dz.get("ci_level")))
            return cls(draw if isinstance(draw, int) else None, condition,
                       record["decision"] if steers else "no claim",
                       iv.scaled(sd) if sd else Interval(None, None, None, iv.level), margin, "dz", True,
                       number(record.get("p_adjusted")))
        if rel and isinstance(record.get("decision"), str):
            level = number(record.get("ci_level"))
            level = level if level is not None else number(rel.get("ci_level"))
            iv = Interval(number(rel.get("estimate")), number(rel.get("ci_low")), number(rel.get("ci_high")), level)
            decision: Decision = record["decision"] if steers else "no claim"
            return cls(draw if isinstance(draw, int) else None, condition, decision, iv.shifted(-1.0),
                       number(rel.get("margin")), "relative", True, number(record.get("p_adjusted")))
        tost = mapping(record.get("tost"))
        sd = number(tost.get("sd_diff"))
        ci = tost.get("ci90") if isinstance(tost.get("ci90"), list) else [None, None]
        mean = number(tost.get("mean_diff"))
        raw = Interval(mean, number(ci[0]), number(ci[1]), number(tost.get("ci_level")) or 0.9)
        iv = raw.scaled(sd) if sd else Interval(None, None, None, raw.level)
        decision = _legacy_decision(record, tost) if steers else "no claim"
        holm = record.get("equivalent_holm") if isinstance(record.get("equivalent_holm"), bool) else None
        return cls(draw if isinstance(draw, int) else None, condition, decision, iv, number(tost.get("margin_dz")),
                   "dz", False, number(tost.get("p_tost_holm")), holm)


def _legacy_decision(record: dict[str, Any], tost: dict[str, Any]) -> Decision:
    """An older run's per-draw decision: the sequential one, else the d_z TOST and its interval."""
    seq = mapping(record.get("sequential"))
    if seq:
        if seq.get("decision") == "equivalent":
            return "equivalent"
        return "not equivalent" if seq.get("shown_different") else "undecided"
    if tost.get("equivalent"):
        return "equivalent"
    ci = tost.get("ci90")
    lo_m, hi_m = number(tost.get("low")), number(tost.get("high"))
    if not isinstance(ci, list) or len(ci) != 2 or None in (number(ci[0]), number(ci[1]), lo_m, hi_m):
        return "undecided"
    lo, hi = float(ci[0]), float(ci[1])
    if lo > hi_m or hi < lo_m:  # type: ignore[operator]
        return "not equivalent"
    return "undecided"


@dataclass(frozen=True)
class ClaimCount:
    """The error-controlled decision counts of one family and the error statement behind them."""

    family_size: int | None
    correction: str | None
    level: float | None
    n_equivalent: int
    n_not_equivalent: int
    n_undecided: int


@dataclass(frozen=True)
class FamilyView:
    """One (sign, ρ) family of v⊥ draws of an E1-style unit."""

    sign: int
    rho: float | None
    steers: bool
    draws: tuple[DrawView, ...]
    claim: ClaimCount
    share: Interval
    sampler: str | None
    anti_steerable: Interval | None

    @property
    def sign_label(self) -> str:
        return "+v" if self.sign > 0 else "−v"

    @classmethod
    def of(cls, record: dict[str, Any]) -> FamilyView:
        steers = bool(record.get("steers"))
        draws = tuple(DrawView.of(d, steers) for d in record.get("draws") or [] if isinstance(d, dict))
        sign = record.get("sign")
        rho = number(record.get("rho"))
        if not isinstance(sign, int) or rho is None:  # older records: read them off a draw's condition name
            name = draws[0].condition if draws else ""
            sign = sign if isinstance(sign, int) else (-1 if name.startswith("-") else 1)
            match = _RHO.search(name)
            rho = rho if rho is not None or not match else number(_float(match.group(1)))
        claim = mapping(record.get("claim"))
        if claim:
            count = ClaimCount(_int(claim.get("family_size")), _str(claim.get("correction")), number(claim.get("level")),
                               _int(claim.get("n_equivalent")) or 0, _int(claim.get("n_not_equivalent")) or 0,
                               _int(claim.get("n_undecided")) or 0)
        else:
            decisions = [d.controlled_decision for d in draws]
            holm = any(d.holm_equivalent is not None for d in draws)
            count = ClaimCount(None, "holm over the unit's draws" if holm else None,
                               None, decisions.count("equivalent"), decisions.count("not equivalent"),
                               decisions.count("undecided"))
        st = mapping(record.get("steerability"))
        anti_record = mapping(mapping(st.get("v")).get("fraction_anti")) or mapping(st.get("anti_steerable"))
        anti = Interval.of(anti_record) if anti_record else None
        return cls(sign, rho, steers, draws, count,
                   Interval.of(mapping(record.get("fraction_equivalent")).get("share")),
                   _str(record.get("sampler")), anti if anti and anti.estimate is not None else None)


@dataclass(frozen=True)
class AnswerView:
    """One answer of ``results.json`` (trait × route × strength × environment) and its unit's families."""

    trait: str
    route: str
    alpha_rel: float | None
    environment: str | None
    kind: str
    text: str
    families: tuple[FamilyView, ...]
    evidence: dict[str, Any] | None
    share: Interval
    radius: float | None
    farthest_cosine: float | None
    power: float | None
    error_controlled: bool
    error_text: str | None = None

    @property
    def counts(self) -> tuple[int, int, int]:
        fams = [f for f in self.families if f.steers]
        return (sum(f.claim.n_equivalent for f in fams), sum(f.claim.n_not_equivalent for f in fams),
                sum(f.claim.n_undecided for f in fams))

    @property
    def family_size(self) -> int | None:
        sizes = {f.claim.family_size for f in self.families if f.steers and f.claim.family_size}
        return max(sizes) if sizes else None

    @property
    def correction(self) -> str | None:
        return next((f.claim.correction for f in self.families if f.claim.correction), None)

    @property
    def level(self) -> float | None:
        return next((f.claim.level for f in self.families if f.claim.level is not None), None)

    @classmethod
    def of(cls, answer: dict[str, Any], unit: dict[str, Any] | None) -> AnswerView:
        result = mapping(mapping(unit).get("result"))
        families = tuple(FamilyView.of(f) for f in result.get("families") or [] if isinstance(f, dict))
        controlled = any(d.error_controlled for f in families for d in f.draws)
        share = Interval(number(answer.get("share")), *_pair(answer.get("share_ci")))
        if share.estimate is None:  # older answers: the family share where a single family steers
            steering = [f.share for f in families if f.steers and f.share.estimate is not None]
            share = steering[0] if len(steering) == 1 else share
        radius = number(answer.get("radius"))
        if radius is None:
            radius = number(mapping(result.get("equivalence_radius")).get("radius"))
        farthest = number(answer.get("farthest_cosine"))
        if farthest is None:
            far = mapping(result.get("farthest_equivalent"))
            farthest = number(far.get("cosine")) if far.get("verdict") == "found" else None
        power = number(answer.get("power"))
        if power is None:
            powers = [number(mapping(f).get("power")) for f in answer.get("families") or [] if isinstance(f, dict)]
            finite = [p for p in powers if p is not None]
            power = min(finite) if finite else None
        evidence = answer.get("evidence") if isinstance(answer.get("evidence"), dict) else None
        return cls(str(answer.get("trait", "")), str(answer.get("route", "")), number(answer.get("alpha_rel")),
                   _str(answer.get("environment")), str(answer.get("kind", "undecided")), str(answer.get("text", "")),
                   families, evidence, share, radius, farthest, power, controlled, _str(answer.get("error_statement")))


def _pair(x: Any) -> tuple[float | None, float | None]:
    return (number(x[0]), number(x[1])) if isinstance(x, (list, tuple)) and len(x) == 2 else (None, None)


def _int(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def _str(x: Any) -> str | None:
    return x if isinstance(x, str) and x else None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def answer_views(results: dict[str, Any]) -> list[AnswerView]:
    """Every answer of ``results.json`` with its unit's families (matched by ``unit_id``, else by cell)."""
    units = [u for u in results.get("units") or [] if isinstance(u, dict) and u.get("status", "ok") == "ok"]
    by_id = {u.get("unit_id"): u for u in units if u.get("unit_id")}
    routes = {"likelihood": "likelihood", "e1": "generation"}
    out = []
    for a in results.get("answers") or []:
        if not isinstance(a, dict):
            continue
        unit = by_id.get(a.get("unit_id"))
        if unit is None:
            unit = next((u for u in units if routes.get(str(u.get("experiment"))) == a.get("route")
                         and u.get("trait") == a.get("trait") and u.get("alpha_rel") == a.get("alpha_rel")
                         and (a.get("route") == "likelihood" or u.get("environment") == a.get("environment"))), None)
        out.append(AnswerView.of(a, unit))
    return out
