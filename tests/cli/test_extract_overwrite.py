"""``extract --out`` never replaces a file that is not a steering vector unless ``--force``."""

from __future__ import annotations

from pathlib import Path

from _cli_main import run_main

from steerid.vector import SteeringVector

EXTRACT = ["extract", "tiny:llama", "--trait", "sentiment", "--layer", "1"]


def test_refuses_to_overwrite_a_foreign_file(tmp_path: Path, capsys) -> None:
    notes = tmp_path / "notes.safetensors"
    notes.write_text("my notes, not a tensor file\n", encoding="utf-8")
    code, _, err = run_main([*EXTRACT, "--out", str(notes)], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err
    assert "exists and is not a steering vector" in lines[0] and "--force" in lines[0]
    assert notes.read_text(encoding="utf-8") == "my notes, not a tensor file\n"


def test_force_overwrites_and_a_previous_vector_is_replaced(tmp_path: Path, capsys) -> None:
    out = tmp_path / "v.safetensors"
    out.write_bytes(b"\x00" * 16)
    code, stdout, err = run_main([*EXTRACT, "--out", str(out), "--force"], capsys)
    assert code == 0, err
    first = SteeringVector.load(out)
    # raw norm printed with significant digits, never rounded to 0.00
    printed = stdout.split("raw norm ", 1)[1].split(",", 1)[0]
    assert float(printed) > 0 and abs(float(printed) - first.norm) <= 0.005 * first.norm  # 3 significant digits
    code, _, err = run_main([*EXTRACT, "--out", str(out), "--method", "pca"], capsys)  # a vector: replaced
    assert code == 0, err
    assert SteeringVector.load(out).provenance.method == "pca"


def test_directory_as_out_is_refused(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "dir.safetensors"
    folder.mkdir()
    code, _, err = run_main([*EXTRACT, "--out", str(folder)], capsys)
    assert code == 2 and "is a directory" in err
