"""The HTML report: every section, figure and table; escaping; no model code; headless Chromium."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys

import pytest

from steerid.report import load_results, render_html, render_report
from steerid.errors import OutputError

EXPECTED_FIGURES = {"efficacy", "draw", "dose", "environments", "cosine", "spectra", "logit-distance", "spanning",
                    "recovery"}
EXPECTED_TABLES = {"verdicts", "summary-sentiment", "summary-truthfulness", "nullspace", "e5-sentiment", "spanning",
                   "recovery", "examples-sentiment", "scorers", "provenance"}


@pytest.fixture
def no_drawing(monkeypatch):
    """Build every figure but skip drawing it (the text tests do not need the SVG, only the page)."""
    import matplotlib.pyplot as plt

    from steerid.report import figures

    def placeholder(fig):
        plt.close(fig)
        return "<svg></svg>"

    monkeypatch.setattr(figures, "_svg", placeholder)


def figure_ids(html: str) -> list[str]:
    return re.findall(r'<figure id="fig-[^"]+" data-figure="([^"]+)">\s*<svg', html)


def test_report_has_every_section(smoke_run):
    html = smoke_run.report_path.read_text(encoding="utf-8")
    ids = figure_ids(html)
    assert {i.split("-")[0] if i.split("-")[0] not in ("logit",) else "logit-distance" for i in ids} >= EXPECTED_FIGURES
    declared = re.search(r'<body data-figures="([^"]*)"', html).group(1).split()
    assert sorted(declared) == sorted(ids)  # every figure the context built made it into the page
    tables = set(re.findall(r'data-table="([^"]+)"', html))
    assert EXPECTED_TABLES <= tables
    for section in ("summary", "efficacy", "dose", "environments", "e4", "nullspace", "methods",
                    "spanning", "recovery", "examples", "provenance"):
        assert f'<section id="{section}">' in html
    for section in ("verdicts", "howto"):
        assert f'<section id="{section}" ' in html
    assert "<script" not in html  # no JavaScript at all: nothing to fail in a browser
    # self-contained: nothing is fetched (namespace URIs in xmlns attributes are identifiers, not requests)
    assert not re.search(r'(src|href)="(https?:)?//', html) and "<link" not in html and "@import" not in html
    assert "<img" not in html or "data:image" in html


def test_report_escapes_model_text(smoke_run, no_drawing):
    results = load_results(smoke_run.results_path.parent)
    evil = "<script>alert(1)</script>"
    for unit in results["units"]:
        if unit["experiment"] == "e1":
            for example in unit["result"]["examples"]:
                example["prompt"] = evil
                for key in example["continuations"]:
                    example["continuations"][key] = evil + ' " onload="x'
    html = render_html(results)
    assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html


def test_report_warns_on_weak_scorers_and_power(smoke_run, no_drawing):
    results = load_results(smoke_run.results_path.parent)
    results = copy.deepcopy(results)
    results["scorers"]["sentiment"]["meets_target"] = False
    results["scorers"]["sentiment"]["accuracy"] = 0.61
    for row in results["summary"]:
        row["steers"], row["underpowered"], row["power"], row["n_required"] = True, True, 0.05, 216
    html = render_html(results)
    assert "scorer &#39;sentiment&#39; is below its accuracy target (61 % held-out" in html
    assert "underpowered" in html and "n = 216 needed" in html


def test_report_renders_benchmark_and_errors(smoke_run, no_drawing):
    results = copy.deepcopy(load_results(smoke_run.results_path.parent))
    rec = next(u for u in results["units"] if u["experiment"] == "recovery")
    rec["result"]["benchmark"] = {"size": "small", "seed": 0, "headline": {"gauge/fisher": True, "sparse": False},
                                  "behaviour": {"kl_v_perp": 0.001},
                                  "rows": [{"part": "synthetic", "constraint": "sparse", "setting": "drift", "n": 40,
                                            "noise": 1.0, "rho": 1.0, "baseline_cosine": 0.9, "constrained_cosine": 0.95,
                                            "baseline_drift": 0.2, "constrained_drift": 0.01, "invariant": True,
                                            "note": ""}]}
    broken = copy.deepcopy(next(u for u in results["units"] if u["experiment"] == "e7"))
    broken.update(status="error", error="no Fisher eigenvalue is below τ·λ_max")
    results["units"].append(broken)
    html = render_html(results)
    assert 'data-table="benchmark"' in html and "gauge/fisher" in html
    assert "could not be done: no Fisher eigenvalue" in html


def test_report_module_never_imports_models_or_torch(smoke_run):
    code = ("import json, sys\n"
            "from steerid.report import render_html, load_results\n"
            f"html = render_html(load_results({str(smoke_run.results_path.parent)!r}))\n"
            "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'steerid.models', "
            "'transformers', 'steerid.experiments', 'steerid.audit')))\n"
            "assert html and not bad, bad\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_report_cli_rerenders_identically(smoke_run, capsys):
    from steerid.cli import main

    before = smoke_run.report_path.read_bytes()
    smoke_run.report_path.unlink()
    main(["report", str(smoke_run.results_path.parent)])
    assert "report.html" in capsys.readouterr().out
    assert smoke_run.report_path.read_bytes() == before
    with pytest.raises(OutputError, match="has no results.json"):
        render_report(smoke_run.results_path.parent / "vectors")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_in_headless_chromium(smoke_run, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed and could not be installed (make test runs `make browser` first)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"]
    url = smoke_run.report_path.resolve().as_uri()
    result = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    html = smoke_run.report_path.read_text(encoding="utf-8")
    for fid in figure_ids(html):
        match = re.search(rf'<figure id="fig-{re.escape(fid)}" data-figure="{re.escape(fid)}">\s*<svg', dom)
        assert match, f"figure {fid} missing from the rendered DOM"
    for table in set(re.findall(r'data-table="([^"]+)"', html)):
        assert f'data-table="{table}"' in dom, f"table {table} missing from the rendered DOM"
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    shot = tmp_path / "shot.png"
    result = subprocess.run([browser, *flags[:-3], "--window-size=1280,900", f"--screenshot={shot}", url],
                            capture_output=True, text=True, timeout=180)
    assert shot.is_file() and shot.stat().st_size > 10_000
