"""Helpers shared by the reliability suite (imported by its test modules and conftest)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
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
    "steerid.cli", "steerid.capture", "steerid.engine.generation", "steerid.vector", "steerid.extract.pipeline",
    "steerid.experiments.orthogonal", "steerid.experiments.measures", "steerid.scorers.truth",
    "steerid.scorers.vader", "transformers.models.llama.modeling_llama", "sklearn.linear_model",
    "scipy.stats", "pandas", "pyarrow", "steerid.audit", "steerid.audit.worker", "steerid.audit.results",
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
        """Stop the server (it holds no state worth a graceful exit; a clean interpreter shutdown
        with torch loaded takes seconds)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.02):
    """Poll ``predicate()`` until it returns a truthy value; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


# ---------------------------------------------------------------------------------------------
# the scripted audit kill / resume sequence (guarantees 2, 4, 5)

CONFIG = """\
experiments: [e1, likelihood]
n_draws: 1
e1: {n_prompts: 3, max_new_tokens: 2, n_examples: 1}
likelihood: {n_items: 6}
"""
N_UNITS = 6  # truthfulness × L1 × mean_diff × α {0.5, 1} × (E1: 2 environments + likelihood)
AUDIT_TIMEOUT = 240


def audit_argv(run_dir: Path, config: Path, *extra: str) -> list[str]:
    return ["audit", "tiny:llama", "--traits", "truthfulness", "--profile", "smoke", "--config", str(config),
            "--out", str(run_dir), "--quiet", *extra]


def complete_lines(run_dir: Path) -> int:
    path = run_dir / "checkpoint.jsonl"
    if not path.exists():
        return 0
    return path.read_bytes().count(b"\n")


class Chain:
    """Everything the scripted kill/resume sequence observed."""

    def __init__(self) -> None:
        self.kills: list[tuple[int, int]] = []  # (lines seen when killed, exit status)
        self.stderr: dict[str, str] = {}
        self.rc: dict[str, int] = {}
        self.torn_unit = ""
        self.lines_before_final = 0
        self.incomplete: list[str] = []  # final-named files found incomplete right after a kill


def incomplete_final_files(run_dir: Path) -> list[str]:
    """Files under their final names that are not complete (a torn checkpoint *line* is allowed:
    the checkpoint is append-only and its last line is checked on resume)."""
    import pandas as pd
    import yaml

    from steerid.vector import SteeringVector

    problems = []
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            if path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".yaml":
                yaml.safe_load(path.read_text(encoding="utf-8"))
            elif path.suffix == ".parquet":
                pd.read_parquet(path)
            elif path.suffix == ".safetensors":
                SteeringVector.load(path)
            elif path.suffix == ".html":
                assert path.read_text(encoding="utf-8").rstrip().endswith("</html>")
        except Exception as exc:  # noqa: BLE001 - any failure to read is the finding we report
            problems.append(f"{path.name}: {type(exc).__name__}: {exc}")
    return problems


def _kill_after(zygote, child, run_dir: Path, lines: int, chain: Chain, during=None) -> None:
    wait_for(lambda: complete_lines(run_dir) >= lines or _exited(zygote, child), AUDIT_TIMEOUT,
             f"checkpoint line {lines}")
    assert complete_lines(run_dir) >= lines, f"run ended before line {lines}:\n{child.read()[1]}"
    if during is not None:  # with the audit stopped (SIGSTOP keeps its lock) so it cannot finish meanwhile
        os.kill(child.pid, signal.SIGSTOP)
        during()
    os.kill(child.pid, signal.SIGKILL)
    rc = zygote.wait(child, 60)
    chain.kills.append((complete_lines(run_dir), rc))
    chain.incomplete.extend(incomplete_final_files(run_dir))


def holds_flock(pid: int) -> bool:
    """Whether process ``pid`` holds a ``flock`` (read from ``/proc/locks``, without touching it)."""
    with open("/proc/locks", encoding="ascii") as handle:
        return any(line.split()[1:2] == ["FLOCK"] and str(pid) in line.split()[4:5] for line in handle)


def _exited(zygote, child) -> bool:
    try:
        os.kill(child.pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{child.pid}/stat", encoding="ascii") as handle:  # a zombie has exited
        return handle.read().split(") ", 1)[1].startswith("Z")


def audit_chain(zygote, root: Path) -> dict:
    """Run the scripted kill/resume sequence of ``test_kill_resume.py`` under ``root``."""
    config = root / "cfg.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    ref, twin, run = root / "ref", root / "twin", root / "chain"
    chain = Chain()

    # two uninterrupted runs, in parallel with the chain's first kill
    reference = zygote.spawn(audit_argv(ref, config), root, name="audit-ref")
    second = zygote.spawn(audit_argv(twin, config), root, name="audit-twin")

    first = zygote.spawn(audit_argv(run, config), root, name="audit-kill-1")
    _kill_after(zygote, first, run, 1, chain)

    def intruder() -> None:
        rc, out, err = zygote.run(audit_argv(run, config), root, name="audit-intruder", timeout=AUDIT_TIMEOUT)
        chain.rc["intruder"], chain.stderr["intruder"] = rc, err

    resumed = zygote.spawn(audit_argv(run, config), root, name="audit-kill-3")
    _kill_after(zygote, resumed, run, 3, chain, during=intruder)

    # tear the last line in half, as a crash in the middle of the append would
    path = run / "checkpoint.jsonl"
    data = path.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    chain.torn_unit = json.loads(data[start:])["unit_id"]
    path.write_bytes(data[: start + (len(data) - start) // 2])

    again = zygote.spawn(audit_argv(run, config), root, name="audit-kill-5")
    _kill_after(zygote, again, run, 5, chain)
    chain.stderr["after_tear"] = again.read()[1]

    # Ctrl-C: SIGINT once the resumed audit holds its lock
    interrupted = zygote.spawn(audit_argv(run, config), root, name="audit-sigint")
    wait_for(lambda: holds_flock(interrupted.pid) or _exited(zygote, interrupted), AUDIT_TIMEOUT, "the audit's lock")
    os.kill(interrupted.pid, signal.SIGINT)
    chain.rc["sigint"] = zygote.wait(interrupted, AUDIT_TIMEOUT)
    chain.stderr["sigint"] = interrupted.read()[1]
    chain.incomplete.extend(incomplete_final_files(run))

    chain.lines_before_final = complete_lines(run)
    rc, out, err = zygote.run(audit_argv(run, config), root, name="audit-final", timeout=AUDIT_TIMEOUT)
    chain.rc["final"], chain.stderr["final"] = rc, err
    chain.rc["reference"] = zygote.wait(reference, AUDIT_TIMEOUT)
    chain.stderr["reference"] = reference.read()[1]
    chain.rc["twin"] = zygote.wait(second, AUDIT_TIMEOUT)
    chain.stderr["twin"] = second.read()[1]
    return {"ref": ref, "twin": twin, "run": run, "chain": chain, "config": config, "root": root}
