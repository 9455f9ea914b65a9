"""Run every benchmark and write ``benchmarks/results.json`` and ``benchmarks/RESULTS.md``.

Usage (from the repository root, main venv)::

    python -m benchmarks.run            # full sizes (``make bench``; < 20 min on an idle 2-core machine)
    python -m benchmarks.run --quick    # small sizes, a few minutes
    python -m benchmarks.run --only steering,peers

Every figure is a ratio against a baseline measured in the same run (arms interleaved, several
repeats: median and min/max of the per-repeat ratios), so load from other processes on the shared
cores moves numerator and denominator alike; absolute times are kept in ``results.json`` only.
A benchmark that fails is recorded with its error (and the run goes on); ``--strict`` makes the
command exit 1 in that case.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BENCHES = ("steering", "paper", "likelihood", "roofline", "peers", "capture", "scaling", "jacobian", "fisher_exact")


def _jacobian(quick: bool) -> dict:
    """E6 Jacobian bench (owned by another module): call its ``main``/``run`` if present.

    Accepts either ``main(quick=...)`` or an argv-style ``main(argv)`` (then ``["--quick"]``).
    """
    try:
        module = importlib.import_module("benchmarks.bench_jacobian")
    except ModuleNotFoundError as exc:
        if exc.name != "benchmarks.bench_jacobian":
            raise
        return {"rows": [_skip_row("jacobian", "benchmarks/bench_jacobian.py not present yet")], "skipped": "absent"}
    for name in ("main", "run"):
        fn = getattr(module, name, None)
        if not callable(fn):
            continue
        params = inspect.signature(fn).parameters
        if "quick" in params:
            result = fn(quick=quick)
        elif "argv" in params:
            result = fn(["--quick"] if quick else [])
        else:
            continue
        return _normalise("jacobian", result)
    return {"rows": [_skip_row("jacobian", "bench_jacobian has no main(quick=)/main(argv)")], "skipped": "no entry point"}


def _skip_row(bench: str, why: str) -> dict:
    return {"bench": bench, "metric": "skipped", "value": float("nan"), "unit": "", "spread": {}, "goal": "",
            "met": None, "note": why}


def _normalise(bench: str, result) -> dict:
    """Accept another module's result: a dict with ``rows`` (ours), any dict, or anything JSON-able."""
    if isinstance(result, dict) and isinstance(result.get("rows"), list):
        rows = [r if isinstance(r, dict) else getattr(r, "to_dict", lambda r=r: {"metric": str(r)})() for r in result["rows"]]
        for r in rows:
            r.setdefault("bench", bench)
        return {**result, "rows": rows}
    rows = []
    if isinstance(result, dict) and isinstance(result.get("time_ratio_fd_over_exact"), (int, float)):
        rows.append({"bench": bench, "metric": "time, finite-difference Fisher sketch / exact Lanczos",
                     "value": float(result["time_ratio_fd_over_exact"]), "unit": "×", "spread": {}, "goal": "",
                     "met": None, "note": "single run; see results.json for accuracy figures"})
    return {"rows": rows, "detail": result}


def _loadavg() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def run_one(name: str, quick: bool) -> dict:
    import torch

    load_start = _loadavg()
    start = time.perf_counter()
    try:
        if name == "jacobian":
            result = _jacobian(quick)
        else:
            module = importlib.import_module(f"benchmarks.bench_{name}")
            result = module.run(quick=quick)
        status = "skipped" if result.get("skipped") else "ok"
    except Exception as exc:  # noqa: BLE001 — recorded in the results and printed; the other benchmarks still run
        traceback.print_exc()
        result = {"rows": [{**_skip_row(name, f"failed: {type(exc).__name__}: {exc}"), "metric": "error"}],
                  "error": traceback.format_exc()}
        status = "error"
    result["status"] = status
    result["quick"] = quick
    result["seconds"] = time.perf_counter() - start
    result["threads"] = torch.get_num_threads()
    result["loadavg"] = {"start": load_start, "end": _loadavg()}
    return result


