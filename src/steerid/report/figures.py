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


def efficacy_panels(panels: Sequence[tuple[str, dict[str, Any], str]]) -> str | None:
    """Per-condition efficacy (mean shift vs none, 95 % CI) for one or more units side by side.

    ``panels``: (title, efficacy-per-condition dict of the primary measure, measure name).
    v+v⊥ draws are shown individually (faint) and as their mean.
    """
    panels = [p for p in panels if p[1]]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.2), squeeze=False, layout="constrained")
    for ax, (title, eff, measure) in zip(axes[0], panels):
        labels, centers, errs, colors = [], [], [], []
        for name in ("+v", "-v"):
            if name in eff:
                e = eff[name]
                labels.append(name)
                centers.append(e["mean_shift"])
                errs.append(_err(e["mean_shift"], e.get("ci_low"), e.get("ci_high")))
                colors.append(COLORS[name])
        for sign in ("+", "-"):
            draws = [(k, e) for k, e in eff.items() if k.startswith(f"{sign}v+v⊥")]
            if not draws:
                continue
            rhos = sorted({re.search(r"ρ=([^,\]]+)", k).group(1) for k, _ in draws})  # type: ignore[union-attr]
            for rho in rhos:
                members = [e for k, e in draws if f"ρ={rho}," in k]
                mean = sum(e["mean_shift"] for e in members) / len(members)
                labels.append(f"{sign}v+v⊥ ρ={rho} (mean of {len(members)})")
                lo = min(e.get("ci_low", mean) if _finite(e.get("ci_low")) else mean for e in members)
                hi = max(e.get("ci_high", mean) if _finite(e.get("ci_high")) else mean for e in members)
                centers.append(mean)
                errs.append(_err(mean, lo, hi))
                colors.append(COLORS["+v" if sign == "+" else "-v"])
                y = len(labels) - 1
                ax.scatter([e["mean_shift"] for e in members], [y] * len(members), s=9, alpha=0.35,
                           color=colors[-1], zorder=3)
        for name, e in eff.items():
            if name.startswith("v⊥") or name.startswith("random"):
                labels.append(name)
                centers.append(e["mean_shift"])
                errs.append(_err(e["mean_shift"], e.get("ci_low"), e.get("ci_high")))
                colors.append(COLORS["perp" if name.startswith("v⊥") else "random"])
        ys = list(range(len(labels)))
        for y, c, (lo, hi), col in zip(ys, centers, errs, colors):
            ax.errorbar([c], [y], xerr=[[lo], [hi]], fmt="o", color=col, capsize=3, ms=4)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(ys, labels)
        ax.invert_yaxis()
        ax.set_xlabel(f"shift vs none ({measure})")
        ax.set_title(title)
    return _svg(fig)


def forest(rows: Sequence[dict[str, Any]], title: str = "") -> str | None:
    """TOST forest plot: 90 % CI of mean(v+v⊥) − v in d_z units against the ±margin band.

    ``rows``: dicts with ``label``, ``ci90`` (raw), ``sd_diff``, ``mean_diff``, ``margin_dz``, ``verdict``.
    """
    rows = [r for r in rows if _finite(r.get("sd_diff")) and r["sd_diff"] > 0]
    if not rows:
        return None
    height = 0.9 + 0.28 * len(rows)
    fig, ax = plt.subplots(figsize=(6.8, height))
    margin = max(r["margin_dz"] for r in rows if _finite(r.get("margin_dz")))
    ax.axvspan(-margin, margin, color="#2ca02c", alpha=0.12, label=f"equivalence margin ±{margin:g} d_z")
    for y, r in enumerate(rows):
        sd = r["sd_diff"]
        lo, hi = (r["ci90"][0] / sd, r["ci90"][1] / sd) if r.get("ci90") else (math.nan, math.nan)
        mid = r["mean_diff"] / sd
        color = COLORS.get(r.get("verdict", ""), "#333333")
        ax.plot([lo, hi], [y, y], color=color, lw=2)
        ax.plot([mid], [y], "o", color=color, ms=4)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), [r["label"] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("mean(v+v⊥) − v, in d_z units (90 % CI)")
    handles = [plt.Line2D([], [], color=COLORS[v], lw=2, label=v) for v in
               ("equivalent", "not equivalent", "inconclusive", "not steering")]
    ax.legend(handles=[*handles, plt.Rectangle((0, 0), 1, 1, color="#2ca02c", alpha=0.12, label="margin")],
              loc="upper center", bbox_to_anchor=(0.5, -0.6 / height), ncol=5, fontsize=7, frameon=False)
    if title:
        ax.set_title(title)
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
            style = "-" if name in ("+v", "-v") else "--"
            ax.plot(xs, ys, style, marker="o", ms=3, color=color, label=name)
            lows = [p[2] if _finite(p[2]) else p[1] for p in points]
            highs = [p[3] if _finite(p[3]) else p[1] for p in points]
            ax.fill_between(xs, lows, highs, color=color, alpha=0.12 if style == "-" else 0.06)
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
        for env, mean, lo, hi in pts:
            x = envs.index(env) + (k - (len(rows) - 1) / 2) * width
            color = COLORS["+v" if name.startswith("+") else "-v"]
            ax.errorbar([x], [mean], yerr=[[_err(mean, lo, hi)[0]], [_err(mean, lo, hi)[1]]], fmt="o" if name in ("+v", "-v") else "s",
                        color=color, capsize=3, ms=4, mfc=color if name in ("+v", "-v") else "white",
                        label=name if env == pts[0][0] else None)
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
