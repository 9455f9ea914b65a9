"""Happy paths of the small CLI commands (the error paths live in tests/reliability)."""

import json

import pytest

from steerid.cli import main
from steerid.vector import SteeringVector


def _run(argv, capsys):
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    return capsys.readouterr()


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
    assert text.count("‖Δ‖") == 3 and "none" in text and "-v" in text


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
