"""--export-class: null-space bases and confirmed equivalent vectors, one folder per trait."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors import safe_open

from steerid.audit import run_audit
from steerid.audit.export_class import equivalent_vector, export_class
from steerid.audit.profiles import build_config
from steerid.vector import SteeringVector

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
from test_samplers import NULL, SITE, planted_model  # noqa: E402  (the planted tiny model)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def mini_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    data = {"traits": ["sentiment"], "alphas_rel": [1.0], "environments": ["in_distribution"],
            "experiments": ["likelihood"], "rhos": [1.0], "n_draws": 2, "likelihood": {"n_items": 6}}
    (base / "mini.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    outcome = run_audit(build_config("smoke", base / "mini.yaml"), base / "out", quiet=True, render=False)
    return outcome.results_path.parent


def test_export_writes_orthonormal_null_bases_and_rebuilds_confirmed_draws(mini_run, tmp_path):
    results = json.loads((mini_run / "results.json").read_text())
    [unit] = results["units"]
    draw = unit["result"]["families"][0]["draws"][1]
    draw["equivalent_holm"] = True  # pretend this draw was confirmed: the export must rebuild exactly its Δ
    (mini_run / "results.json").write_text(json.dumps(results))
    index = export_class(mini_run, tmp_path / "class", tolerances=(0.5, 1e-2), fisher_prompts=3, positions=2,
                         max_new_tokens=3)
    folder = tmp_path / "class" / "sentiment"
    with safe_open(str(folder / "nullspace.safetensors"), "np") as handle:
        keys = set(handle.keys())
        meta = handle.metadata()
        assert {"eigenvalues/unsteered", "eigenvalues/+1v", "eigenvalues/-1v"} <= keys
        for point in ("unsteered", "+1v", "-1v"):
            vals = handle.get_tensor(f"eigenvalues/{point}")
            basis = handle.get_tensor(f"basis/{point}/tau=0.5")
            assert basis.shape == (48, int((vals < 0.5 * vals[0]).sum()))
            np.testing.assert_allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-8)
    assert json.loads(meta["tolerances"]) == [0.5, 1e-2] and meta["v_content_hash"]
    [written] = index["traits"]["sentiment"]["equivalent"]
    loaded = SteeringVector.load(folder / written["file"])
    v = SteeringVector.load(mini_run / unit["vector"]["file"])
    # Δ = s·α·m·v̂ + v⊥ with ‖v⊥‖ = ρ·α·m (ρ = 1): cosine 1/√2 to v, norm √2·α·m
    assert written["cosine_to_v"] == pytest.approx(1 / np.sqrt(2), abs=1e-5)
    assert loaded.norm == pytest.approx(np.sqrt(2) * unit["displacement_norm"], rel=1e-5)
    info = loaded.provenance.extra["equivalence"]
    assert info["equivalent_to"]["v_content_hash"] == v.content_hash() and info["equivalent_to"]["sign"] == 1
    assert info["test"]["condition"] == draw["condition"] and info["test"]["correction"] == "holm"
    assert json.loads((folder / "class.json").read_text())["equivalent"][0]["file"] == written["file"]


def test_an_exported_equivalent_vector_steers_like_v_on_the_planted_model(tmp_path):
    from steerid.provenance import Provenance

    lm = planted_model()
    rng = np.random.default_rng(0)
    v = SteeringVector.from_array(rng.standard_normal(48), Provenance("tiny:llama", "tiny:llama", "", str(SITE), "t"))
    scale = 3.0
    perp = np.zeros(48)  # a displacement inside the planted null coordinates
    perp[NULL] = rng.standard_normal(len(NULL))
    perp *= scale / np.linalg.norm(perp)
    delta = scale * v.direction + perp
    path = equivalent_vector(v, delta, sign=1, alpha_rel=1.0, token_norm=scale).save(tmp_path / "equivalent-0.safetensors")
    loaded = SteeringVector.load(path)
    assert loaded.provenance.method == "equivalent" and loaded.cosine(v) < 0.75
    ids = lm.tokenizer(["the good and the bad were"], return_tensors="pt")
    with torch.no_grad():
        with v.apply(lm, scale):
            ref = lm.model(**ids).logits
        with loaded.apply(lm, loaded.norm):
            got = lm.model(**ids).logits
        other = SteeringVector.from_array(scale * v.direction + scale * np.roll(v.direction, 1), v.provenance)
        with other.apply(lm, other.norm):
            off = lm.model(**ids).logits
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    assert (off - ref).abs().max() > 1e-2
