"""The Python API (``steerid.audit(...)`` → ``AuditResult``), the callable package, and --device plumbing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import yaml

import steerid
from steerid.audit import AuditResult, Cell, run_audit
from steerid.audit.profiles import build_config
from steerid.errors import ConfigError, ModelError, VectorError

from _cli_main import run_main as _cli

# the mini audit of tests/audit/test_audit.py: one trait, both E1 routes, one α, one environment
MINI = {"traits": ["sentiment"], "alphas_rel": [1.0], "environments": ["in_distribution"],
        "experiments": ["likelihood", "e1"], "likelihood": {"n_items": 6}, "e1": {"n_prompts": 3, "max_new_tokens": 3}}
README = Path(__file__).resolve().parents[2] / "README.md"
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine's behaviour")


@pytest.fixture(scope="module")
def api_run(tmp_path_factory):
    """The mini audit through ``steerid.audit``."""
    base = tmp_path_factory.mktemp("api")
    path = base / "mini.yaml"
    path.write_text(yaml.safe_dump(MINI), encoding="utf-8")
    result = steerid.audit("tiny:llama", profile="smoke", config=path, out=base / "run", render=False)
    return path, result


def test_the_package_is_callable_and_still_a_package():
    import steerid.audit as package
    from steerid.audit.config import AuditConfig

    assert callable(steerid.audit) and steerid.audit is package and "audit" in dir(steerid)
    assert package.run_audit is run_audit and steerid.audit.config.AuditConfig is AuditConfig
    assert steerid.audit.audit.__module__ == "steerid.audit.api"


def test_cli_and_python_api_give_identical_results(api_run, tmp_path, capsys):
    path, result = api_run
    run = tmp_path / "cli"
    code, out, err = _cli(["audit", "tiny:llama", "--profile", "smoke", "--config", str(path), "--out", str(run),
                           "--quiet"], capsys)
    assert code == 0, err
    cli_results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    verdicts = lambda rows: [(r["trait"], r["route"], r["sign"], r["verdict"], r["verdict_relative"]) for r in rows]  # noqa: E731
    assert verdicts(cli_results["summary"]) == verdicts(result.to_dict()["summary"])
    assert len(cli_results["summary"]) == 4  # 2 routes × 2 signs
    assert (run / "results.json").read_bytes() == result.results_path.read_bytes()


def test_audit_result_views(api_run, tmp_path):
    _, result = api_run
    table = result.summary()
    assert len(table) == 4 and {"trait", "route", "sign", "verdict", "steers", "p_tost_holm_audit"} <= set(table.columns)
    assert set(table["route"]) == {"generation", "likelihood"} and set(table["sign"]) == {"+v", "-v"}
    assert all(isinstance(cell, Cell) for cell in result.verdicts) and len(result.verdicts) == 4
    assert result.verdict("sentiment", route="generation", sign="-v") in (
        "equivalent", "not equivalent", "inconclusive", "not steering")
    with pytest.raises(KeyError, match="no summary row matches"):
        result.verdict("formality")
    text = repr(result)
    assert text.startswith("AuditResult(model='tiny:llama'") and "units=2" in text and "\n" not in text
    assert "<table" in result._repr_html_() and "verdict" in result._repr_html_()
    from steerid.io import restore_non_finite

    on_disk = restore_non_finite(json.loads(result.results_path.read_text(encoding="utf-8")))  # strict JSON: nulls
    assert json.dumps(result.to_dict(), sort_keys=True) == json.dumps(on_disk, sort_keys=True)  # NaN != NaN in ==
    assert "NaN" not in result.results_path.read_text(encoding="utf-8").replace('"NaN"', "")
    written = result.report(tmp_path / "r.html")
    assert "<html" in written.read_text(encoding="utf-8").lower()
    assert isinstance(result, AuditResult)


def test_audit_a_loaded_model_and_tokenizer(tmp_path):
    from steerid.models import load_model

    lm = load_model("tiny:llama")
    config = {**MINI, "experiments": ["likelihood"]}
    result = steerid.audit(lm.model, lm.tokenizer, profile="smoke", config=config, out=tmp_path / "run", render=False)
    data = result.to_dict()
    assert data["model"]["spec"].startswith("hf:") and data["model"]["weights_hash"] == lm.info.weights_hash
    assert len(result.summary()) == 2
    with pytest.raises(ConfigError, match="two arguments"):
        steerid.audit((lm.model, lm.tokenizer), out=tmp_path / "x")
    with pytest.raises(ConfigError, match="needs its tokenizer"):
        steerid.audit(lm.model, out=tmp_path / "x")
    with pytest.raises(ConfigError, match="tokenizer was given with a model spec"):
        steerid.audit("tiny:llama", lm.tokenizer, out=tmp_path / "x")
    with pytest.raises(VectorError, match="does not exist"):
        steerid.audit("tiny:llama", vector=tmp_path / "nope.safetensors", out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_identify_through_cli_and_api_gives_identical_results(tmp_path, capsys):
    vec = tmp_path / "v.safetensors"
    code, _, err = _cli(["extract", "tiny:llama", "--trait", "sentiment", "--layer", "1", "--out", str(vec)], capsys)
    assert code == 0, err
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"likelihood": {"n_items": 6}, "alphas_rel": [1.0]}), encoding="utf-8")
    code, out, err = _cli(["identify", "tiny:llama", "--vector", str(vec), "--experiments", "likelihood", "--profile",
                           "smoke", "--config", str(config), "--out", str(tmp_path / "cli"), "--quiet"], capsys)
    assert code == 0, err
    result = steerid.audit("tiny:llama", vector=vec, profile="smoke", out=tmp_path / "api", render=False,
                           config={"experiments": ["likelihood"], "likelihood": {"n_items": 6}, "alphas_rel": [1.0]})
    assert (tmp_path / "cli" / "results.json").read_bytes() == result.results_path.read_bytes()
    assert result.to_dict()["config"]["vector_trait"] == "sentiment" and len(result.summary()) == 2


def test_identify_config_file_experiments_win_over_the_default_through_cli_and_api(tmp_path, capsys):
    """A config file that names ``experiments`` decides them through either door (no --experiments given)."""
    vec = tmp_path / "v.safetensors"
    code, _, err = _cli(["extract", "tiny:llama", "--trait", "sentiment", "--layer", "1", "--out", str(vec)], capsys)
    assert code == 0, err
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"experiments": ["e4"], "e4": {"n_prompts": 2, "max_new_tokens": 2, "n_draws": 1},
                                      "alphas_rel": [1.0]}), encoding="utf-8")
    code, _, err = _cli(["identify", "tiny:llama", "--vector", str(vec), "--profile", "smoke", "--config", str(config),
                         "--out", str(tmp_path / "cli"), "--quiet"], capsys)
    assert code == 0, err
    result = steerid.audit("tiny:llama", vector=vec, profile="smoke", config=config, out=tmp_path / "api", render=False)
    cli = json.loads((tmp_path / "cli" / "results.json").read_text(encoding="utf-8"))
    assert [u["experiment"] for u in cli["units"]] == ["e4"] and cli["config"]["experiments"] == ["e4"]
    assert (tmp_path / "cli" / "results.json").read_bytes() == result.results_path.read_bytes()
    # without experiments in the file, both doors run the registry's identify defaults
    from steerid.audit.profiles import IDENTIFY_EXPERIMENTS, identify_experiments
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump({"alphas_rel": [1.0]}), encoding="utf-8")
    assert identify_experiments(bare) == list(IDENTIFY_EXPERIMENTS) == ["e1", "likelihood", "e4", "e6"]
    assert identify_experiments(config) is None and identify_experiments(config, ("e6",)) == ["e6"]


# ---------------------------------------------------------------------------------------------
# --device / dtype auto


@NO_CUDA
def test_device_auto_is_the_cpu_here_and_is_recorded(api_run):
    _, result = api_run
    data = result.to_dict()
    assert data["model"]["device"] == "cpu" and data["model"]["dtype"] == "float32"
    assert data["provenance"]["device"] == "cpu" and data["provenance"]["decode"]["device"] == "cpu"
    provenance = json.loads((result.run_dir / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["device"] == "cpu" and provenance["dtype"] == "float32"
    assert data["config"]["dtype"] == "float32"  # dtype auto resolves before the run; profiles say float32


@NO_CUDA
def test_device_cuda_without_cuda_is_one_line_exit_2_and_leaves_nothing(tmp_path, capsys):
    for argv in (["info", "tiny:llama", "--device", "cuda"],
                 ["audit", "tiny:llama", "--profile", "smoke", "--device", "cuda", "--out", str(tmp_path / "run")]):
        code, _, err = _cli(argv, capsys)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
        assert "CUDA is not available" in lines[0] and " — fix: " in lines[0] and "--device cpu" in lines[0]
    assert not (tmp_path / "run").exists()
    code, _, err = _cli(["extract", "tiny:llama", "--trait", "sentiment", "--device", "gpu"], capsys)
    assert code == 2 and "unknown device 'gpu'" in err and "auto, cpu, cuda" in err


@NO_CUDA
def test_dtype_auto_resolves_in_the_config_and_keeps_the_unit_ids(tmp_path):
    from steerid.audit.grid import expand_grid
    from steerid.audit.runner import load_and_resolve

    config = build_config("smoke", overrides={**MINI, "dtype": "auto"})
    resolved, info, _ = load_and_resolve(config, "auto")
    assert resolved.dtype == "float32" and info["device"] == "cpu"
    explicit, _, _ = load_and_resolve(build_config("smoke", overrides=MINI), "cpu")
    ids = [u.id for u in expand_grid(resolved, weights_hash=info["weights_hash"], device=info["device"])]
    assert ids == [u.id for u in expand_grid(explicit, weights_hash=info["weights_hash"])]
    with pytest.raises(ModelError, match="unknown device"):
        load_and_resolve(config, "tpu")


# ---------------------------------------------------------------------------------------------
# README


def test_readme_python_api_example_runs(tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert '"smollm2-135m"' in code
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code.replace('"smollm2-135m"', '"tiny:llama"'), "README.md", "exec"), namespace)  # noqa: S102
    result = namespace["result"]
    assert (tmp_path / "runs" / "sentiment-api" / "report.html").is_file() and namespace["html"].is_file()
    assert namespace["data"]["summary"] and len(namespace["table"]) == 2
