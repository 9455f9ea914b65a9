"""results.json is strict JSON: non-finite floats are written as null with their kind beside them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from _strict_json import non_strict_files, strict_loads

from steerid.errors import OutputError
from steerid.io import NON_FINITE_KEY, restore_non_finite, strict_json_text


def test_strict_loads_refuses_what_python_json_accepts() -> None:
    for text in ('{"a": NaN}', '[Infinity]', '{"b": -Infinity}'):
        json.loads(text)
        with pytest.raises(ValueError, match="non-standard"):
            strict_loads(text)


def test_non_finite_become_null_with_reason_and_come_back() -> None:
    data = {"ratio": {"estimate": float("nan"), "ci": [float("-inf"), float("inf")]}, "n": 3, "a/b": [1.5, float("nan")]}
    text = strict_json_text(data, indent=1, sort_keys=True)
    parsed = strict_loads(text)
    assert parsed["ratio"] == {"estimate": None, "ci": [None, None]} and parsed["n"] == 3
    assert parsed[NON_FINITE_KEY] == {"/ratio/estimate": "NaN", "/ratio/ci/0": "-Infinity", "/ratio/ci/1": "Infinity",
                                      "/a~1b/1": "NaN"}
    back = restore_non_finite(parsed)
    assert NON_FINITE_KEY not in back and math.isnan(back["ratio"]["estimate"]) and back["ratio"]["ci"] == [-math.inf, math.inf]
    assert back["a/b"][0] == 1.5 and math.isnan(back["a/b"][1])


def test_finite_data_has_no_marker_and_older_files_read_as_before() -> None:
    assert NON_FINITE_KEY not in strict_loads(strict_json_text({"x": 1.0}))
    old = json.loads('{"schema_version": 1, "x": NaN}')  # schema 1 wrote bare NaN
    assert math.isnan(restore_non_finite(old)["x"])


def test_a_marker_that_points_nowhere_is_one_clear_error() -> None:
    with pytest.raises(OutputError, match="does not point to a null"):
        restore_non_finite({"x": 1.0, NON_FINITE_KEY: {"/x": "NaN"}})


def test_suite_check_catches_a_non_strict_results_file(tmp_path: Path) -> None:
    """The session check of tests/conftest.py finds a NaN in a schema-2 results.json."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text('{"schema_version": 2, "steerid_version": "x", "units": [], "v": NaN}')
    (tmp_path / "torn").mkdir()
    (tmp_path / "torn" / "results.json").write_text('{"schema_version": 2, "uni')
    assert [line.split(":")[0] for line in non_strict_files(tmp_path)] == [str(run / "results.json")]
    (run / "results.json").write_text('{"schema_version": 2, "steerid_version": "x", "units": [], "v": null}')
    assert non_strict_files(tmp_path) == []
