"""``result.verdict(...)`` on a run with two strengths: take ``alpha_rel=`` / ``environment=``, and say which to add."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from steerid.audit.api import AuditResult, CellError


def row(alpha: float, environment: str, verdict: str) -> dict:
    return {"trait": "sentiment", "route": "e1", "sign": "+v", "layer": 15, "method": "mean_diff", "alpha_rel": alpha,
            "environment": environment, "rho": 1.0, "verdict": verdict}


@pytest.fixture()
def result(tmp_path: Path) -> AuditResult:
    rows = [row(0.5, "in_distribution", "equivalent"), row(1.0, "in_distribution", "inconclusive"),
            row(0.5, "topic_shift", "not equivalent"), row(1.0, "topic_shift", "not steering")]
    (tmp_path / "results.json").write_text(json.dumps({"schema_version": 2, "summary": rows, "units": []}))
    outcome = SimpleNamespace(run_dir=tmp_path, results_path=tmp_path / "results.json", report_path=tmp_path / "r.html",
                              n_units=0)
    return AuditResult(outcome)  # type: ignore[arg-type]


def test_strength_and_environment_pick_one_row(result: AuditResult) -> None:
    assert result.verdict("sentiment", route="e1", sign="+v", alpha_rel=1.0, environment="topic_shift") == "not steering"
    assert result.verdict("sentiment", route="e1", alpha_rel=0.5, environment="in_distribution") == "equivalent"


def test_several_rows_name_the_arguments_that_tell_them_apart(result: AuditResult) -> None:
    with pytest.raises(CellError) as info:
        result.verdict("sentiment", route="e1", sign="+v")
    message = str(info.value)
    assert message.startswith("4 summary rows match")
    assert "alpha_rel= one of [0.5, 1.0]" in message and "environment= one of ['in_distribution', 'topic_shift']" in message
    with pytest.raises(KeyError, match=r"add environment= one of") as info:  # still a KeyError for old callers
        result.verdict("sentiment", route="e1", alpha_rel=0.5)
    assert "alpha_rel=" not in str(info.value).split("add", 1)[1]


def test_no_row_and_unknown_field(result: AuditResult) -> None:
    with pytest.raises(CellError, match="no summary row matches"):
        result.verdict("formality", route="e1")
    with pytest.raises(CellError, match="unknown cell field"):
        result.verdict("sentiment", strength=0.5)
