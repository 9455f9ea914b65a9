"""Happy paths of the small CLI commands (the error paths live in tests/reliability)."""

import json

import pytest

from _cli_main import run_ok as _run
from steerid.cli import main
from steerid.vector import SteeringVector




def test_traits_lists_every_builtin_trait_with_counts(capsys):
    out = _run(["traits"], capsys).out
    for name in ("sentiment", "formality", "politeness", "truthfulness", "agreeableness"):
        assert name[:10] in out


def test_info_json_on_tiny_model(capsys):
    data = json.loads(_run(["info", "tiny:llama", "--json"], capsys).out)
    assert data["n_layers"] == 3 and data["hidden_size"] == 48
    assert set(map(int, data["median_token_norm"])) == {0, 1, 2}
    assert all(v > 0 for v in data["median_token_norm"].values())


def test_extract_then_steer_with_compare(tmp_path, capsys):
    out = tmp_path / "v.safetensors"
    _run(["extract", "tiny:llama", "--trait", "sentiment", "--layer", "1", "--method", "pca", "--out", str(out)], capsys)
    vector = SteeringVector.load(out)
    assert vector.provenance.method == "pca" and vector.provenance.site == "in:1"
    assert vector.provenance.trait == "sentiment" and vector.provenance.n_examples >= 80
    text = _run(["steer", "tiny:llama", "--vector", str(out), "--prompt", "hi", "--compare", "--max-new-tokens", "3"],
                capsys).out
    assert text.count("‖Δ‖") == 2 and "unsteered" in text and "-v" in text


def test_recover_gauge_in_the_fisher_basis_records_it(tmp_path, capsys):
    vec = tmp_path / "v.safetensors"
    _run(["extract", "tiny:llama", "--trait", "sentiment", "--layer", "1", "--out", str(vec)], capsys)
    out = tmp_path / "canon.safetensors"
    text = _run(["recover", "tiny:llama", "--vector", str(vec), "--constraint", "gauge", "--basis", "fisher",
                 "--variance", "0.9", "--out", str(out)], capsys).out
    canonical = SteeringVector.load(out)
    assert canonical.provenance.method == "mean_diff+gauge"
    assert canonical.provenance.method_params["gauge"]["basis"] == "fisher" and "fisher_points" in text
    with pytest.raises(SystemExit) as info:
        main(["recover", "tiny:llama", "--vector", str(vec), "--basis", "gram", "--out", str(out)])
    assert info.value.code == 2 and "unknown gauge basis" in capsys.readouterr().err


def test_tables_keep_whole_names_when_piped_or_narrow(capsys, monkeypatch):
    """`steerid traits | cat` with COLUMNS=60 once cut "agreeableness" to "agreeablene…"."""
    import io

    from rich.console import Console

    from steerid.cli.common import new_table

    monkeypatch.setenv("COLUMNS", "60")
    out = _run(["traits"], capsys).out  # capsys: stdout is not a terminal
    assert "agreeableness" in out and "truthfulness" in out and "…" not in out
    assert "in_distribution" in out and "genre_shift" in out
    # a narrow *terminal*: the name column stays whole, the number columns give way
    names = ["agreeableness", "truthfulness"]
    table = new_table("built-in traits", ["trait", "pairs", "likelihood", "in_distribution", "topic_shift",
                                          "genre_shift"], names=names)
    for name in names:
        table.add_row(name, "80", "268", "317", "317", "327")
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, width=60, color_system=None).print(table)
    assert all(name in buffer.getvalue() for name in names)


def test_choice_lists_match_their_registries():
    from typing import get_args

    from steerid.audit.profiles import IDENTIFY_ALLOWED
    from steerid.audit.runner import DEVICES, EXECUTORS
    from steerid.cli import common
    from steerid.extract.registry import EXTRACTORS
    from steerid.models.loader import DEVICES as LOADER_DEVICES
    from steerid.models.site import Point
    from steerid.recover.pipeline import CONSTRAINT_NAMES

    assert common.EXTRACT_METHODS == tuple(EXTRACTORS) and common.CONSTRAINTS == tuple(CONSTRAINT_NAMES)
    assert common.POINTS == get_args(Point) and common.EXECUTORS == EXECUTORS
    assert common.IDENTIFY_EXPERIMENTS == IDENTIFY_ALLOWED and common.DEVICES == DEVICES == LOADER_DEVICES


def test_info_uses_the_capture_norms(capsys):
    from steerid.capture import median_token_norm
    from steerid.cli.info import PROBE_TEXTS
    from steerid.models import Site, load_model

    data = json.loads(_run(["info", "tiny:llama", "--json", "--device", "cpu"], capsys).out)
    lm = load_model("tiny:llama")
    assert data["median_token_norm"]["1"] == median_token_norm(lm, list(PROBE_TEXTS), Site(1))
    assert data["device"] == "cpu" and data["dtype"] == "float32"
