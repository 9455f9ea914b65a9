"""Append-only, checksummed checkpoint of finished units, and the run-directory lock.

``RUN/checkpoint.jsonl`` holds one line per finished unit::

    {"checksum": "<sha256 of canonical JSON of [unit_id, result]>", "result": {...}, "unit_id": "..."}

Each line is written with a single ``write`` of the whole line followed by ``flush`` and
``fsync``, so a crash (even SIGKILL) can at worst leave the *last* line truncated. On reading,
every line is parsed and its checksum verified; a bad last line (torn write) is dropped — the file
is rewritten atomically without it — and its unit runs again. A bad line anywhere else means the
file was edited or damaged by something other than steerid: the run stops with an
:class:`~steerid.errors.OutputError` instead of guessing. A line is never used unless its checksum
matches.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from steerid.audit_config import canonical_json
from steerid.errors import OutputError
from steerid.io import atomic_write_text

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.jsonl"
LOCK = ".steerid.lock"


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
        from filelock import FileLock

        self.path = Path(run_dir) / LOCK
        self._lock = FileLock(str(self.path), timeout=0)

    def __enter__(self) -> "RunLock":
        from filelock import Timeout

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
