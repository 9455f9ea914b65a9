"""Every ```python block of README.md runs (on ``tiny:llama`` instead of SmolLM2-135M).

Each block runs in a fresh namespace in a temporary working directory that holds what the README
says was made before it (``sent.safetensors`` from the quick tour's ``steerid extract``, the
``examples/`` folder). The only substitution is the model (``"smollm2-135m"`` → ``"tiny:llama"``,
and layer 15 → 1 where a block names one): a block that uses a name, argument or attribute that
does not exist fails here.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from _cli_main import run_main

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S)


def on_tiny_model(code: str) -> str:
    return code.replace('"smollm2-135m"', '"tiny:llama"').replace("Site(15)", "Site(1)")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", folder / "examples")
    return folder


def test_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index: int, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(workdir)
    if not (workdir / "sent.safetensors").exists():  # the quick tour's `steerid extract`, on the tiny model
        code, _, err = run_main(["extract", "tiny:llama", "--trait", "sentiment", "--layer", "1",
                                 "--out", "sent.safetensors"], capsys)
        assert code == 0, err
    namespace: dict = {"__name__": f"readme_block_{index}"}
    exec(compile(on_tiny_model(BLOCKS[index]), f"README.md python block {index + 1}", "exec"), namespace)
