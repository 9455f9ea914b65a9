"""The result protocol: to_dict → JSON round trip, compact repr, printable summary with an HTML table."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import math
import pickle

import numpy as np
import pytest

from steerid.experiments import EXPERIMENTS
from steerid.experiments.fisher import null_space_dimension
from steerid.experiments.nullspace import spectrum_from_covariance
from steerid.experiments.orthogonal import E1Config, E1Result, OrthogonalConfig, OrthogonalResult
from steerid.recover.benchmark import BenchmarkResult, BenchmarkRow
from steerid.results import ResultMixin, Summary, Table, fmt, jsonable, records_table
from steerid.stats import (
    cohens_dz,
    fraction_equivalent,
    holm,
    paired_ratio_ci,
    paired_tost,
    planned_looks,
    ratio_tost_paired,
    sequential_paired_tost,
    wilson_ci,
)


def _same_json(a: object, b: object) -> bool:
    """Equality that treats NaN as equal to NaN (json writes both as NaN)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _results() -> dict[str, tuple[ResultMixin, list[str]]]:
    """A few result objects and numbers their summaries must show."""
    rng = np.random.default_rng(0)
    d = rng.normal(0.05, 1.0, 120)
    tost = paired_tost(d, margin_raw=0.4)
    seq = sequential_paired_tost(rng.normal(0.0, 1.0, 200), planned_looks(50, 200), margin_raw=0.5)
    frac = fraction_equivalent(rng.normal(0.0, 1.0, (6, 40)), margin_raw=0.6, n_boot=200, seed=1)
    multi = holm([0.01, 0.04, 0.3])
    wilson = wilson_ci(7, 10)
    dz = cohens_dz(d)
    ratio = ratio_tost_paired(rng.normal(1.0, 0.3, 60), rng.normal(1.0, 0.3, 60))
    rows = [BenchmarkRow("synthetic", "gauge", "drift", 120, 1.0, 0.5, 0.9, 0.99, 0.2, 1e-5, True, "rank 12"),
            BenchmarkRow("synthetic", "gauge", "recovery", 40, 0.5, 0.0, 0.8, 0.95)]
    bench = BenchmarkResult(size="small", seed=0, seconds=1.5, rows=rows, behaviour={"kl_v_vs_none": 0.25})
    e1 = OrthogonalResult(
        config={"alpha_rel": 0.1}, n_prompts=40, displacement_norm=8.0, primary="sentiment", measures=["sentiment"],
        planned_power=0.81, n_required=38, efficacy={"sentiment": {}},
        families=[{"sign": 1, "rho": 1.0, "steers": True, "n_draws": 8, "n_draws_equivalent": 5,
                   "fraction_pass": {"estimate": 0.625}, "tost": {"p_tost": 0.0123, "p_tost_holm": 0.0246},
                   "verdict": "equivalent"}])
    null = null_space_dimension(np.array([4.0, 1.0, 1e-5]))[0]
    cov = spectrum_from_covariance(np.diag([3.0, 2.0, 1e-9]), n=50, site="in:1")
    return {
        "tost": (tost, [fmt(tost.p_lower), fmt(tost.p_upper), fmt(tost.mean_diff), "EQUIVALENT" if tost.equivalent else "not shown"]),
        "sequential": (seq, [str(seq.stopping_n), seq.decision.upper()]),
        "fraction": (frac, [f"{frac.n_pass}/{frac.n_draws}", fmt(frac.share.estimate)]),
        "holm": (multi, [fmt(0.04), fmt(float(multi.p_adjusted[1]))]),
        "wilson": (wilson, [fmt(wilson.low), fmt(wilson.high)]),
        "effect_size": (dz, [fmt(dz.value)]),
        "ratio_tost": (ratio, [fmt(ratio.ratio), fmt(ratio.p_tost)]),
        "benchmark": (bench, ["0.99", "kl_v_vs_none", "0.25"]),
        "e1": (e1, ["0.0123", "0.0246", "equivalent", "40"]),
        "null_space_dimension": (null, [fmt(null.threshold), str(null.dimension)]),
        "covariance": (cov, ["50", str(cov.numerical_rank)]),
    }


RESULTS = _results()


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_to_dict_round_trips_through_json(name: str) -> None:
    result, _ = RESULTS[name]
    out = result.to_dict()
    assert not any(str(key).startswith("_") for key in out)  # ClassVar settings are not serialised
    back = json.loads(json.dumps(out))
    assert _same_json(back, out)
    assert _same_json(jsonable(result), out)  # jsonable goes through to_dict