def _fmt(value, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if abs(value) >= 100 or value == 0:
        text = f"{value:.0f}"
    elif abs(value) >= 0.01:
        text = f"{value:.2f}"
    else:
        text = f"{value:.2e}"
    return f"{text}{unit}" if unit else text


def markdown(results: dict) -> str:
    meta = results["meta"]
    modes = {bool(r.get("quick", meta.get("quick"))) for r in results["benches"].values()} or {bool(meta.get("quick"))}
    mode = "mixed: quick and full, per benchmark below" if len(modes) > 1 else ("quick" if modes.pop() else "full")
    lines = [
        "# steerid benchmarks",
        "",
        f"Mode: **{mode}** · last run {meta['when']} · torch threads {meta['threads']} · "
        f"load average at its start {meta['loadavg_start']} · {meta['seconds']:.0f} s.",
        "",
        "Every value is a ratio against a baseline measured in the same run (median over repeats, "
        "min–max of the per-repeat ratios), unless its unit says otherwise. Absolute times (in "
        "`results.json`) depend on the load from other processes and are not comparable across runs.",
        "",
        "| bench | metric | value | spread (min–max) | goal | met | threads · load (1 min, start→end) | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, result in results["benches"].items():
        load = result.get("loadavg") or {}
        context = (f"{result.get('threads', meta['threads'])} · {load['start'].split()[0]}→{load['end'].split()[0]}"
                   if load else f"{meta['threads']} · {meta['loadavg_start'].split()[0]} (run start)")
        for row in result.get("rows", []):
            spread = row.get("spread") or {}
            if "min" in spread and "max" in spread:
                span = f"{_fmt(spread['min'], '')}–{_fmt(spread['max'], '')} (n={int(spread.get('n', 0))})"
            else:
                span = ""
            met = {True: "yes", False: "**no**", None: ""}[row.get("met")]
            cells = [row.get("bench", name), row.get("metric", ""), _fmt(row.get("value"), row.get("unit", "")), span,
                     row.get("goal", ""), met, context, row.get("note", "")]
            lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    lines.append("")
    for name, result in results["benches"].items():
        mode = {True: "quick", False: "full"}.get(result.get("quick", meta.get("quick")), "?")
        lines.append(f"- `{name}`: {result['status']} ({mode}) in {result['seconds']:.0f} s")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(BENCHES)}")
    parser.add_argument("--out", default=str(ROOT), help="folder for results.json and RESULTS.md")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a benchmark fails")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other benchmarks already in OUT/results.json and replace only these "
                             "(each benchmark records its own mode)")
    parser.add_argument("--render", action="store_true", help="only re-write RESULTS.md from OUT/results.json")
    args = parser.parse_args(argv)
    if args.render:
        from steerid.io import atomic_write_text

        source = Path(args.out) / "results.json"
        if not source.is_file():
            parser.error(f"{source} does not exist: run the benchmarks first")
        table = markdown(json.loads(source.read_text()))
        atomic_write_text(Path(args.out) / "RESULTS.md", table)
        print(table)
        return 0
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHES)
    unknown = sorted(set(names) - set(BENCHES))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHES)}")

    from benchmarks.common import THREADS  # sets the torch thread count before any model is built
    from steerid.io import atomic_write_json, atomic_write_text
    from steerid.provenance import machine, utc_now

    with open("/proc/loadavg") as handle:
        loadavg = " ".join(handle.read().split()[:3])
    start = time.perf_counter()
    results = {"meta": {"quick": args.quick, "when": utc_now(), "threads": THREADS, "machine": machine(),
                        "loadavg_start": loadavg}, "benches": {}}
    out = Path(args.out)
    previous = out / "results.json"
    if args.merge and previous.is_file():
        old = json.loads(previous.read_text())
        results["benches"] = {k: v for k, v in old.get("benches", {}).items() if k not in names}
    for name in names:
        print(f"== {name} ...", flush=True)
        results["benches"][name] = run_one(name, args.quick)
        print(f"   {results['benches'][name]['status']} in {results['benches'][name]['seconds']:.0f} s", flush=True)
        results["meta"]["seconds"] = time.perf_counter() - start
        # written after each benchmark, so an interrupted run keeps what it measured
        atomic_write_json(out / "results.json", json.loads(json.dumps(results, default=str)))
        atomic_write_text(out / "RESULTS.md", markdown(results))
    with open("/proc/loadavg") as handle:
        results["meta"]["loadavg_end"] = " ".join(handle.read().split()[:3])
    results["meta"]["seconds"] = time.perf_counter() - start
    atomic_write_json(out / "results.json", json.loads(json.dumps(results, default=str)))
    table = markdown(results)
    atomic_write_text(out / "RESULTS.md", table)
    print(table)
    failed = [n for n, r in results["benches"].items() if r["status"] == "error"]
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
