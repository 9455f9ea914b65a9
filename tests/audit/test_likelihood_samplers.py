"""The likelihood unit reports the configured v⊥ samplers as families of their own."""

import json

import pytest
import yaml

from steerid.audit import run_audit
from steerid.audit.profiles import build_config
from steerid.errors import ConfigError

SAMPLERS = ["isotropic", "covariance_null", "fisher_null", "fisher_range"]


def test_likelihood_unit_reports_every_sampler(tmp_path):
    data = {"traits": ["sentiment"], "alphas_rel": [1.0], "environments": ["in_distribution"],
            "experiments": ["likelihood"], "rhos": [1.0], "n_draws": 2,
            "likelihood": {"n_items": 6, "samplers": SAMPLERS, "sampler_tolerance": 0.5}}
    (tmp_path / "mini.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    outcome = run_audit(build_config("smoke", tmp_path / "mini.yaml"), tmp_path / "out", quiet=True, render=False)
    [unit] = json.loads(outcome.results_path.read_text())["units"]
    assert unit.get("error") is None
    samplers = unit["samplers"]
    reported = set(samplers["samplers"]) | set(samplers["skipped"])
    assert reported == set(SAMPLERS) and "fisher_null" in samplers["samplers"]
    rows = samplers["table"]
    assert {(r["sampler"], r["sign"]) for r in rows} >= {("fisher_null", 1), ("fisher_null", -1), ("isotropic", 1)}
    for r in rows:
        assert r["n_draws"] == 2 and 0 <= r["n_equivalent"] <= 2 and r["share_low"] <= r["share_high"]
    per_sign = samplers["bases"]["fisher"]["per_sign"]
    assert per_sign["+1"]["null_dim"] > 0 and per_sign["+1"]["range_dim"] <= per_sign["+1"]["null_dim"]


def test_unknown_sampler_is_a_config_error(tmp_path):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"likelihood": {"samplers": ["nope"]}}), encoding="utf-8")
    with pytest.raises(ConfigError, match="sampler"):
        build_config("smoke", tmp_path / "bad.yaml")
