"""Atomic file writes and content hashing.

Every file steerid writes appears under its final name only when complete: data goes to a
temporary file in the same directory, is flushed and fsync'ed, then ``os.replace``'d over the
target (atomic on POSIX). A failure at any point leaves no file under the final name.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from steerid.errors import OutputError


def _raise_output_error(path: Path, exc: OSError) -> None:
    if exc.errno == errno.ENOSPC:
        raise OutputError(f"disk full while writing {path}", "free space or choose another --out") from exc
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        raise OutputError(
            f"cannot write {path}: a file is in the way of its directory", "choose an output path under a directory"
        ) from exc
    if exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
        raise OutputError(
            f"cannot write to {path.parent} ({exc.strerror})", "choose a writable --out directory"
        ) from exc
    raise OutputError(f"could not write {path}: {exc.strerror}", "check the output path") from exc


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_with(path: str | os.PathLike[str], writer: Callable[[Path], None]) -> Path:
    """Call ``writer(tmp_path)`` then atomically move ``tmp_path`` to ``path``.

    ``writer`` must create the file at the path it is given (e.g. ``safetensors.save_file``).
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        _raise_output_error(target, exc)
    tmp = Path(tmp_name)
    try:
        writer(tmp)
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp creates 0600; give the usual file mode
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        _raise_output_error(target, exc)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write_with(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as deterministic (sorted keys, indented) JSON, atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_texts(texts: Iterable[str]) -> str:
    """Order-sensitive SHA-256 of a sequence of strings (used for prompt-set hashes)."""
    digest = hashlib.sha256()
    for text in texts:
        encoded = text.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.hexdigest()


def user_cache_dir() -> Path:
    """steerid's folder in the user cache: ``$XDG_CACHE_HOME/steerid`` (default ``~/.cache/steerid``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "steerid"


def cache_root() -> Path:
    """``$STEERID_CACHE`` if set, else :func:`user_cache_dir` — the root of steerid's caches."""
    env = os.environ.get("STEERID_CACHE")
    return Path(env) if env else user_cache_dir()
