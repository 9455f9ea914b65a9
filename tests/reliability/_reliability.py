"""Helpers shared by the reliability suite (imported by its test modules and conftest)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ZYGOTE = HERE / "_zygote.py"

# Modules the fork server imports once so that each child starts in well under a second.
PRELOAD = [
    "steerid.cli", "steerid.capture", "steerid.generate", "steerid.vector", "steerid.extract.pipeline",
    "steerid.experiments.orthogonal", "steerid.experiments.measures", "steerid.scorers.truth",
    "steerid.scorers.vader", "transformers.models.llama.modeling_llama", "sklearn.linear_model",
    "scipy.stats", "pandas", "pyarrow", "steerid.audit", "steerid.audit_worker", "steerid.audit_results",
    "steerid.report",
]

ERROR_PREFIX = "steerid: error: "


def audit_missing_reason() -> str | None:
    """Why the audit tests cannot run yet (None when ``steerid.audit`` and the CLI command exist)."""
    if importlib.util.find_spec("steerid.audit") is None:
        return "src/steerid/audit.py has not landed yet (issue 8)"
    from steerid.cli import app
    import typer

    names = {cmd.name for cmd in typer.main.get_command(app).commands.values()}  # type: ignore[attr-defined]
    if "audit" not in names:
        return "the `steerid audit` CLI command has not landed yet (issue 8)"
    return None


def report_missing_reason() -> str | None:
    if importlib.util.find_spec("steerid.report") is None:
        return "src/steerid/report/ has not landed yet (issue 8)"
    return None


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def assert_one_clear_line(stderr: str, expected: str | tuple[str, ...]) -> str:
    """stderr holds exactly one non-empty line: ``steerid: error: <problem> — fix: <fix>``."""
    assert "Traceback" not in stderr, f"traceback on stderr:\n{stderr}"
    lines = error_lines(stderr)
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    line = lines[0]
    assert line.startswith(ERROR_PREFIX), line
    assert " — fix: " in line and line.split(" — fix: ", 1)[1].strip(), f"no fix in: {line}"
    wanted = (expected,) if isinstance(expected, str) else expected
    for text in wanted:
        assert text.lower() in line.lower(), f"{text!r} not in: {line}"
    return line


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


def temp_leftovers(root: Path) -> list[Path]:
    """Temporary files of :mod:`steerid.io` (``.<name>.<random>.tmp``) left under ``root``."""
    return [p for p in files_under(root) if p.name.startswith(".") and p.name.endswith(".tmp")]


@dataclass
class Child:
    pid: int
    stdout: Path
    stderr: Path

    def read(self) -> tuple[str, str]:
        return (self.stdout.read_text(encoding="utf-8", errors="replace"),
                self.stderr.read_text(encoding="utf-8", errors="replace"))


class Zygote:
    """Client of ``_zygote.py`` (see its docstring)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._count = 0
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
               "TRANSFORMERS_VERBOSITY": "error", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, str(ZYGOTE), *PRELOAD], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=open(self.log_dir / "zygote.stderr", "wb"),
                                     text=True, cwd=str(REPO), env=env)
        hello = self._read()
        self.missing: dict[str, str] = hello.get("missing", {})

    def _read(self) -> dict:
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            err = (self.log_dir / "zygote.stderr").read_text(errors="replace")
            raise RuntimeError(f"fork server died:\n{err[-4000:]}")
        return json.loads(line)

    def _ask(self, request: dict) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        return self._read()

    def _files(self, name: str | None) -> tuple[Path, Path]:
        self._count += 1
        stem = f"{self._count:03d}-{name or 'run'}"
        return self.log_dir / f"{stem}.stdout", self.log_dir / f"{stem}.stderr"

    def spawn(self, argv: list[str], cwd: Path, *, env: dict | None = None, name: str | None = None) -> Child:
        out, err = self._files(name)
        reply = self._ask({"op": "spawn", "argv": [str(a) for a in argv], "cwd": str(cwd), "stdout": str(out),
                           "stderr": str(err), "env": env or {}})
        return Child(reply["pid"], out, err)

    def call(self, target: str, args: list, cwd: Path, *, name: str | None = None) -> Child:
        out, err = self._files(name)
        reply = self._ask({"op": "call", "target": target, "args": args, "cwd": str(cwd), "stdout": str(out),
                           "stderr": str(err)})
        return Child(reply["pid"], out, err)

    def wait(self, child: Child, timeout: float = 300) -> int:
        reply = self._ask({"op": "wait", "pid": child.pid, "timeout": timeout})
        if reply["timed_out"]:
            _, err = child.read()
            raise AssertionError(f"child {child.pid} ran past {timeout} s and was killed; stderr:\n{err[-3000:]}")
        return int(reply["rc"])

    def run(self, argv: list[str], cwd: Path, *, env: dict | None = None, timeout: float = 300,
            name: str | None = None) -> tuple[int, str, str]:
        child = self.spawn(argv, cwd, env=env, name=name)
        rc = self.wait(child, timeout)
        out, err = child.read()
        return rc, out, err

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self._ask({"op": "quit"})
            except (BrokenPipeError, RuntimeError):  # the server is already dying: make sure it is gone
                self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.02):
    """Poll ``predicate()`` until it returns a truthy value; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")
