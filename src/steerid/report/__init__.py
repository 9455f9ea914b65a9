"""The audit report: one self-contained HTML file rendered from ``results.json`` alone.

This package never runs a model and never imports torch or :mod:`steerid.models` (a test checks
it): it reads the results, draws matplotlib figures as inline SVG and fills a Jinja2 template
(autoescaped — model continuations are shown as text, never as markup). ``steerid report RUN``
re-renders a run's report.

The first screen (:mod:`steerid.report.first_screen`) is the answer: one verdict table (trait ×
route), one per-draw forest figure and the paper's claims; the explanations follow once, in "how to
read this"; nothing on it is wider than 1280 px. Runs of ``schema_version`` 1 render with the d_z
fallback of :mod:`steerid.report.records`.

Example:
    >>> from steerid.report import render_report
    >>> render_report("runs/demo")          # doctest: +SKIP
    PosixPath('runs/demo/report.html')
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from steerid.errors import OutputError
from steerid.io import atomic_write_text, restore_non_finite

__all__ = ["SCHEMA_VERSIONS", "build_context", "load_results", "render_html", "render_report"]

SCHEMA_VERSIONS = (1, 2)  # 1: before error-controlled verdicts (rendered with the d_z fallback)


def load_results(run_dir: str | Path) -> dict[str, Any]:
    """Read ``RUN/results.json`` with a one-line error when it is missing or unreadable."""
    path = Path(run_dir) / "results.json"
    if not Path(run_dir).is_dir():
        raise OutputError(f"run directory '{run_dir}' does not exist", "pass the --out directory of a steerid audit")
    if not path.is_file():
        raise OutputError(f"'{run_dir}' has no results.json", "run steerid audit into it first (or resume it)")
    try:
        data = restore_non_finite(json.loads(path.read_text(encoding="utf-8")))  # schema 2 nulls → NaN / inf
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise OutputError(f"{path} is not valid JSON ({exc})", "rerun the audit command to rewrite it") from exc
    if not isinstance(data, dict) or data.get("schema_version") not in SCHEMA_VERSIONS or "units" not in data:
        raise OutputError(f"{path} is not a steerid results file of schema "
                          f"{' or '.join(map(str, SCHEMA_VERSIONS))}", "rerun the audit with this steerid")
    return data


def build_context(results: dict[str, Any]) -> dict[str, Any]:
    """The template's variables for parsed ``results.json`` data (tables and inline SVG figures)."""
    # deferred: the context imports matplotlib (figures), ~0.34 s (python -X importtime), which
    # load_results / the CLI do not need
    from steerid.report.context import build

    return build(results)


def render_html(results: dict[str, Any]) -> str:
    """The report's HTML for parsed ``results.json`` data."""
    # deferred with the context above: only rendering needs jinja2 (~0.07 s import)
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("steerid.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True), trim_blocks=True, lstrip_blocks=True)
    env.filters["f"] = _fmt
    env.filters["p"] = _pval
    env.filters["ci"] = _ci
    env.filters["est_ci"] = _est_ci
    template = env.get_template("report.html.j2")
    return template.render(**build_context(results))


def render_report(run_dir: str | Path) -> Path:
    """Render ``RUN/report.html`` from ``RUN/results.json`` (atomically)."""
    results = load_results(run_dir)
    html = render_html(results)
    return atomic_write_text(Path(run_dir) / "report.html", html)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or isinstance(value, bool):
        return "—" if value is None else ("yes" if value else "no")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return "—"
        if value != 0 and abs(value) < 10 ** -digits:
            return f"{value:.1e}"
        return f"{value:.{digits}f}"
    return str(value)


def _pval(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return "—"
    return "< 0.001" if value < 1e-3 else f"{value:.3f}"


def _ci(pair: Any, digits: int = 2) -> str:
    if not pair or len(pair) != 2:
        return "—"
    return f"[{_fmt(pair[0], digits)}, {_fmt(pair[1], digits)}]"


def _est_ci(estimate: Any, pair: Any, digits: int = 2, unstable: bool = False) -> str:
    """``estimate [low, high]``; "unstable, no CI" for a ratio whose reference is not resolved or whose
    interval does not contain its estimate (a bootstrap of an unstable ratio can exclude it)."""
    from steerid.report.first_screen import interval_text
    from steerid.report.records import Interval, number

    lo, hi = (pair[0], pair[1]) if isinstance(pair, (list, tuple)) and len(pair) == 2 else (None, None)
    iv = Interval(number(estimate), number(lo), number(hi))
    if unstable and iv.estimate is not None:
        return "unstable, no CI"
    return interval_text(iv, digits)
