"""Shared parts of the farthest-equivalent-vector search (:mod:`steerid.experiments.farthest`): the
result dataclass, the measure type and its checked, counted calls, item and direction helpers."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from steerid.errors import DataError, VectorError
from steerid.results import ResultMixin, Summary, Table, fields_dict, jsonable

Measure = Callable[[np.ndarray, np.ndarray], Mapping[str, np.ndarray]]
"""``measure(deltas (K, d), items (n,)) -> {name: (K, n) scores}``, primary first."""


def perp_unit(w: np.ndarray, vhat: np.ndarray) -> np.ndarray | None:
    """(w − (w·v̂)v̂) / ‖·‖, or None when w is (numerically) parallel to v̂."""
    r = w - (w @ vhat) * vhat
    norm = float(np.linalg.norm(r))
    return None if norm <= 1e-8 * max(float(np.linalg.norm(w)), 1e-300) else r / norm


def perp_basis(basis: np.ndarray, vhat: np.ndarray) -> np.ndarray:
    """Orthonormal basis of P⊥v span(B) (columns); rank-deficient directions are dropped."""
    b = np.asarray(basis, dtype=np.float64)
    if b.ndim != 2 or b.shape[0] != vhat.size or not np.isfinite(b).all():
        raise VectorError(f"basis must be a finite ({vhat.size}, k) array, got shape {b.shape}", "pass column vectors")
    b = b - np.outer(vhat, vhat @ b)
    u, s, _ = np.linalg.svd(b, full_matrices=False)
    keep = s > 1e-8 * max(float(s.max(initial=0.0)), 1e-300)
    if not keep.any():
        raise VectorError("the basis lies inside span(v)", "pass directions not parallel to v")
    return u[:, keep]


class MeasureCounter:
    """Calls the measure, checks its output and counts calls / displacements / rows."""

    def __init__(self, measure: Measure) -> None:
        self.measure = measure
        self.names: list[str] | None = None
        self.calls = self.displacements = self.rows = 0

    def __call__(self, deltas: np.ndarray, items: np.ndarray) -> dict[str, np.ndarray]:
        deltas = np.atleast_2d(np.asarray(deltas, dtype=np.float64))
        out = self.measure(deltas, items)
        if not isinstance(out, Mapping) or not out:
            raise DataError("the measure returned no scores", "return {name: (K, n_items) array}, primary first")
        names = list(out)
        if self.names is None:
            self.names = names
        elif names != self.names:
            raise DataError(f"the measure changed its names from {self.names} to {names}",
                            "return the same measures every call")
        arrays = {}
        for name in names:
            a = np.asarray(out[name], dtype=np.float64)
            if a.shape != (deltas.shape[0], items.size) or not np.isfinite(a).all():
                raise DataError(f"measure '{name}' gave shape {a.shape} (or non-finite values), expected "
                                f"finite {(deltas.shape[0], items.size)}", "return one score per displacement and item")
            arrays[name] = a
        self.calls += 1
        self.displacements += deltas.shape[0]
        self.rows += deltas.shape[0] * items.size
        return arrays


def check_items(items: Any, what: str) -> np.ndarray:
    a = np.asarray(items)
    if a.ndim != 1 or a.size < 3 or not np.issubdtype(a.dtype, np.integer):
        raise DataError(f"{what} must be a 1-D integer index array of ≥ 3 items, got shape {a.shape} ({a.dtype})",
                        "split the items into search and confirm sets of at least 3 each")
    if np.unique(a).size != a.size:
        raise DataError(f"{what} has duplicate items", "index every item once")
    return a.astype(np.int64)


@dataclass(repr=False)
class FarthestResult(ResultMixin):
    """Outcome of the farthest-equivalent-vector search.

    Attributes:
        verdict: ``found`` (u confirmed equivalent to v on every measure, held-out items) or
            ``none found``.
        cosine / norm_ratio / theta_deg: cos∠(u, v), ‖u‖/‖v‖ and θ of the reported u — the
            largest confirmed rung when found, else the best search candidate (cosine 1 when no
            candidate passed any θ > 0 on the search items).
        primary / measures: the primary measure's name and all names (primary first).
        confirm: per measure, the held-out paired TOST of m(u) − m(v) with ``p_adjusted`` (Holm
            across measures unless ``settings['correction']`` is none): at the largest confirmed
            rung when found, at the (failing) first rung otherwise; empty when nothing was tested.
        ladder: the fixed-sequence confirm rungs (θ ascending; tested in order, stopping at the
            first failure): theta_deg, cosine, norm_ratio, passed, failed.
        failed: measures that failed (at the first failing rung, or in the search when no
            candidate passed any θ > 0).
        search_tests: the search-item TOSTs of the best candidate at its largest passing θ.
        best_candidate / candidates: the chosen direction and every searched one (kind, largest
            passing θ, the measures that failed just above it).
        failure_counts: measure → candidates that failed on it just above their largest passing θ.
        v_shift: primary shift of v (and on confirm of u) vs no steering: mean, sd, d_z.
        budget: measure calls used / their bound, displacements, item rows, candidates searched.
        search_items / confirm_items: the disjoint item indices.
        v_norm: ‖v‖.
        u: the reported u (units of v; for the model route the activation-space displacement).
        settings: the search settings; config / extras: filled by the model-backed ``run``.
        notes: caveats (budget stops, weak v, refinement steps).
        seconds: wall time of ``run`` (NaN for the bare search).
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("verdict", "cosine", "theta_deg", "norm_ratio")

    verdict: str
    cosine: float
    norm_ratio: float
    theta_deg: float
    primary: str
    measures: list[str]
    confirm: dict[str, dict]
    ladder: list[dict[str, Any]]
    failed: list[str]
    search_tests: dict[str, dict]
    best_candidate: dict[str, Any]
    candidates: list[dict[str, Any]]
    failure_counts: dict[str, int]
    v_shift: dict[str, dict]
    budget: dict[str, Any]
    search_items: list[int]
    confirm_items: list[int]
    v_norm: float
    u: list[float]
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    config: dict[str, Any] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    seconds: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"experiment": "farthest", **fields_dict(self)})

    def summary(self) -> Summary:
        """Verdict line (cosine, θ, norm ratio, confirm evidence, failures, budget) and the ladder."""
        b = self.budget
        head = (f"{self.verdict}: u with cos {self.cosine:.3f} to v (θ = {self.theta_deg:.1f}°, "
                f"‖u‖/‖v‖ = {self.norm_ratio:.2f}, {self.best_candidate.get('kind', '?')} candidate)")
        if self.confirm:
            worst = max(t["p_adjusted"] for t in self.confirm.values())
            passed = sum(r["passed"] for r in self.ladder)
            head += (f"; confirm on {len(self.confirm_items)} held-out items: {passed}/{len(self.ladder)} rungs, "
                     f"max adjusted p = {worst:.3g} over {', '.join(self.measures)}")
        if self.failed:
            head += f"; failed on {', '.join(self.failed)}"
        head += f"; budget {b['calls']}/{b['calls_bound']} measure calls, {b['rows']} item rows"
        ladder = Table(("θ (deg)", "cosine", "‖u‖/‖v‖", "passed", "failed"), tuple(
            (r.get("theta_deg"), r.get("cosine"), r.get("norm_ratio"), r.get("passed"), ", ".join(r.get("failed") or []))
            for r in self.ladder), title="confirm ladder")
        return Summary("Farthest equivalent vector", rows=[
            ("primary measure", self.primary), ("measures", ", ".join(self.measures)), ("‖v‖", self.v_norm),
            ("search items", len(self.search_items)), ("confirm items", len(self.confirm_items)),
        ], tables=[ladder] if self.ladder else [], verdict=head, sections={"notes": self.notes})
