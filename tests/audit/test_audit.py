"""The audit runner: config validation, grid and unit ids, checkpoint/resume, lock, determinism, CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from steerid.audit import run_audit
from steerid.audit.checkpoint import CHECKPOINT, Checkpoint, RunLock, encode_line
from steerid.audit.results import SCHEMA_VERSION
from steerid.audit.config import resolve, validate_config
from steerid.audit.grid import expand_grid
from steerid.audit.profiles import build_config, list_profiles
from steerid.errors import ConfigError, OutputError

# a minimal audit on the tiny model: one trait, both E1 routes, one α, one environment
MINI = {"traits": ["sentiment"], "alphas_rel": [1.0], "environments": ["in_distribution"],
        "experiments": ["likelihood", "e1"], "likelihood": {"n_items": 6}, "e1": {"n_prompts": 3, "max_new_tokens": 3}}


def mini_config(tmp_path: Path, **changes) -> object:
    data = {**MINI, **changes}
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return build_config("smoke", path)


@pytest.fixture(scope="module")
def mini_run(tmp_path_factory):
    """One uninterrupted mini audit (no report) whose files other tests compare against."""
    base = tmp_path_factory.mktemp("audit")
    config = mini_config(base)
    outcome = run_audit(config, base / "run", quiet=True, render=False)
    return config, outcome


# ---------------------------------------------------------------------------------------------
# config


@pytest.mark.parametrize("text, fragment", [
    ("alpha_rel: [0.1]\n", "unknown key 'alpha_rel' — fix: did you mean 'alphas_rel'?"),
    ("e1: {n_prompt: 4}\n", "unknown key 'e1.n_prompt'"),
    ("config_version: 2\n", "upgrade steerid"),
    ("alphas_rel: [-0.1]\n", "invalid value for 'alphas_rel'"),
    ("alphas_rel: [.nan]\n", "invalid value for 'alphas_rel'"),
    ("methods: [mean_dif]\n", "unknown method"),
    ("experiments: [e9]\n", "unknown experiment(s) ['e9']"),
    ("margin_dz: 0.4\n", "did you mean 'equivalence.margin_dz'"),
    ("environments: [mars]\n", "invalid value for 'environments.0'"),
    ("n_draws: 0\n", "invalid value for 'n_draws'"),
    ("layers: []\n", "invalid value for 'layers'"),
    ("rhos: [1.0, 1.0]\n", "twice"),
    ("rhos: [0]\n", "invalid value for 'rhos'"),
    ("e5: {methods: [pca]}\n", "at least two"),
    ("dtype: float64\n", "invalid value for 'dtype'"),
    ("likelihood: {farthest_fisher_k: -1}\n", "invalid value for 'likelihood.farthest_fisher_k'"),
    ("profile: quick\n", "'profile' cannot be set in a config file"),
    ("- just\n- a list\n", "must be a YAML mapping"),
    ("traits: [sentiment\n", "not valid YAML"),
])
def test_config_errors_name_the_key_and_the_fix(tmp_path, text, fragment):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        build_config("smoke", path)
    message = str(info.value)
    assert fragment in message and "fix:" in message and "\n" not in message


def test_unknown_profile_and_missing_file():
    with pytest.raises(ConfigError, match="did you mean 'quick'"):
        build_config("quik")
    with pytest.raises(ConfigError, match="does not exist"):
        build_config("smoke", "/nonexistent/config.yaml")


def test_profiles_validate_and_user_file_overrides(tmp_path):
    assert set(list_profiles()) >= {"smoke", "quick", "paper"}
    quick = build_config("quick")
    assert quick.model == "smollm2-135m" and quick.traits == "all" and quick.layers is None
    assert set(quick.experiments) >= {"e1", "likelihood"}  # the demo: likelihood for every trait, E1/E3 by generation
    assert len(quick.environments) == 3 and quick.plan.margin == "relative" and quick.plan.correction == "bonferroni"
    extras = build_config("quick", Path(__file__).parents[2] / "examples" / "demo-extras.yaml")
    assert "e6" in extras.experiments and extras.e6.traits == ["sentiment"]
    paper = build_config("paper")
    assert len(paper.alphas_rel) > 1 and len(paper.environments) == 3 and "e5" in paper.experiments
    path = tmp_path / "c.yaml"
    path.write_text("n_draws: 3\ne1: {n_prompts: 5}\n", encoding="utf-8")
    merged = build_config("quick", path)
    assert merged.n_draws == 3 and merged.e1.n_prompts == 5 and merged.e1.max_new_tokens == quick.e1.max_new_tokens
    assert validate_config(merged.to_dict()).config_hash() == merged.config_hash()


def test_resolve_defaults_layer_and_checks_range():
    config = build_config("quick")
    with pytest.raises(ConfigError, match="e1.traits"):  # the quick profile's generation traits must exist
        resolve(config, n_layers=30, available_traits=["a", "b"])
    config = config.model_copy(update={"e1": config.e1.model_copy(update={"traits": None, "environment_traits": None})})
    resolved = resolve(config, n_layers=30, available_traits=["a", "b"])
    assert resolved.layers == [15] and resolved.traits == ["a", "b"]
    with pytest.raises(ConfigError, match="out of range"):
        resolve(config.model_copy(update={"layers": [30]}), n_layers=30, available_traits=["a"])
    with pytest.raises(ConfigError, match="did you mean 'sentiment'"):
        resolve(config.model_copy(update={"traits": ["sentimen"]}), n_layers=30, available_traits=["sentiment"])


# ---------------------------------------------------------------------------------------------
# grid


def test_grid_expansion_and_stable_unit_ids():
    config = resolve(build_config("paper"), n_layers=30, available_traits=["sentiment", "formality"])
    units = expand_grid(config, weights_hash="abc")
    by = lambda e: [u for u in units if u.experiment == e]  # noqa: E731
    n_a, n_e = len(config.alphas_rel), len(config.environments)
    assert len(by("e1")) == 2 * n_a * n_e  # E2 × E3 grid
    assert len(by("likelihood")) == 2 * n_a and len(by("e5")) == 2 and len(by("e6")) == 2
    assert len({u.id for u in units}) == len(units)
    again = expand_grid(config, weights_hash="abc")
    assert [u.id for u in again] == [u.id for u in units]
    # ids depend on the unit's settings, not on the grid's order or other cells
    reordered = config.model_copy(update={"traits": ["formality", "sentiment"]})
    assert {u.id for u in expand_grid(reordered, weights_hash="abc")} == {u.id for u in units}
    changed = config.model_copy(update={"n_draws": 4})
    assert not {u.id for u in expand_grid(changed, weights_hash="abc")} & {u.id for u in by("e1")}
    assert not {u.id for u in expand_grid(config, weights_hash="other")} & {u.id for u in units}


# ---------------------------------------------------------------------------------------------
# checkpoint


def test_checkpoint_drops_torn_last_line_and_refuses_corrupt_middle(tmp_path):
    path = tmp_path / CHECKPOINT
    good = encode_line("a", {"x": 1.5}) + encode_line("b", {"y": [1, 2]})
    path.write_text(good + encode_line("c", {"z": 3})[:20], encoding="utf-8")
    ck = Checkpoint(tmp_path)
    assert set(ck.results) == {"a", "b"} and ck.dropped == 1
    assert path.read_text(encoding="utf-8") == good  # rewritten without the torn line
    # a complete line whose checksum does not match is never used
    bad = encode_line("c", {"z": 3}).replace('"z": 3', '"z": 4')
    path.write_text(good + bad, encoding="utf-8")
    ck = Checkpoint(tmp_path)
    assert "c" not in ck.results and ck.dropped == 1
    path.write_text(bad + good, encoding="utf-8")
    with pytest.raises(OutputError, match="line 1 is corrupt"):
        Checkpoint(tmp_path)


def test_lock_refuses_a_second_audit(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with RunLock(run):
        with pytest.raises(OutputError, match="another steerid audit is running"):
            run_audit(mini_config(tmp_path), run, quiet=True, render=False)


def test_output_dir_errors(tmp_path):
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(OutputError, match="not a directory"):
        run_audit(mini_config(tmp_path), afile, quiet=True, render=False)
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    with pytest.raises(OutputError, match="not a steerid run directory"):
        run_audit(mini_config(tmp_path), foreign, quiet=True, render=False)


# ---------------------------------------------------------------------------------------------
# runs


def test_results_contents(mini_run):
    config, outcome = mini_run
    results = json.loads(outcome.results_path.read_text())
    assert results["schema_version"] == SCHEMA_VERSION == 2 and results["config_hash"] == outcome.results_path.parent.joinpath(
        "config.yaml").exists() * results["config_hash"]
    e1 = next(u for u in results["units"] if u["experiment"] == "e1")
    for key in ("trait", "layer", "method", "alpha_rel", "environment", "n"):
        assert e1[key] is not None
    fam = e1["result"]["families"][0]
    for key in ("p_tost", "p_lower", "p_upper", "margin_dz", "power", "p_tost_holm"):
        assert key in fam["tost"]
    assert {"verdict", "verdict_audit", "p_tost_holm_audit", "relative_efficacy", "fraction_pass", "tost_relative",
            "verdict_relative"} <= set(fam)
    assert all(r["verdict_relative"] in ("not steering", "equivalent", "not equivalent", "inconclusive")
               for r in results["summary"])
    assert e1["result"]["efficacy"]["sentiment"]["+v"]["ci_low"] is not None
    assert results["multiple_testing"]["n_tests"] == 4  # 2 units × 2 signs × 1 ρ
    assert "sentiment" in results["scorers"] and "meets_target" in results["scorers"]["sentiment"]
    assert results["summary"] and "timings" not in json.dumps(results)
    run_dir = outcome.results_path.parent
    assert (run_dir / "vectors" / "sentiment__in1__mean_diff.safetensors").is_file()
    import pandas as pd

    table = pd.read_parquet(run_dir / "results.parquet")
    assert {"unit_id", "condition", "measure", "mean_shift", "p_tost_holm_audit", "verdict_relative"} <= set(table.columns)
    assert set(table["row_kind"]) == {"efficacy", "equivalence"}
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["versions"]["torch"] and prov["model_weights_hash"] and "machine" in prov


def test_second_run_skips_everything_and_is_byte_identical(mini_run, tmp_path, monkeypatch):
    config, outcome = mini_run
    run = tmp_path / "copy"
    shutil.copytree(outcome.results_path.parent, run)
    before = (run / "results.json").read_bytes()
    from steerid.audit import worker as audit_worker

    calls = []
    monkeypatch.setattr(audit_worker.Worker, "run_unit", lambda self, unit, step=None: calls.append(unit))
    again = run_audit(config, run, quiet=True, render=False)
    assert calls == [] and again.n_skipped == again.n_units == 2
    assert (run / "results.json").read_bytes() == before


def test_resume_after_kill_redoes_torn_unit_and_matches(mini_run, tmp_path):
    """Simulate SIGKILL during the second unit's checkpoint write: first line intact, second torn."""
    config, outcome = mini_run
    run = tmp_path / "killed"
    shutil.copytree(outcome.results_path.parent, run)
    for name in ("results.json", "results.parquet", "provenance.json"):
        (run / name).unlink()
    lines = (run / CHECKPOINT).read_text(encoding="utf-8").splitlines(keepends=True)
    (run / CHECKPOINT).write_text(lines[0] + lines[1][: len(lines[1]) // 2], encoding="utf-8")
    resumed = run_audit(config, run, quiet=True, render=False)
    assert resumed.n_run == 1 and resumed.n_skipped == 1
    assert (run / "results.json").read_bytes() == outcome.results_path.read_bytes()


def test_fresh_run_is_byte_identical(mini_run, tmp_path):
    config, outcome = mini_run
    other = run_audit(config, tmp_path / "again", quiet=True, render=False)
    assert other.results_path.read_bytes() == outcome.results_path.read_bytes()
    vec = "vectors/sentiment__in1__mean_diff.safetensors"
    assert _vector_content(tmp_path / "again" / vec) == _vector_content(outcome.results_path.parent / vec)


def test_changed_config_is_refused_unless_forced(mini_run, tmp_path):
    config, outcome = mini_run
    run = tmp_path / "changed"
    shutil.copytree(outcome.results_path.parent, run)
    changed = config.model_copy(update={"n_draws": 3})
    with pytest.raises(ConfigError, match=r"different config \(changed: n_draws\).*--force"):
        run_audit(changed, run, quiet=True, render=False)
    forced = run_audit(changed.model_copy(update={"experiments": ["likelihood"]}), run, quiet=True, render=False,
                       force=True)
    assert forced.n_run == 1 and yaml.safe_load((run / "config.yaml").read_text())["n_draws"] == 3


def _vector_content(path):
    """Tensor bytes and metadata (safetensors writes its metadata keys in no fixed order)."""
    from safetensors import safe_open

    with safe_open(str(path), "np") as handle:
        return handle.metadata(), handle.get_tensor("direction").tobytes()


# ---------------------------------------------------------------------------------------------
# CLI


def _cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "steerid.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_cli_user_errors_are_one_line_exit_2(tmp_path):
    (tmp_path / "bad.yaml").write_text("alpha_rel: [0.1]\n")
    result = _cli("audit", "tiny:llama", "--profile", "smoke", "--config", str(tmp_path / "bad.yaml"),
                  "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "alphas_rel" in result.stderr
    assert not (tmp_path / "run").exists()
    result = _cli("report", str(tmp_path / "nothing"))
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_cli_sigkill_and_resume_matches_uninterrupted(mini_run, tmp_path):
    """A real SIGKILL mid-run, then the same command again: identical results.json."""
    config, outcome = mini_run
    cfg = tmp_path / "mini.yaml"
    cfg.write_text(yaml.safe_dump(MINI), encoding="utf-8")
    run = tmp_path / "run"
    args = [sys.executable, "-m", "steerid.cli", "audit", "tiny:llama", "--profile", "smoke", "--config", str(cfg),
            "--out", str(run), "--quiet"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        ck = run / CHECKPOINT
        if ck.exists() and ck.read_text(encoding="utf-8").count("\n") >= 1:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert not (run / "results.json").exists() or proc.returncode == 0
    result = _cli("audit", "tiny:llama", "--profile", "smoke", "--config", str(cfg), "--out", str(run), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "report:" in result.stdout
    assert (run / "results.json").read_bytes() == outcome.results_path.read_bytes()
