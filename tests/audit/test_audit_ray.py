"""The Ray executor gives exactly the local executor's results (local Ray runtime, 2 CPUs)."""

from __future__ import annotations

import pytest
import yaml

from steerid.audit import run_audit
from steerid.audit.profiles import build_config

MINI = {"traits": ["sentiment"], "alphas_rel": [1.0], "environments": ["in_distribution"],
        "experiments": ["likelihood", "e1"], "likelihood": {"n_items": 6}, "e1": {"n_prompts": 3, "max_new_tokens": 3}}


@pytest.mark.slow
def test_ray_executor_matches_local(tmp_path):
    pytest.importorskip("ray")
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(MINI), encoding="utf-8")
    config = build_config("smoke", path)
    local = run_audit(config, tmp_path / "local", quiet=True, render=False)
    remote = run_audit(config, tmp_path / "ray", quiet=True, render=False, executor="ray")
    assert remote.n_run == local.n_run == 2
    assert remote.results_path.read_bytes() == local.results_path.read_bytes()
    vec = "vectors/sentiment__in1__mean_diff.safetensors"
    assert _vector_content(tmp_path / "ray" / vec) == _vector_content(tmp_path / "local" / vec)


def _vector_content(path):
    """Tensor bytes and metadata (safetensors writes its metadata keys in no fixed order)."""
    from safetensors import safe_open

    with safe_open(str(path), "np") as handle:
        return handle.metadata(), handle.get_tensor("direction").tobytes()
