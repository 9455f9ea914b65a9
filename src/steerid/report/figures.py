"""Matplotlib figures of an audit, drawn from ``results.json`` data only, returned as inline SVG.

Every function takes plain dicts/lists (parsed JSON) and returns an SVG string, or ``None`` when
there is nothing to draw. SVG output is deterministic (fixed hash salt, no date), text is kept as
text (``svg.fonttype = none``) so the file stays small and searchable.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

plt.rcParams.update({
    "svg.fonttype": "none", "svg.hashsalt": "steerid", "font.size": 9, "axes.titlesize": 10,
    "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100,
})

COLORS = {"+v": "#1f77b4", "-v": "#d62728", "perp": "#7f7f7f", "random": "#bcbd22", "mean": "#2ca02c",
          "equivalent": "#2ca02c", "not equivalent": "#d62728", "not steering": "#7f7f7f",
          "inconclusive": "#ff7f0e", "inconclusive (underpowered)": "#ff7f0e"}


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prolog and doctype: inline SVG
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)  # RDF block: namespaces only, no content
    return re.sub(r"\s+$", "", text)


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _err(center: float, low: Any, high: Any) -> tuple[float, float]:
    lo = center - low if _finite(low) else 0.0
    hi = high - center if _finite(high) else 0.0
    return max(lo, 0.0), max(hi, 0.0)


# --------------------------------------------------------------------------------------------


def efficacy_panels(panels: Sequence[tuple[str, dict[str, Any], str, list[tuple[str, Any, list[dict[str, Any]]]]]]) -> str | None:
    """Per-condition efficacy (mean shift vs none, 95 % CI) for one or more units side by side.

    ``panels``: (title, efficacy-per-condition dict of the primary measure, measure name, draw groups
    ``[(sign "+"/"-", ρ, [efficacy entry of each v+v⊥ draw])]``). Each v+v⊥ row shows every draw with
    its own interval, spread a little vertically; no average of the draws is drawn.
    """
    panels = [p for p in panels if p[1]]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.2), squeeze=False, layout="constrained")
    for ax, (title, eff, measure, groups) in zip(axes[0], panels):
        labels: list[str] = []

        def row(label: str, e: dict[str, Any], color: str) -> None:
            y = len(labels)
            labels.append(label)
            lo, hi = _err(e["mean_shift"], e.get("ci_low"), e.get("ci_high"))
            ax.errorbar([e["mean_shift"]], [y], xerr=[[lo], [hi]], fmt="o", color=color, capsize=3, ms=4)

        for name in ("+v", "-v"):
            if name in eff:
                row(name, eff[name], COLORS[name])
        for sign, rho, members in groups:
            y = len(labels)
            labels.append(f"{sign}v+v⊥ ρ={'?' if rho is None else f'{rho:g}'} ({len(members)} draws)")
            color = COLORS["+v" if sign == "+" else "-v"]
            for k, e in enumerate(members):
                dy = 0.6 * ((k + 0.5) / len(members) - 0.5)
                lo, hi = _err(e["mean_shift"], e.get("ci_low"), e.get("ci_high"))
                ax.errorbar([e["mean_shift"]], [y + dy], xerr=[[lo], [hi]], fmt="o", color=color, ms=2.5, lw=0.8,
                            alpha=0.7, capsize=0)
        for name, e in eff.items():
            if name.startswith("v⊥") or name.startswith("random"):
                row(name, e, COLORS["perp" if name.startswith("v⊥") else "random"])
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_xlabel(f"shift vs none ({measure})")
        ax.set_title(title)
    return _svg(fig)


DECISION_COLORS = {"equivalent": "#2ca02c", "not equivalent": "#d62728", "undecided": "#ff7f0e",
                   "no claim": "#9a9a9a"}


def draw_forest(panels: Sequence[dict[str, Any]], margin: float | None, scale: str, max_cols: int = 3) -> str | None:
    """Per-draw forest plot: one panel per (trait, route) unit, one line per v⊥ draw, grouped by sign.

    ``panels``: ``{"title", "groups": [{"label", "rows": [{"label", "estimate", "low", "high", "decision"}]}]}``
    with ``estimate``/``low``/``high`` on the plotted scale (r − 1 for ``scale="relative"``, d_z for
    ``"dz"``); a missing bound is drawn as an unbounded interval (dashed, arrows at the axis ends).
    The ±``margin`` band is shaded; lines are coloured by ``decision`` (:data:`DECISION_COLORS`).
    Sized for a page ≤ 1280 px wide (12 in at 100 dpi).
    """
    panels = [p for p in panels if any(g["rows"] for g in p["groups"])]
    if not panels:
        return None
    values = [abs(v) for p in panels for g in p["groups"] for r in g["rows"]
              for v in (r["estimate"], r["low"], r["high"]) if _finite(v)]
    m = margin if _finite(margin) and margin > 0 else None  # type: ignore[operator]
    span = max([3.0 * m] if m else [1.0])
    if values:
        span = max(span, min(sorted(values)[int(0.9 * (len(values) - 1))] * 1.15, 6.0 * (m or 1.0)))
    ncols = min(max_cols, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    lines = [sum(len(g["rows"]) for g in p["groups"]) for p in panels]
    row_height = [max(lines[i:i + ncols]) for i in range(0, len(panels), ncols)]
    fig, axes = plt.subplots(nrows, ncols, figsize=(min(12.0, 4.0 * ncols), 0.9 + sum(0.15 * h + 0.55 for h in row_height)),
                             squeeze=False, layout="constrained",
                             gridspec_kw={"height_ratios": [h + 3 for h in row_height]})
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, panels):
        ticks, labels, y = [], [], 0
        for g, group in enumerate(panel["groups"]):
            if g:
                ax.axhline(y - 0.5, color="#bbbbbb", lw=0.6)
            for r in group["rows"]:
                color = DECISION_COLORS.get(r["decision"], "#333333")
                lo, hi, est = r["low"], r["high"], r["estimate"]
                if _finite(lo) and _finite(hi):
                    a, b = max(lo, -span), min(hi, span)
                    ax.plot([a, b], [y, y], color=color, lw=1.8, solid_capstyle="butt")
                    for end, clipped, marker in ((a, lo < -span, "<"), (b, hi > span, ">")):
                        if clipped:
                            ax.plot([end], [y], marker=marker, color=color, ms=4)
                else:  # unbounded interval: the whole axis, dashed
                    ax.annotate("", xy=(span, y), xytext=(-span, y),
                                arrowprops={"arrowstyle": "<->", "color": color, "lw": 1.0, "ls": "--"})
                if _finite(est) and -span <= est <= span:
                    ax.plot([est], [y], "o", color=color, ms=3.2)
                ticks.append(y)
                labels.append(f"{group['label']} {r['label']}")
                y += 1
        if m:
            ax.axvspan(-m, m, color="#2ca02c", alpha=0.12, lw=0)
        ax.axvline(0, color="black", lw=0.7)
        ax.set_xlim(-span, span)
        ax.set_ylim(y - 0.5, -0.5)
        ax.set_yticks(ticks, labels, fontsize=6.5)
        ax.tick_params(axis="y", length=0)
        ax.set_title(panel["title"], fontsize=9)
        if scale == "relative":
            ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    xlabel = ("(shift(v+v⊥) − shift(v)) / shift(v)" if scale == "relative" else "(v+v⊥) − v, d_z units")
    for ax in axes[-1]:
        if ax.get_visible():
            ax.set_xlabel(xlabel, fontsize=8)
    for c in range(ncols):  # the last visible panel of a column carries the label too
        col = [axes[r][c] for r in range(nrows) if axes[r][c].get_visible()]
        if col and not col[-1].get_xlabel():
            col[-1].set_xlabel(xlabel, fontsize=8)
    band = (f"±{m:.0%} of v's shift" if scale == "relative" else f"±{m:g} d_z") if m else "margin"
    handles = [plt.Line2D([], [], color=DECISION_COLORS[k], lw=2, label=k) for k in
               ("equivalent", "not equivalent", "undecided", "no claim")]
    handles.append(plt.Rectangle((0, 0), 1, 1, color="#2ca02c", alpha=0.12, label=f"equivalence band {band}"))
    fig.legend(handles=handles, loc="outside lower center", ncol=5, fontsize=7.5, frameon=False)
    return _svg(fig)


def dose_response(curves: dict[str, dict[str, list[tuple[float, float, float, float]]]], measure_by_route: dict[str, str]) -> str | None:
    """Shift vs α per route: ``curves[route][series] = [(alpha, mean, low, high), ...]``."""
    curves = {route: series for route, series in curves.items() if any(len(p) > 1 for p in series.values())}
    if not curves:
        return None
    fig, axes = plt.subplots(1, len(curves), figsize=(4.4 * len(curves), 3.0), squeeze=False, layout="constrained")
    for ax, (route, series) in zip(axes[0], curves.items()):
        for name, points in series.items():
            points = sorted(points)
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            color = COLORS["+v" if name.startswith("+") else "-v"]
            if name not in ("+v", "-v"):  # single draws: points only, nothing joins or averages them
                ax.plot(xs, ys, "o", ms=3, mfc="none", mew=0.7, alpha=0.6, color=color, label=f"{name} (each draw)")
                continue
            ax.plot(xs, ys, "-", marker="o", ms=3, color=color, label=name)
            lows = [p[2] if _finite(p[2]) else p[1] for p in points]
            highs = [p[3] if _finite(p[3]) else p[1] for p in points]
            ax.fill_between(xs, lows, highs, color=color, alpha=0.12)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("α (relative to the median token norm)")
        ax.set_ylabel(f"shift vs none ({measure_by_route.get(route, '')})")
        ax.set_title(route)
        ax.legend(fontsize=7, frameon=False)
    return _svg(fig)


def spectra(series: dict[str, dict[str, Any]]) -> str | None:
    """Normalised eigenvalue spectra (λ / λ_max, log scale) with the null-space cuts.

    ``series[kind] = {"curves": {label: [eigenvalues…]}, "tolerances": [...], "d": int}``; kind is
    e.g. "activation covariance" or "output Fisher".
    """
    series = {k: v for k, v in series.items() if v.get("curves")}
    if not series:
        return None
    fig, axes = plt.subplots(1, len(series), figsize=(4.6 * len(series), 3.1), squeeze=False, layout="constrained")
    for ax, (kind, data) in zip(axes[0], series.items()):
        for label, eigs in data["curves"].items():
            values = [e for e in eigs if _finite(e)]
            if not values or max(values) <= 0:
                continue
            top = max(values)
            norm = [max(e / top, 1e-12) for e in sorted(values, reverse=True)]
            ax.semilogy(range(1, len(norm) + 1), norm, lw=1.2, label=label)
        for tol in data.get("tolerances", []):
            ax.axhline(tol, color="#555555", lw=0.7, ls=":")
            ax.text(1, tol, f" τ={tol:g}", va="bottom", fontsize=7, color="#555555")
        d = data.get("d")
        ax.set_xlabel("eigenvalue index" + (f" (d = {d})" if d else ""))
        ax.set_ylabel("λ / λ_max")
        ax.set_title(kind)
        ax.legend(fontsize=7, frameon=False)
    return _svg(fig)


def cosine_matrix(methods: list[str], matrix: list[list[float]], title: str) -> str | None:
    if not methods or not matrix:
        return None
    n = len(methods)
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * n, 0.8 + 0.7 * n))
    image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu_r")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{matrix[i][j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if abs(matrix[i][j]) > 0.6 else "black")
    ax.set_xticks(range(n), methods, rotation=30, ha="right")
    ax.set_yticks(range(n), methods)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _svg(fig)


def environments(rows: dict[str, list[tuple[str, float, float, float]]], measure: str) -> str | None:
    """Shift vs none per environment: ``rows[series] = [(environment, mean, low, high), ...]``."""
    if not rows or len({r[0] for pts in rows.values() for r in pts}) < 2:
        return None
    envs = []
    for pts in rows.values():
        for r in pts:
            if r[0] not in envs:
                envs.append(r[0])
    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    width = 0.8 / max(1, len(rows))
    for k, (name, pts) in enumerate(rows.items()):
        color = COLORS["+v" if name.startswith("+") else "-v"]
        single = name in ("+v", "-v")
        labelled = False
        for env, mean, lo, hi in pts:
            x = envs.index(env) + (k - (len(rows) - 1) / 2) * width
            label = None if labelled else (name if single else f"{name} (each draw)")
            labelled = True
            if single:
                ax.errorbar([x], [mean], yerr=[[_err(mean, lo, hi)[0]], [_err(mean, lo, hi)[1]]], fmt="o",
                            color=color, capsize=3, ms=4, label=label)
            else:  # one open marker per draw, no average
                ax.plot([x], [mean], "o", ms=3, mfc="none", mew=0.7, alpha=0.6, color=color, label=label)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(envs)), [e.replace("_", " ") for e in envs])
    ax.set_ylabel(f"shift vs none ({measure})")
    ax.legend(fontsize=7, frameon=False)
    return _svg(fig)


def bars(groups: dict[str, dict[str, float]], ylabel: str, title: str, log: bool = False) -> str | None:
    """Grouped bars: ``groups[group][series] = value`` (e.g. KL per condition per trait)."""
    groups = {g: {k: v for k, v in s.items() if _finite(v)} for g, s in groups.items()}
    groups = {g: s for g, s in groups.items() if s}
    if not groups:
        return None
    series: list[str] = []
    for s in groups.values():
        for k in s:
            if k not in series:
                series.append(k)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.2 * len(groups) + 2), 3.0))
    width = 0.8 / len(series)
    palette = plt.get_cmap("tab10")
    for k, name in enumerate(series):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(groups))]
        ys = [groups[g].get(name, math.nan) for g in groups]
        ax.bar(xs, ys, width=width, label=name, color=palette(k % 10))
    if log:
        ax.set_yscale("log")
    return _finish_grouped(fig, ax, list(groups), ylabel, title)


def strips(data: dict[str, dict[str, list[float]]], ylabel: str, title: str) -> str | None:
    """Per group, the values of each family as jittered dots (log y): ``data[group][family] = [...]``."""
    data = {g: {f: [v for v in vals if _finite(v) and v > 0] for f, vals in fams.items()} for g, fams in data.items()}
    data = {g: f for g, f in data.items() if any(f.values())}
    if not data:
        return None
    families = sorted({f for fams in data.values() for f in fams})
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(data) + 2), 3.0))
    palette = {"null": "#2ca02c", "range": "#d62728"}
    width = 0.7 / max(1, len(families))
    for i, (group, fams) in enumerate(data.items()):
        for k, family in enumerate(families):
            vals = fams.get(family, [])
            x0 = i + (k - (len(families) - 1) / 2) * width
            xs = [x0 + width * 0.5 * ((j % 5) - 2) / 5 for j in range(len(vals))]
            ax.scatter(xs, vals, s=12, color=palette.get(family, "#1f77b4"), label=family if i == 0 else None, zorder=3)
    ax.set_yscale("log")
    return _finish_grouped(fig, ax, list(data), ylabel, title)


def _finish_grouped(fig: Any, ax: Any, groups: list[str], ylabel: str, title: str) -> str:
    """Label a grouped figure (one x tick per group, at 0, 1, …), add its legend and return the SVG."""
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, frameon=False)
    return _svg(fig)
