"""The report's first screen: verdict table, per-draw forest, claims table, "how to read this", ≤ 1280 px."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess

import pytest

from steerid.io import strict_json_text
from steerid.report import load_results, render_html, render_report
from steerid.report.context import draw_groups
from steerid.report.first_screen import build_first_screen, interval_text
from steerid.report.records import AnswerView, DrawView, FamilyView, Interval, answer_views

from _report_synthetic import downgrade, upgrade


@pytest.fixture
def no_drawing(monkeypatch):
    import matplotlib.pyplot as plt

    from steerid.report import figures

    def placeholder(fig):
        plt.close(fig)
        return "<svg></svg>"

    monkeypatch.setattr(figures, "_svg", placeholder)


@pytest.fixture(scope="module")
def old_results(smoke_run):
    return downgrade(load_results(smoke_run.results_path.parent))


@pytest.fixture(scope="module")
def new_results(smoke_run):
    return upgrade(load_results(smoke_run.results_path.parent))


def _first_screen(html: str) -> str:
    return html[html.index('<section id="verdicts"'):html.index('<section id="howto"')]


def test_draw_view_reads_the_relative_test_on_the_ratio_minus_one_scale():
    record = {"draw": 3, "condition": "-v+v⊥[ρ=1,#3]", "decision": "equivalent", "p_adjusted": 0.01, "ci_level": 0.99375,
              "relative_tost": {"estimate": 1.05, "ci_low": 0.9, "ci_high": 1.15, "margin": 0.2, "p_tost": 0.001}}
    d = DrawView.of(record, steers=True)
    assert d.scale == "relative" and d.error_controlled and d.decision == "equivalent"
    assert d.interval.estimate == pytest.approx(0.05) and d.interval.low == pytest.approx(-0.1)
    assert d.interval.high == pytest.approx(0.15) and d.interval.level == pytest.approx(0.99375)
    unbounded = DrawView.of({**record, "relative_tost": {**record["relative_tost"], "ci_low": None, "ci_high": None}},
                            steers=True)
    assert not unbounded.interval.bounded and unbounded.interval.estimate == pytest.approx(0.05)
    assert DrawView.of(record, steers=False).decision == "no claim"


def test_draw_view_falls_back_to_the_dz_test_of_an_older_run():
    tost = {"ci90": [-0.2, 0.6], "sd_diff": 2.0, "mean_diff": 0.2, "margin_dz": 0.4, "low": -0.8, "high": 0.8,
            "equivalent": True, "ci_level": 0.9, "p_tost": 0.01}
    d = DrawView.of({"draw": 0, "condition": "+v+v⊥[ρ=1,#0]", "tost": tost, "equivalent_holm": False}, steers=True)
    assert d.scale == "dz" and not d.error_controlled and d.margin == 0.4
    assert (d.interval.low, d.interval.estimate, d.interval.high) == pytest.approx((-0.1, 0.1, 0.3))
    assert d.decision == "equivalent"  # what the drawn 90 % interval shows ...
    assert d.controlled_decision == "undecided"  # ... but it did not survive the unit's Holm step


def test_family_sign_and_rho_come_from_the_record_not_the_condition_name(old_results):
    unit = copy.deepcopy(next(u for u in old_results["units"] if u["experiment"] == "likelihood"))
    eff = unit["result"]["efficacy"][unit["result"].get("primary", "likelihood")]
    for f in unit["result"]["families"]:
        f["rho"] = 0.5
        for d in f["draws"]:  # condition names that carry neither sign nor ρ
            new = f"draw-{f['sign']}-{d['draw']}"
            eff[new] = eff.pop(d["condition"])
            d["condition"] = new
    groups = draw_groups(unit, eff)
    assert {(sign, rho) for sign, rho, _ in groups} == {("+", 0.5), ("-", 0.5)}
    assert [len(m) for _, _, m in groups] == [len(f["draws"]) for f in unit["result"]["families"]]
    assert FamilyView.of({"draws": [{"condition": "-v+v⊥[ρ=2,#0]", "tost": {}}], "steers": True}).rho == 2.0  # old records


def test_unstable_ratio_says_so_instead_of_an_interval_that_excludes_its_estimate():
    assert interval_text(Interval(-22.07, -450.59, -49.71)) == "unstable, no CI"
    assert interval_text(Interval(0.97, 0.91, 1.03)) == "0.97 [0.91, 1.03]"
    assert interval_text(Interval(1.2, None, None)) == "1.20 (unbounded CI)"


def test_summary_table_shows_unstable_relative_efficacy_without_its_interval(old_results, no_drawing):
    results = copy.deepcopy(old_results)
    row = results["summary"][0]
    row.update(relative_efficacy=-22.07, relative_efficacy_ci=[-450.59, -49.71], relative_efficacy_unstable=False)
    html = render_html(results)
    assert "-450.59" not in html and "unstable, no CI" in html


def test_verdict_table_has_one_row_per_answer_with_its_error_statement(new_results, no_drawing):
    html = render_html(new_results)
    first = _first_screen(html)
    table = first[first.index('data-table="verdicts"'):first.index("</table>")]
    assert table.count("<tr>") == 1 + len(new_results["answers"])
    views = answer_views(new_results)
    n_eq, n_diff, n_und = views[0].counts
    assert f"{n_eq} / {n_diff} / {n_und}" in table
    size = views[0].family_size
    assert size and f"family-wise 0.05, bonferroni over {size} tries" in table
    assert "0.61 [0.32, 0.88]" in table and "0.930" in table and "0.580" in table and "81 %" in table
    assert "anti-steerable" in table and "+v 0.12 [0.05, 0.25]<br>−v 0.12 [0.05, 0.25]" in table
    assert "p_adjusted 0.0064 (bonferroni over 16)" in table  # the evidence, on hover


def test_claims_table_one_row_per_claim_and_trait(new_results, no_drawing):
    html = render_html(new_results)
    table = html[html.index('data-table="claims"'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr>") == 1 + len(new_results["claims"])
    assert table.count("rowspan=") == 6
    assert "tested by config key experiments: claim4" in table
    assert "[0.910, 1.030]" in table and "relative TOST per draw" in table


def test_forest_draws_every_draw_at_its_decision_level(new_results):
    screen = build_first_screen(new_results)
    assert screen["forest_svg"] and "<svg" in screen["forest_svg"]
    levels = {round(d["ci_level"], 6) for u in new_results["units"] if u["experiment"] in ("e1", "likelihood")
              for f in u["result"]["families"] for d in f["draws"]}
    assert len(levels) == 1
    assert f"{100 * levels.pop():.4g} % confidence" in screen["forest_caption"]
    assert "±20 % of v's shift" in screen["forest_caption"]
    text = re.sub(r"<[^>]+>", " ", screen["forest_svg"])
    for label in ("equivalent", "not equivalent", "undecided", "(shift(v+v⊥) − shift(v)) / shift(v)"):
        assert label in text
    assert "mean of" not in text and "draw-averaged" not in text


def test_older_run_renders_with_the_dz_fallback_and_says_so(old_results, no_drawing):
    html = render_html(old_results)
    first = _first_screen(html)
    assert "predates the per-draw relative test" in first and "older run: verdict from unadjusted per-draw d_z" in first
    assert "predates the equivalence plan" in html
    assert 'data-table="claims"' not in html  # nothing invented for a run without claims


def test_explanations_appear_once_below_the_first_screen(new_results, no_drawing):
    html = render_html(new_results)
    assert html.count("kept as a second statement") == 1
    howto = html[html.index('<section id="howto"'):]
    assert "A draw is equivalent when v + v⊥" in howto  # EquivalencePlan.describe()
    assert "kept as a second statement" not in _first_screen(html)
    assert "draw-averaged" not in _first_screen(html)


def test_schema_2_results_load_and_render(new_results, tmp_path, no_drawing):
    (tmp_path / "results.json").write_text(strict_json_text(new_results), encoding="utf-8")
    assert "Answer: is v identifiable?" in render_report(tmp_path).read_text(encoding="utf-8")


def test_answer_view_of_an_older_answer_reads_the_unit():
    unit = {"result": {"families": [{"sign": 1, "rho": 1.0, "steers": True, "draws": [],
                                     "fraction_equivalent": {"share": {"estimate": 0.5, "low": 0.2, "high": 0.8}}}],
                       "equivalence_radius": {"radius": 1.4}}}
    view = AnswerView.of({"trait": "t", "route": "likelihood", "families": [{"power": 0.7}, {"power": 0.4}]}, unit)
    assert view.share == Interval(0.5, 0.2, 0.8, None) and view.radius == 1.4 and view.power == 0.4
    assert view.farthest_cosine is None and not view.error_controlled


def _chromium() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


MEASURE = """<script>window.addEventListener('load', () => {
  const wide = [...document.querySelectorAll('section, table, figure, svg, p, ul')]
    .filter(el => el.getBoundingClientRect().right > 1280).map(el => el.id || el.getAttribute('data-table') || el.tagName);
  const first = document.getElementById('verdicts').getBoundingClientRect();
  const pre = document.createElement('pre'); pre.id = 'measure';
  pre.textContent = JSON.stringify({scroll: document.documentElement.scrollWidth, wide, first: first.right});
  document.body.appendChild(pre);
});</script>"""


@pytest.mark.parametrize("schema", ["old", "new"])
def test_nothing_is_wider_than_1280_px_in_chromium(schema, old_results, new_results, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed and could not be installed (make test runs `make browser` first)")
    results = new_results if schema == "new" else old_results
    page = tmp_path / "page.html"
    page.write_text(render_html(results).replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900", "--virtual-time-budget=5000"]
    result = subprocess.run([browser, *flags, "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    measured = json.loads(re.search(r'<pre id="measure">(.*?)</pre>', result.stdout).group(1))
    assert measured["scroll"] <= 1280 and measured["first"] <= 1280 and not measured["wide"], measured


def test_older_not_identifiable_that_does_not_survive_holm_says_so():
    draw = {"draw": 0, "condition": "+v+v⊥[ρ=1,#0]", "equivalent_holm": False,
            "tost": {"ci90": [-0.1, 0.1], "sd_diff": 1.0, "mean_diff": 0.0, "margin_dz": 0.4, "low": -0.4, "high": 0.4,
                     "equivalent": True, "ci_level": 0.9}}
    unit = {"result": {"families": [{"sign": 1, "rho": 1.0, "steers": True, "draws": [draw]}]}}
    view = AnswerView.of({"trait": "t", "route": "likelihood", "kind": "not identifiable"}, unit)
    assert view.counts == (0, 0, 1)
    from steerid.report.first_screen import error_statement

    assert error_statement(view).endswith("counts Holm-adjusted over the unit's draws, where no draw survives")


def test_margins_come_from_the_plan_else_the_older_config():
    from steerid.report.first_screen import margin_header, margins

    plan = {"margin": "relative", "margin_rel": 0.2, "margin_dz": 0.4, "level": 0.05, "correction": "holm",
            "effective_correction": "bonferroni"}
    assert margins({"equivalence_plan": plan, "config": {"margin_dz": 0.3}}) == {"dz": 0.4, "rel": 0.2}
    assert margins({"config": {"margin_dz": 0.3}}) == {"dz": 0.3, "rel": None}
    assert margin_header({"equivalence_plan": plan}) == ("margin ±20 % of v's shift (second statement ±0.4 d_z) · "
                                                         "level 0.05 per claim (bonferroni)")
    assert margin_header({"config": {"margin_dz": 0.4, "test_alpha": 0.05}}) == \
        "margin ±0.40 d_z · level 0.05 per draw (unadjusted)"


def test_an_answers_own_error_statement_is_shown(smoke_run, no_drawing):
    results = upgrade(load_results(smoke_run.results_path.parent))
    results["answers"][0]["error_statement"] = "P(false 'not identifiable') ≤ 0.05 over the 4 tries (bonferroni)"
    table = _first_screen(render_html(results))
    assert "P(false &#39;not identifiable&#39;) ≤ 0.05 over the 4 tries (bonferroni)" in table


def test_draw_decided_on_the_dz_margin_is_drawn_in_dz_units():
    record = {"draw": 1, "condition": "+v+v⊥[ρ=1,#1]", "decision": "not equivalent", "margin_kind": "dz", "p_adjusted": 0.02,
              "ci_level": 0.99, "relative_tost": {"estimate": 1.5, "ci_low": 1.2, "ci_high": 1.8, "margin": 0.2},
              "dz_tost": {"mean": 0.6, "ci_low": 0.5, "ci_high": 0.7, "low": -0.8, "high": 0.8, "margin_dz": 0.4}}
    d = DrawView.of(record, steers=True)  # sd = 0.8 / 0.4 = 2
    assert d.scale == "dz" and d.error_controlled and d.margin == 0.4 and d.decision == "not equivalent"
    assert (d.interval.low, d.interval.estimate, d.interval.high) == pytest.approx((0.25, 0.3, 0.35))


def test_a_proportion_of_zero_with_its_wilson_interval_is_not_called_unstable():
    from steerid.report.first_screen import interval_text
    from steerid.report.records import Interval

    assert interval_text(Interval(0.0, 3.469446951953614e-18, 0.0385)) == "0.00 [0.00, 0.04]"
    assert interval_text(Interval(-22.07, -450.59, -49.71)) == "unstable, no CI"