def test_from_dict_reads_a_stored_result_back_typed() -> None:
    """``Result.from_dict(to_dict())`` gives the result again (typed fields; nested records as JSON)."""
    from steerid.errors import DataError

    e1, _ = RESULTS["e1"]
    stored = json.loads(json.dumps(e1.to_dict()))
    back = OrthogonalResult.from_dict({**stored, "written_by_the_audit": 1})  # keys that are not fields are left out
    assert isinstance(back, OrthogonalResult) and _same_json(back.to_dict(), stored)
    assert back.n_prompts == e1.n_prompts and back.families[0]["verdict"] == e1.families[0]["verdict"]
    with pytest.raises(DataError, match="lacks families"):
        OrthogonalResult.from_dict({k: v for k, v in stored.items() if k != "families"})


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_repr_is_compact(name: str) -> None:
    result, _ = RESULTS[name]
    text = repr(result)
    assert text.startswith(type(result).__name__ + "(") and text.endswith(")")
    assert "\n" not in text and len(text) < 240


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_summary_prints_key_numbers_and_renders_an_html_table(name: str) -> None:
    result, pieces = RESULTS[name]
    summary = result.summary()
    assert isinstance(summary, Summary) and isinstance(summary, str)
    text = str(summary)
    for piece in pieces:
        assert piece in text, (piece, text)
    html = summary._repr_html_()
    assert html.startswith("<table") and html.count("<table") == html.count("</table>") >= 1
    assert "<tr>" in html and "<td>" in html


def test_summary_is_built_from_rows_tables_and_sections() -> None:
    table = Table(("look", "n", "p"), ((1, 40, 0.0123), (2, 80, math.nan)))
    s = Summary("Paired TOST", rows=[("n", 40), ("90% CI", (0.1, 0.2)), ("x", None)], tables=[table],
                verdict="EQUIVALENT", sections={"assumptions": ["paired"], "notes": []})
    text = str(s)
    assert text.splitlines()[0].strip() == "Paired TOST"
    for piece in ("n:", "40", "[0.1, 0.2]", "0.0123", "nan", "EQUIVALENT", "assumptions:", "  - paired"):
        assert piece in text
    assert "notes:" not in text  # empty sections are left out
    assert repr(s) == text
    html = s._repr_html_()
    assert "<caption>Paired TOST</caption>" in html and "<th>look</th>" in html and "<li>paired</li>" in html
    assert pickle.loads(pickle.dumps(s)) == s
    assert Summary("a < b & c")._repr_html_().count("&lt;") == 1  # escaped


def test_jsonable_converts_numpy_dataclasses_and_to_dict_objects() -> None:
    @dataclasses.dataclass
    class Plain:
        x: np.ndarray
        y: tuple

    class WithToDict:
        def to_dict(self) -> dict:
            return {"k": np.int64(3)}

    value = {"a": np.float64(0.5), 1: Plain(np.arange(2), (np.bool_(True), None)), "b": WithToDict(),
             "c": float("nan")}
    out = jsonable(value)
    assert out["a"] == 0.5 and type(out["a"]) is float
    assert out["1"] == {"x": [0, 1], "y": [True, None]} and type(out["1"]["x"][0]) is int
    assert out["b"] == {"k": 3} and math.isnan(out["c"])


def test_records_table_reads_dotted_paths() -> None:
    table = records_table([{"a": {"b": 1}}, {"a": 2}], [("b", "a.b"), ("missing", "z")])
    assert table.rows == ((1, None), (None, None))


def test_experiment_names_keep_their_e_aliases() -> None:
    assert E1Config is OrthogonalConfig and E1Result is OrthogonalResult
    for short, (module_name, config, result) in EXPERIMENTS.items():
        module = importlib.import_module(module_name)
        assert getattr(module, f"{short.upper()}Result") is getattr(module, result)
        if short != "e3":  # E3 runs E1's config per environment
            assert getattr(module, f"{short.upper()}Config") is getattr(module, config)
        assert not hasattr(module, "Config") and not hasattr(module, "Result")


@pytest.mark.parametrize("module_name", [
    "steerid.stats.tost.result", "steerid.stats.sequential.result", "steerid.stats.sequential.plan",
    "steerid.stats.sequential.operating", "steerid.stats.heterogeneity.anova", "steerid.stats.heterogeneity.share",
    "steerid.stats.radius", "steerid.stats.multiple", "steerid.stats.interval", "steerid.stats.effect_size",
    "steerid.stats.ratio_tost", "steerid.experiments.orthogonal", "steerid.experiments.likelihood",
    "steerid.experiments.sweep", "steerid.experiments.environments", "steerid.experiments.logit_distance",
    "steerid.experiments.methods", "steerid.experiments.nullspace", "steerid.experiments.spanning",
    "steerid.experiments.farthest_common", "steerid.experiments.layer_scan", "steerid.experiments.fisher.spectrum",
    "steerid.experiments.fisher.finite_difference", "steerid.recover.benchmark.result",
])
def test_every_result_dataclass_follows_the_protocol(module_name: str) -> None:
    module = importlib.import_module(module_name)
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if c.__module__ == module_name and dataclasses.is_dataclass(c) and not c.__name__.endswith("Config")]
    assert classes
    for cls in classes:
        assert issubclass(cls, ResultMixin), cls
        # the dataclass-generated repr is switched off (repr=False); BenchmarkResult writes its own
        assert "__repr__" not in cls.__dict__ or cls is BenchmarkResult, cls
        assert callable(cls.summary) and callable(cls.to_dict)
