"""benchmarks/gpu_check.py at tiny size on the CPU (so it cannot rot), and its clean skip without CUDA."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_writes_every_check(gpu_check, tmp_path, capsys):
    assert gpu_check.main(["--tiny", "--device", "cpu", "--out", str(tmp_path)]) == 0
    assert "torch" in capsys.readouterr().out  # the versions line
    record = json.loads((tmp_path / "gpu_check.json").read_text())
    assert record["versions"]["torch"] == torch.__version__ and record["tiny"] is True
    (name, shape), = record["shapes"].items()
    assert "error" not in shape and "skipped" not in shape
    agreement = shape["agreement"]
    # fp32 on the CPU: the engine's greedy tokens are model.generate's, steered and unsteered rows alike
    assert agreement["rows_equal"] == agreement["rows"] == 4 * gpu_check.Plan(tiny=True).agreement_prompts
    assert agreement["share_tokens_before_first_difference"] == 1.0
    assert [row["batch"] for row in shape["throughput"]] == list(gpu_check.Plan(tiny=True).batches)
    for row in shape["throughput"]:
        assert row["engine_tokens_per_s"] > 0 and row["hf_tokens_per_s"] > 0 and math.isfinite(row["ratio_engine_over_hf"])
    assert {row["scope"] for row in shape["likelihood"]} == {"all", "generated"}
    assert all(row["finite"] and row["rows"] == 21 * row["items"] for row in shape["likelihood"])
    e1 = shape["e1_unit_paper"]
    assert e1["conditions"] == 57 and e1["unit_seconds_extrapolated"] >= e1["seconds_timed"] > 0
    table = (tmp_path / "gpu_check.md").read_text()
    assert name in table and "likelihood route rows/s, scope generated" in table


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_real_shapes_skip_cleanly_without_cuda(gpu_check, tmp_path, capsys):
    assert gpu_check.main(["--out", str(tmp_path)]) == 0
    assert "skipped" in capsys.readouterr().out
    record = json.loads((tmp_path / "gpu_check.json").read_text())
    assert "CUDA is not available" in record["skipped"] and record["shapes"] == {}
    assert "Skipped" in (tmp_path / "gpu_check.md").read_text()


def test_bad_arguments_exit_2(gpu_check, tmp_path):
    assert gpu_check.main(["--tiny", "--only", "GPT-9", "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "gpu_check.json").exists()


def test_real_shapes_are_the_published_configs(gpu_check):
    shapes = gpu_check.SHAPES
    assert set(shapes) == {"SmolLM2-135M", "Llama-3.2-1B", "Qwen2.5-3B"}
    assert (shapes["SmolLM2-135M"]["hidden_size"], shapes["SmolLM2-135M"]["num_hidden_layers"]) == (576, 30)
    assert (shapes["Llama-3.2-1B"]["vocab_size"], shapes["Llama-3.2-1B"]["num_key_value_heads"]) == (128256, 8)
    assert (shapes["Qwen2.5-3B"]["intermediate_size"], shapes["Qwen2.5-3B"]["num_hidden_layers"]) == (11008, 36)
