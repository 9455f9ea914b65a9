"""``--alpha kl:B`` on the command line: steer and layers pick α per sign by the KL budget."""

import json
import re

import pytest

from _cli_main import run_ok as _run
from steerid.cli import main




def test_steer_with_a_kl_budget_reports_alpha_and_kl_per_sign(tmp_path, capsys):
    vec = tmp_path / "v.safetensors"
    _run(["extract", "tiny:llama", "--trait", "sentiment", "--layer", "1", "--out", str(vec)], capsys)
    res = _run(["steer", "tiny:llama", "--vector", str(vec), "--prompt", "hi", "--compare", "--max-new-tokens", "3",
                "--alpha", "kl:0.0005"], capsys)
    assert res.out.count("‖Δ‖") == 2 and "unsteered" in res.out  # +v and −v carry their displacement
    err = " ".join(res.err.split())  # the console may wrap long lines
    found = re.findall(r"kl:0.0005 ([+-])v: α_rel = \S+ \(‖Δ‖ = \S+\), mean KL (\S+) nats over \d+ positions of (\d+) "
                       r"evaluation prompts of sentiment", err)
    assert [sign for sign, _, _ in found] == ["+", "-"], err
    assert all(0 < float(kl) <= 0.0005 for _, kl, _ in found)


def test_layers_with_a_kl_budget_gives_each_layer_its_alpha(capsys):
    data = json.loads(_run(["layers", "tiny:llama", "--trait", "sentiment", "--layers", "1,2", "--alpha", "kl:0.0005",
                            "--json"], capsys).out)
    assert data["kl_budget"] == 0.0005 and data["alpha_rel"] is None
    for row in data["rows"]:
        assert 0 < row["kl_pos"] <= 0.0005 and 0 < row["kl_neg"] <= 0.0005
        assert row["alpha_rel_pos"] > 0 and row["alpha_rel_neg"] > 0
    assert data["rows"][0]["alpha_rel_pos"] != data["rows"][1]["alpha_rel_pos"]


def test_bad_kl_budget_is_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["layers", "tiny:llama", "--alpha", "kl:zero"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "KL budget" in err and "Traceback" not in err
