"""What a new user reads: the compare labels, ratio CIs, a vector's repr, the provenance's versions."""

from __future__ import annotations

from pathlib import Path

from _cli_main import run_main

from steerid.audit.profiles import build_config
from steerid.audit.results import run_provenance
from steerid.audit.tables import summary_table_rows
from steerid.results import ratio_ci_text
from steerid.vector import SteeringVector


def test_steer_compare_labels_the_unsteered_row(tmp_path: Path, capsys) -> None:
    vec = tmp_path / "v.safetensors"
    code, _, err = run_main(["extract", "tiny:llama", "--trait", "sentiment", "--layer", "1", "--out", str(vec)], capsys)
    assert code == 0, err
    code, out, err = run_main(["steer", "tiny:llama", "--vector", str(vec), "--alpha", "8", "--prompt", "Hi",
                               "--max-new-tokens", "3", "--compare"], capsys)
    assert code == 0, err
    assert "unsteered" in out and "none ‖Δ‖" not in out and "+v ‖Δ‖=8" in out and "-v ‖Δ‖=8" in out
    shown = repr(SteeringVector.load(vec))
    assert len(shown) < 200 and shown.startswith("SteeringVector(dim=") and "array" not in shown


def test_ratio_ci_that_excludes_its_estimate_is_unstable() -> None:
    assert ratio_ci_text(-22.07, -450.59, -49.71) == "-22.07 (unstable, no CI)"
    assert ratio_ci_text(1.2, float("-inf"), 3.0) == "1.20 (unstable, no CI)"
    assert ratio_ci_text(1.2, None, None) == "1.20 (unstable, no CI)"
    assert ratio_ci_text(1.0, 0.9, 1.1, unstable=True) == "1.00 (unstable, no CI)"
    assert ratio_ci_text(1.0, 0.9, 1.1) == "1.00 [0.90, 1.10]"
    assert ratio_ci_text(None, 0.9, 1.1) == "—"


def test_cli_summary_table_uses_it() -> None:
    row = {"trait": "sentiment", "route": "likelihood", "alpha_rel": 0.5, "rho": 1.0, "environment": None,
           "sign": "+v", "steers": True, "dz": 1.0, "relative_efficacy": -22.07,
           "relative_efficacy_ci": [-450.59, -49.71], "verdict": "inconclusive", "p_tost_holm_audit": 0.2,
           "power": 0.5}
    cells = summary_table_rows([row])[0]
    assert "-22.07 (unstable, no CI)" in cells and not any("-450.59" in c for c in cells)


def test_torch_version_appears_once_in_the_provenance() -> None:
    record = run_provenance(build_config("smoke"), {"spec": "tiny:llama"})
    assert "torch" in record["versions"] and "torch" not in record["machine"]
