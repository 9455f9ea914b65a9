"""A bad ``STEERID_CACHE`` (a file, a path that cannot be created) is one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from _cli_main import run_main

from steerid.errors import OutputError
from steerid.io import cache_root


def test_cache_root_created_when_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEERID_CACHE", str(tmp_path / "new" / "cache"))
    assert cache_root() == tmp_path / "new" / "cache" and cache_root().is_dir()


@pytest.mark.parametrize("kind", ["file", "under_a_file", "proc"])
def test_bad_cache_root_is_an_output_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    file = tmp_path / "hostname"
    file.write_text("x\n")
    path = {"file": file, "under_a_file": file / "sub", "proc": Path("/proc/steerid-cache-test")}[kind]
    monkeypatch.setenv("STEERID_CACHE", str(path))
    with pytest.raises(OutputError, match="STEERID_CACHE") as info:
        cache_root()
    assert str(path) in str(info.value) and "fix:" in str(info.value)


def test_cli_with_a_file_as_cache_exits_2_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    file = tmp_path / "hostname"
    file.write_text("x\n")
    monkeypatch.setenv("STEERID_CACHE", str(file))
    code, out, err = run_main(["info", "smollm2-135m"], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("steerid: error: cache directory") and "is a file" in lines[0], err
    assert file.read_text() == "x\n"
