r"""Model-free core of the farthest-equivalent-vector search (see :mod:`steerid.experiments.farthest`).

A *measure* maps displacements to per-item scores,
``measure(deltas (K, d), items (n,)) -> {name: (K, n)}``; its first name is the primary
(target-trait) measure, the others secondary. For v ∈ ℝᵈ, v̂ = v/‖v‖ and a unit w ⟂ v,

    u(θ, c) = c ‖v‖ (cos θ · v̂ + sin θ · w),   θ ∈ (0, θ_max], c ∈ [c_min, c_max],

so cos∠(u, v) = cos θ and ‖u‖/‖v‖ = c. With P the primary scores over the items I,

    f_θ(c) = mean_{i∈I} [P_i(u(θ, c)) − P_i(0)] − mean_{i∈I} [P_i(v) − P_i(0)]

(u's primary shift vs no steering minus v's). c*(θ) solves f_θ(c) = 0: f is evaluated on a
geometric grid of ``n_c`` values of c, the sign change nearest (in log c) to 1/cos θ — where a
primary that only reads ⟨u, v̂⟩ has its root, the branch through c(0) = 1 — is interpolated
linearly and refined by ``c_steps`` regula-falsi steps; without a sign change c* is the grid
value of smallest |f| (the primary TOST then decides). u(θ) = u(θ, c*(θ)) *passes* at θ when,
for every measure m, the paired TOST of D_i = m_i(u) − m_i(v) at ±margin_dz·sd(D) rejects
non-equivalence after Holm across the measures (Holm is conservative here: "equivalent on every
measure" is an intersection–union claim, valid at level α without correction). θ = 0 (u = v)
passes trivially and is never tested (D ≡ 0 has sd 0, where a d_z margin is empty). For a
deterministic measure D_i ≈ θ‖v‖⟨∇m_i, w − θ v̂/2⟩ as θ → 0, so d_z(D) tends to a constant: a
d_z margin judges how *consistent* the change is across items, not how large; ``margin_raw``
{name: ε} bounds its size instead (±ε in score units) for the named measures.

Per candidate w: a grid θ_j = j·θ_max/n_theta (j = 1 … n_theta, all θ in each call), then
``n_bisect`` bisection steps between the largest passing grid θ (or 0) and the next grid θ.
Refinement (``n_refine`` steps) perturbs the best w, w' ∝ P⊥v(w + η ξ) with ξ a fresh candidate
direction, and keeps w' when u(θ_best + Δθ) passes. The best u (largest passing θ, i.e. smallest
cosine) is then *confirmed* with fresh TOSTs on held-out items (disjoint from the search items,
which alone choose u), Holm across measures. The confirm is a fixed-sequence ladder along the best
w: rungs θ_r = f_r·θ_best (``confirm_fractions`` f_r, ascending, then f = 1; their c* from the
search items) are tested in order and testing stops at the first rung that fails, which keeps the
family-wise error ≤ α without further correction and protects against the winner's curse of the
search (the largest passing θ sits on the search's own pass/fail boundary). Verdict "found"
(the largest confirmed rung is reported) when the first rung is equivalent on every measure, else
"none found" (the best candidate and the measures that failed are reported). Measure calls are
bounded before the search starts (M candidates):

    calls ≤ 1 + M (2 + c_steps)(1 + n_bisect) + n_refine (2 + c_steps) + (2 + c_steps) + 1

(baseline {0, v}; per candidate and θ stage a c-grid call, a c* call and c_steps refinements;
the ladder's c*; the confirm call); ``max_calls`` stops early at a candidate boundary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from steerid.errors import DataError, VectorError
from steerid.experiments.farthest_common import FarthestResult, Measure, MeasureCounter, check_items, perp_basis, perp_unit
from steerid.stats import holm, paired_tost, tost_power_paired
from steerid.validation import check_vector

BUDGET = "1 + M(2 + c_steps)(1 + n_bisect) + n_refine(2 + c_steps) + (2 + c_steps) + 1"


def _tests(diffs: Mapping[str, np.ndarray], margin_dz: float, level: float, correction: str = "holm",
           raw: Mapping[str, float] | None = None) -> tuple[bool, dict[str, dict], list[str]]:
    """Paired TOST per measure on D = m(u) − m(v), Holm across measures (``correction="none"``: each at α,
    the intersection–union test). Returns (all equivalent, tests, failed measures, worst raw p first)."""
    raw = raw or {}
    tests = {name: paired_tost(d, margin_dz=margin_dz, margin_raw=raw.get(name), alpha=level).to_dict()
             for name, d in diffs.items()}
    raw = [t["p_tost"] for t in tests.values()]
    adjusted = holm(raw, alpha=level).p_adjusted if correction == "holm" else np.asarray(raw)
    for t, p in zip(tests.values(), adjusted, strict=True):
        t["p_adjusted"] = float(p)
        t["equivalent_adjusted"] = bool(p < level)  # NaN (no test possible) is never equivalent
    failed = [n for n, t in tests.items() if not t["equivalent_adjusted"]]
    failed.sort(key=lambda n: -np.nan_to_num(tests[n]["p_tost"], nan=1.0))
    return not failed, tests, failed


@dataclass
class _Stage:
    theta: float
    c: float
    mismatch: float
    scores: dict[str, np.ndarray]
    ok: bool
    tests: dict[str, dict]
    failed: list[str]


@dataclass
class _Search:
    """Search settings and the baseline; evaluates u(θ) for one direction at many θ."""

    ev: MeasureCounter
    v: np.ndarray
    items: np.ndarray
    c_grid: np.ndarray
    c_steps: int
    margin_dz: float
    level: float
    match_tol: float
    correction: str = "holm"
    margin_raw: Mapping[str, float] | None = None
    base0: dict[str, np.ndarray] = field(default_factory=dict)
    base_v: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.norm = float(np.linalg.norm(self.v))
        self.vhat = self.v / self.norm
        out = self.ev(np.stack([np.zeros_like(self.v), self.v]), self.items)
        self.base0 = {k: a[0] for k, a in out.items()}
        self.base_v = {k: a[1] for k, a in out.items()}
        self.primary = next(iter(out))
        unknown = sorted(set(self.margin_raw or {}) - set(out))
        if unknown:
            raise DataError(f"margin_raw names unknown measures {unknown}", f"use names from {list(out)}")
        self.target = float(np.mean(self.base_v[self.primary] - self.base0[self.primary]))

    def u(self, w: np.ndarray, theta: float, c: float) -> np.ndarray:
        return c * self.norm * (math.cos(theta) * self.vhat + math.sin(theta) * w)

    def _f(self, primary_rows: np.ndarray) -> np.ndarray:
        return (primary_rows - self.base0[self.primary]).mean(axis=1) - self.target

    def stages(self, w: np.ndarray, thetas: Sequence[float]) -> list[_Stage]:
        """c*(θ) and the TOSTs of u(θ, c*) vs v for every θ (2 + c_steps measure calls)."""
        g = self.c_grid
        grid = self.ev(np.stack([self.u(w, t, c) for t in thetas for c in g]), self.items)
        f = self._f(grid[self.primary]).reshape(len(thetas), g.size)
        c_star, brackets = [], []
        for t, row in zip(thetas, f, strict=True):
            sign_change = np.nonzero((row[:-1] == 0) | (np.sign(row[:-1]) != np.sign(row[1:])))[0]
            if sign_change.size:  # the bracket nearest (log scale) to c = 1/cos θ, the branch through c(0) = 1
                guess = math.log(1 / math.cos(t)) if math.cos(t) > 0 else math.log(g[-1])
                j = int(sign_change[np.argmin(np.abs(np.log(np.sqrt(g[sign_change] * g[sign_change + 1])) - guess))])
                c_star.append(_interp(g[j], row[j], g[j + 1], row[j + 1]))
                brackets.append([g[j], row[j], g[j + 1], row[j + 1]])
            else:
                c_star.append(float(g[np.argmin(np.abs(row))]))
                brackets.append(None)
        scores = self.ev(np.stack([self.u(w, t, c) for t, c in zip(thetas, c_star, strict=True)]), self.items)
        best = [{k: a[i] for k, a in scores.items()} for i in range(len(thetas))]
        mism = list(self._f(scores[self.primary]))
        tol = self.match_tol * max(abs(self.target), 1e-12)
        for _ in range(self.c_steps):
            todo = [i for i, b in enumerate(brackets) if b is not None and abs(mism[i]) > tol]
            if not todo:
                break
            trial = []
            for i in todo:
                lo_c, lo_f, hi_c, hi_f = brackets[i]
                if np.sign(mism[i]) == np.sign(lo_f):
                    lo_c, lo_f = c_star[i], mism[i]
                else:
                    hi_c, hi_f = c_star[i], mism[i]
                brackets[i] = [lo_c, lo_f, hi_c, hi_f]
                trial.append(_interp(lo_c, lo_f, hi_c, hi_f))
            out = self.ev(np.stack([self.u(w, thetas[i], c) for i, c in zip(todo, trial, strict=True)]), self.items)
            new_f = self._f(out[self.primary])
            for j, i in enumerate(todo):
                if abs(new_f[j]) < abs(mism[i]):
                    c_star[i], mism[i] = trial[j], float(new_f[j])
                    best[i] = {k: a[j] for k, a in out.items()}
        result = []
        for i, t in enumerate(thetas):
            ok, tests, failed = _tests({k: best[i][k] - self.base_v[k] for k in best[i]}, self.margin_dz, self.level,
                                      self.correction, self.margin_raw)
            if brackets[i] is None:  # no c in [c_min, c_max] matches v's primary shift
                ok, failed = False, [self.primary, *[f for f in failed if f != self.primary]]
            result.append(_Stage(float(t), float(c_star[i]), float(mism[i]), best[i], ok, tests, failed))
        return result


def _shift(treated: np.ndarray, control: np.ndarray) -> dict[str, float]:
    d = treated - control
    sd = float(d.std(ddof=1))
    return {"mean": float(d.mean()), "sd": sd, "dz": float(d.mean() / sd) if sd > 0 else math.nan}


def _interp(c0: float, f0: float, c1: float, f1: float) -> float:
    return float(c0) if f0 == f1 else float(c0 - f0 * (c1 - c0) / (f1 - f0))


def _theta_search(s: _Search, w: np.ndarray, theta_max: float, n_theta: int,
                  n_bisect: int) -> tuple[_Stage | None, list[str]]:
    """Largest passing θ for direction w: the grid, then bisection above it. Returns (stage, failed at the
    smallest failing θ above it)."""
    grid = s.stages(w, [theta_max * j / n_theta for j in range(1, n_theta + 1)])
    passing = [i for i, st in enumerate(grid) if st.ok]
    best = grid[passing[-1]] if passing else None
    fail = next((st for st in grid[(passing[-1] + 1 if passing else 0):] if not st.ok), None)
    lo, hi = (best.theta if best else 0.0), (fail.theta if fail else None)
    for _ in range(n_bisect if hi is not None else 0):
        (st,) = s.stages(w, [0.5 * (lo + hi)])
        if st.ok:
            best, lo = st, st.theta
        else:
            fail, hi = st, st.theta
    return best, (fail.failed if fail else [])


def search_farthest(measure: Measure, v: np.ndarray, candidates: np.ndarray, *, items_search: Any, items_confirm: Any,
                    margin_dz: float = 0.2, level: float = 0.05, search_margin_dz: float | None = None,
                    margin_raw: Mapping[str, float] | None = None,
                    candidate_kinds: Sequence[str] | None = None, theta_max_deg: float = 90.0, n_theta: int = 6,
                    n_bisect: int = 3, c_min: float = 0.25, c_max: float = 4.0, n_c: int = 7, c_steps: int = 1,
                    match_tol: float = 0.01, n_refine: int = 0, refine_eta: float = 0.5,
                    refine_basis: np.ndarray | None = None, correction: str = "holm",
                    confirm_fractions: Sequence[float] = (0.5, 0.75), max_calls: int | None = None,
                    seed: int = 0) -> FarthestResult:
    """Farthest u with primary shift matched to v's and equivalent to v on every measure (module docstring).

    Args:
        measure: ``(deltas (K, d), items) -> {name: (K, n)}``, primary first.
        v: the steering displacement (d,).
        candidates: (M, d) directions; projected ⟂ v and normalised here.
        items_search / items_confirm: disjoint item indices (≥ 3 each) passed to ``measure``.
        margin_dz / level: confirm TOST margin (d_z units) and level; ``search_margin_dz`` (default
            margin_dz) is the search margin — a smaller one leaves room for the selection bias.
        margin_raw: {measure: ε > 0}: raw-unit margins ±ε for those measures (both stages).
        theta_max_deg / n_theta / n_bisect: θ range, grid size and bisection steps.
        c_min / c_max / n_c / c_steps / match_tol: the norm-ratio range, its grid, regula-falsi steps
            and the tolerance |f| ≤ match_tol·|v's shift| at which they stop.
        n_refine / refine_eta / refine_basis: random-search steps around the best w; proposals from
            span(refine_basis) ⟂ v (default: all of v^⊥).
        correction: ``holm`` across measures (default) or ``none`` — each TOST at α, the
            intersection–union test, which is already valid at level α for "equivalent on every measure".
        confirm_fractions: lower confirm rungs as fractions of the best θ (the best θ itself is the last).
        max_calls: stop before a candidate whose worst case would exceed this many calls.
        seed: seeds the refinement proposals.
    """
    vv = check_vector(v, "v")
    d = vv.size
    cand = np.asarray(candidates, dtype=np.float64)
    if cand.ndim != 2 or cand.shape[1] != d or not np.isfinite(cand).all():
        raise VectorError(f"candidates must be a finite (M, {d}) array, got shape {cand.shape}",
                          "pass one d-vector per row")
    search, confirm = check_items(items_search, "items_search"), check_items(items_confirm, "items_confirm")
    if np.intersect1d(search, confirm).size:
        raise DataError("search and confirm items overlap", "use disjoint item sets (the confirm test must be held out)")
    if not margin_dz > 0 or not 0 < level < 0.5 or (search_margin_dz is not None and not search_margin_dz > 0):
        raise DataError(f"need margin_dz > 0 and 0 < level < 0.5, got {margin_dz}, {level}", "use e.g. 0.2 and 0.05")
    if not (0 < theta_max_deg <= 180 and n_theta >= 1 and n_bisect >= 0 and 0 < c_min < c_max and n_c >= 2
            and c_steps >= 0 and n_refine >= 0):
        raise DataError("bad search settings (need 0 < θ_max ≤ 180°, n_theta ≥ 1, 0 < c_min < c_max, n_c ≥ 2)",
                        "use the defaults")
    if margin_raw is not None and not all(np.isfinite(e) and e > 0 for e in margin_raw.values()):
        raise DataError(f"margin_raw values must be finite and > 0, got {dict(margin_raw)}", "pass e.g. {'loglik': 0.05}")
    if correction not in ("holm", "none"):
        raise DataError(f"unknown correction '{correction}'", "use holm or none (intersection–union test)")
    kinds = list(candidate_kinds) if candidate_kinds is not None else ["given"] * cand.shape[0]
    if len(kinds) != cand.shape[0]:
        raise DataError(f"{len(kinds)} candidate kinds for {cand.shape[0]} candidates", "give one kind per candidate")
    vhat = vv / np.linalg.norm(vv)
    dirs = [(i, w) for i, w in enumerate(perp_unit(c, vhat) for c in cand) if w is not None]
    if not dirs:
        raise VectorError("every candidate is parallel to v (nothing ⟂ v to rotate into)",
                          "pass directions not parallel to v")
    theta_max = math.radians(theta_max_deg)
    per_stage = 2 + c_steps
    bound = 1 + len(dirs) * per_stage * (1 + n_bisect) + n_refine * per_stage + per_stage + 1
    ev = MeasureCounter(measure)
    s = _Search(ev, vv, search, np.geomspace(c_min, c_max, n_c), c_steps, search_margin_dz or margin_dz, level,
                match_tol, correction, dict(margin_raw or {}))
    notes: list[str] = []
    rows, failure_counts, best, refined = [], {}, None, False  # best: (stage, w, index)
    for i, w in dirs:
        if max_calls is not None and ev.calls + per_stage * (2 + n_bisect) + 1 > max_calls:
            notes.append(f"max_calls = {max_calls} reached after {len(rows)} of {len(dirs)} candidates")
            break
        st, failed = _theta_search(s, w, theta_max, n_theta, n_bisect)
        theta = st.theta if st else 0.0
        rows.append({"index": i, "kind": kinds[i], "theta_deg": math.degrees(theta), "cosine": math.cos(theta),
                     "norm_ratio": st.c if st else 1.0, "failed_above": failed})
        for name in failed:
            failure_counts[name] = failure_counts.get(name, 0) + 1
        if st is not None and (best is None or st.theta > best[0].theta):
            best = (st, w, i)
    rng = np.random.default_rng(seed)
    q = perp_basis(refine_basis, vhat) if refine_basis is not None else None
    step = theta_max / n_theta / 2
    for _ in range(n_refine if best is not None else 0):
        st0, w0, i0 = best
        if st0.theta >= theta_max or (max_calls is not None and ev.calls + 2 * per_stage + 1 > max_calls):
            break
        xi = q @ rng.standard_normal(q.shape[1]) if q is not None else rng.standard_normal(d)
        xi = perp_unit(xi, vhat)
        w1 = None if xi is None else perp_unit(w0 + refine_eta * xi, vhat)
        if w1 is None:
            continue
        (st1,) = s.stages(w1, [min(st0.theta + step, theta_max)])
        if st1.ok:
            best, refined = (st1, w1, i0), True
            notes.append(f"refinement raised θ to {math.degrees(st1.theta):.1f}°")
    names = ev.names or []
    v_shift = {"search": _shift(s.base_v[s.primary], s.base0[s.primary])}
    u, theta, c, verdict, confirm_tests, search_tests, ladder = vv.copy(), 0.0, 1.0, "none found", {}, {}, []
    if best is None:
        failed = sorted(failure_counts, key=lambda k: -failure_counts[k])
        best_row = rows[0] if rows else {}
        notes.append("no candidate passed any θ > 0 on the search items; nothing to confirm")
    else:
        st, w, idx = best
        search_tests = st.tests
        best_row = {"index": idx, "kind": kinds[idx], "theta_deg": math.degrees(st.theta), "norm_ratio": st.c,
                    "primary_mismatch": st.mismatch, "refined": refined}
        fracs = sorted(f for f in confirm_fractions if 0 < f < 1)
        rungs = (s.stages(w, [f * st.theta for f in fracs]) if fracs else []) + [st]  # c* chosen on search items
        us = [s.u(w, r.theta, r.c) for r in rungs]
        out = ev(np.stack([np.zeros(d), vv, *us]), confirm)
        v_shift["confirm"] = _shift(out[s.primary][1], out[s.primary][0])
        passed_tests, failed = {}, []
        for j, r in enumerate(rungs):  # fixed sequence, θ ascending: stop at the first failure (FWER ≤ α)
            ok, tests, failed = _tests({k: a[2 + j] - a[1] for k, a in out.items()}, margin_dz, level, correction,
                                      s.margin_raw)
            ladder.append({"theta_deg": math.degrees(r.theta), "cosine": math.cos(r.theta), "norm_ratio": r.c,
                           "passed": ok, "failed": failed,  # p: the rung's intersection p (largest adjusted)
                           "p": max((float(t["p_adjusted"]) if np.isfinite(t["p_adjusted"]) else 1.0
                                     for t in tests.values()), default=1.0)})
            if not ok:
                confirm_tests = tests
                break
            u, theta, c, verdict, passed_tests = us[j], r.theta, r.c, "found", tests
            v_shift["confirm_u"] = _shift(out[s.primary][2 + j], out[s.primary][0])
        if verdict == "found":
            confirm_tests, failed = passed_tests, []
        else:
            u, theta, c = us[-1], st.theta, st.c
    power = {"search": tost_power_paired(search.size, s.margin_dz, level, margin_scale="sample_sd"),
             "confirm": tost_power_paired(confirm.size, margin_dz, level, margin_scale="sample_sd")}
    for stage, pw in power.items():
        if pw < 0.8:
            notes.append(f"underpowered {stage}: one TOST at ±{s.margin_dz if stage == 'search' else margin_dz:g} sd has "
                         f"power {pw:.2f} at true difference 0 with {search.size if stage == 'search' else confirm.size}"
                         " items; 'none found' is weak evidence of identifiability — add items")
    vs = v_shift["search"]
    if not (abs(vs["mean"]) > 0 and (math.isnan(vs["dz"]) or abs(vs["dz"]) > margin_dz)):
        notes.append(f"v barely shifts the primary measure on the search items (d_z = {vs['dz']:.3g}): "
                     "matching its shift is a weak constraint")
    settings = dict(margin_dz=margin_dz, search_margin_dz=search_margin_dz or margin_dz,
                    margin_raw=dict(margin_raw or {}), level=level,
                    theta_max_deg=theta_max_deg, n_theta=n_theta, n_bisect=n_bisect, c_min=c_min, c_max=c_max, n_c=n_c,
                    c_steps=c_steps, match_tol=match_tol, n_refine=n_refine, refine_eta=refine_eta,
                    confirm_fractions=list(confirm_fractions), correction=correction, seed=seed)
    budget = {"calls": ev.calls, "calls_bound": bound, "max_calls": max_calls, "displacements": ev.displacements,
              "rows": ev.rows, "n_candidates": len(dirs), "n_searched": len(rows), "formula": BUDGET,
              "tost_power": power}
    return FarthestResult(
        verdict=verdict, cosine=float(u @ vv / (np.linalg.norm(u) * np.linalg.norm(vv))), norm_ratio=float(c),
        theta_deg=math.degrees(theta), primary=names[0] if names else "", measures=names, confirm=confirm_tests,
        ladder=ladder, failed=failed, search_tests=search_tests, best_candidate=best_row, candidates=rows,
        failure_counts=failure_counts, v_shift=v_shift, budget=budget, search_items=search.tolist(),
        confirm_items=confirm.tolist(), v_norm=float(np.linalg.norm(vv)), u=u.tolist(), settings=settings, notes=notes)
