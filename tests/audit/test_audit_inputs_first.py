"""Every audit input is checked before the run directory exists: a bad one leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cli_main import run_main


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("where", ["sub/pairs.jsonl", "pairs.jsonl"])
def test_pairs_file_as_trait_is_refused_before_the_run_directory(tmp_path: Path, monkeypatch, capsys, where) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / where
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"prompt": f"q{i}?", "positive": f"yes {i}", "negative": f"no {i}"} for i in range(12)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "run"
    code, _, err = run_main(["audit", "tiny:llama", "--traits", where, "--profile", "smoke", "--out", str(out),
                             "--quiet"], capsys)
    line = one_line(err)
    assert code == 2
    assert f"'{where}' is a file, not a trait directory" in line and f"ab:{where}" in line and "trait.yaml" in line
    assert not out.exists(), sorted(p.name for p in out.rglob("*"))


def test_check_not_a_file_spares_directories_and_ab_specs(tmp_path: Path) -> None:
    from steerid.audit.custom_traits import check_not_a_file
    from steerid.errors import ConfigError

    pairs = tmp_path / "p.jsonl"
    pairs.write_text('{"positive": "a", "negative": "b"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="vector_trait: .* is a file, not a trait directory"):
        check_not_a_file(str(pairs), "vector_trait")
    check_not_a_file(f"ab:{pairs}")  # the explicit A/B form is read as such
    check_not_a_file(str(tmp_path))  # a directory is checked by the trait loader
