"""The run directory: its checks, its lock, and the append-only checksummed checkpoint (resume).

``RUN/checkpoint.jsonl`` holds one line per finished unit::

    {"checksum": "<sha256 of canonical JSON of [unit_id, result]>", "result": {...}, "unit_id": "..."}

Each line is written with a single ``write`` of the whole line followed by ``flush`` and
``fsync``, so a crash (even SIGKILL) can at worst leave the *last* line truncated. On reading,
every line is parsed and its checksum verified; a bad last line (torn write) is dropped — the file
is rewritten atomically without it — and its unit runs again. A bad line anywhere else means the
file was edited or damaged by something other than steerid: the run stops with an
:class:`~steerid.errors.OutputError` instead of guessing. A line is never used unless its checksum
matches.

Run directory rules (:func:`prepare_run_dir`, :func:`check_existing_config`): ``--out`` must be a
writable directory; a non-empty directory that is not a steerid run is refused (steerid never
writes into or clears those); a run directory holding a *different* config is refused unless
``force`` (which clears only steerid's own files).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock, Timeout

from steerid.audit.config import AuditConfig, canonical_json, validate_config
from steerid.errors import ConfigError, OutputError
from steerid.io import atomic_write_text

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.jsonl"
LOCK = ".steerid.lock"
RUN_FILES = ("config.yaml", CHECKPOINT, "results.json", "results.parquet", "provenance.json", "timings.json",
             "report.html")
RUN_DIRS = ("vectors",)


def checksum(uid: str, result: Any) -> str:
    return hashlib.sha256(canonical_json([uid, result]).encode()).hexdigest()


def encode_line(uid: str, result: Any) -> str:
    return json.dumps({"unit_id": uid, "result": result, "checksum": checksum(uid, result)},
                      sort_keys=True, ensure_ascii=False, allow_nan=True) + "\n"


def _decode(line: str) -> tuple[str, Any] | None:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or set(obj) != {"unit_id", "result", "checksum"} or not isinstance(obj["unit_id"], str):
        return None
    if obj["checksum"] != checksum(obj["unit_id"], obj["result"]):
        return None
    return obj["unit_id"], obj["result"]


class Checkpoint:
    """The finished units of a run directory.

    Attributes:
        path: ``RUN/checkpoint.jsonl``.
        results: ``{unit_id: result}`` of every valid line (the last one wins if a unit repeats).
        dropped: number of torn trailing lines dropped while loading (0 or 1).
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / CHECKPOINT
        self.results: dict[str, Any] = {}
        self.dropped = 0
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise OutputError(f"cannot read {self.path} ({exc.strerror})", "check the run directory's permissions") from exc
        text = raw.decode("utf-8", errors="replace")
        lines = text.split("\n")
        complete = lines[:-1]  # everything before the last newline
        tail = lines[-1]  # "" when the file ends with a newline, else a torn line
        good: list[str] = []
        for number, line in enumerate(complete, start=1):
            if not line.strip():
                continue
            decoded = _decode(line)
            if decoded is None:
                if number == len(complete) and not tail:
                    self.dropped += 1
                    log.warning("checkpoint line %d is corrupt (torn write); dropping it and redoing that unit", number)
                    continue
                raise OutputError(f"{self.path} line {number} is corrupt (bad JSON or checksum mismatch)",
                                  "the file was changed outside steerid: delete the run directory or use --force")
            self.results[decoded[0]] = decoded[1]
            good.append(line + "\n")
        if tail.strip():
            decoded = _decode(tail)
            if decoded is None:
                self.dropped += 1
                log.warning("checkpoint ends in a torn line; dropping it and redoing that unit")
            else:  # a complete record whose newline was lost: keep it, restore the newline
                self.results[decoded[0]] = decoded[1]
                good.append(tail + "\n")
        if self.dropped or (tail.strip() and not self.dropped):
            atomic_write_text(self.path, "".join(good))

    def __contains__(self, uid: str) -> bool:
        return uid in self.results

    def append(self, uid: str, result: Any) -> None:
        """Append one finished unit durably (write, flush, fsync)."""
        line = encode_line(uid, result)
        # round-trip now so that what is used in this process is exactly what a resume would read
        decoded = _decode(line.rstrip("\n"))
        assert decoded is not None
        try:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise OutputError(f"cannot append to {self.path} ({exc.strerror})",
                              "free disk space or choose another --out") from exc
        self.results[uid] = decoded[1]

    def reset(self) -> None:
        self.results.clear()
        self.path.unlink(missing_ok=True)


class RunLock:
    """An exclusive, non-blocking lock on a run directory (``RUN/.steerid.lock``)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK
        self._lock = FileLock(str(self.path), timeout=0)

    def __enter__(self) -> "RunLock":
        try:
            self._lock.acquire()
        except Timeout:
            raise OutputError(f"another steerid audit is running in {self.path.parent} (lock {self.path.name} is held)",
                              "wait for it to finish, or choose another --out") from None
        except OSError as exc:
            raise OutputError(f"cannot lock {self.path.parent} ({exc.strerror})", "choose a writable --out") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


# --------------------------------------------------------------------------------------------
# run directory


def prepare_run_dir(out: Path) -> Path:
    """Create ``out`` if needed and prove it is a writable directory (a zero-byte probe, deleted at once)."""
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out '{out}' exists and is not a directory", "choose a new directory path for --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create run directory '{out}' ({exc.strerror})", "choose a writable --out") from exc
    probe = out / ".steerid-write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"run directory '{out}' is not writable ({exc.strerror})", "choose a writable --out") from exc
    return out


def is_run_dir(out: Path) -> bool:
    return (out / "config.yaml").exists()


def check_foreign(out: Path) -> None:
    """Refuse a non-empty directory that is not a steerid run (we never write into or clear those)."""
    ours = set(RUN_FILES) | set(RUN_DIRS) | {LOCK}
    foreign = [p.name for p in out.iterdir() if p.name not in ours and not p.name.startswith(".")]
    if foreign and not is_run_dir(out):
        raise OutputError(f"'{out}' is not empty and is not a steerid run directory (holds {foreign[0]!r})",
                          "choose a new or empty directory for --out")


def clear_run_files(out: Path) -> None:
    """Delete steerid's own files of a run (``force``); anything else in the directory stays."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for name in RUN_DIRS:
        shutil.rmtree(out / name, ignore_errors=True)


def _diff_keys(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            keys.extend(_diff_keys(va, vb, f"{prefix}{key}."))
        elif va != vb:
            keys.append(prefix + key)
    return keys


def check_existing_config(out: Path, config: AuditConfig, force: bool) -> None:
    """Refuse a run directory whose ``config.yaml`` differs from ``config`` (naming the changed keys)."""
    path = out / "config.yaml"
    if not path.exists():
        return
    try:
        old = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        old_config = validate_config(old, f"{path}")
    except (yaml.YAMLError, UnicodeDecodeError, ConfigError) as exc:
        if force:
            return
        raise ConfigError(f"{path} is unreadable or from another steerid version ({exc})",
                          "use another --out, or --force to start over") from exc
    if old_config.config_hash() == config.config_hash():
        return
    if force:
        return
    changed = _diff_keys(old_config.to_dict(), config.to_dict())
    raise ConfigError(f"{out} holds an audit with a different config (changed: {', '.join(changed[:6])})",
                      "use another --out, or add --force to discard it and start over")
