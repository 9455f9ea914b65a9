"""Atomic file writes and content hashing.

Every file steerid writes appears under its final name only when complete: data goes to a
temporary file in the same directory, is flushed and fsync'ed, then ``os.replace``'d over the
target (atomic on POSIX). A failure at any point leaves no file under the final name.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
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


NON_FINITE_KEY = "non_finite"
"""Top-level key of a strict JSON document that lists where a non-finite float was written as null."""


def _pointer_token(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def strict_json_obj(obj: Any) -> tuple[Any, dict[str, str]]:
    """``obj`` with every NaN / ±inf float replaced by ``None``, and where they were.

    Returns ``(clean, marks)``: ``marks`` maps the JSON Pointer (RFC 6901) of each replaced value
    to ``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` — the reason beside the ``null`` — so that
    :func:`restore_non_finite` gives the floats back to a Python reader.

    Example:
        >>> strict_json_obj({"a": [1.0, float("nan")], "b/c": float("inf")})
        ({'a': [1.0, None], 'b/c': None}, {'/a/1': 'NaN', '/b~1c': 'Infinity'})
    """
    marks: dict[str, str] = {}

    def walk(value: Any, pointer: str) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            marks[pointer] = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
            return None
        if isinstance(value, dict):
            return {key: walk(item, f"{pointer}/{_pointer_token(key)}") for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(item, f"{pointer}/{index}") for index, item in enumerate(value)]
        return value

    return walk(obj, ""), marks


def strict_json_text(obj: dict[str, Any], **dumps: Any) -> str:
    """A dict as strict JSON (RFC 8259: no ``NaN`` / ``Infinity``), parseable by any JSON reader.

    Non-finite floats become ``null`` and are listed under :data:`NON_FINITE_KEY` (JSON Pointer →
    ``"NaN"`` / ``"Infinity"`` / ``"-Infinity"``), present only when there is one. ``dumps`` are
    :func:`json.dumps` options (``indent``, ``sort_keys`` ...); ``allow_nan`` is always off.
    """
    clean, marks = strict_json_obj(obj)
    if marks:
        clean = {**clean, NON_FINITE_KEY: marks}
    return json.dumps(clean, **{**dumps, "allow_nan": False})


def restore_non_finite(data: dict[str, Any]) -> dict[str, Any]:
    """Undo :func:`strict_json_text` on parsed data, in place: the listed nulls become floats again.

    Data without :data:`NON_FINITE_KEY` (older files, which wrote bare ``NaN``) is returned as is.

    Raises:
        OutputError: a listed pointer does not lead to a ``null`` (the file was edited or is damaged).
    """
    marks = data.pop(NON_FINITE_KEY, None) if isinstance(data, dict) else None
    for pointer, kind in (marks or {}).items():
        *parents, last = [token.replace("~1", "/").replace("~0", "~") for token in pointer.split("/")[1:]]
        node: Any = data
        try:
            for token in parents:
                node = node[int(token)] if isinstance(node, list) else node[token]
            key: Any = int(last) if isinstance(node, list) else last
            if node[key] is not None:
                raise KeyError(pointer)
            node[key] = float(kind.lower().replace("infinity", "inf"))
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise OutputError(f"the '{NON_FINITE_KEY}' entry {pointer!r} does not point to a null value",
                              "rerun the command that wrote the file") from exc
    return data


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
    """steerid's folder in the user cache: ``$XDG_CACHE_HOME/steerid`` (default ``~/.cache/steerid``).

    Raises:
        OutputError: the folder cannot be a directory (see :func:`usable_cache_dir`).
    """
    xdg = os.environ.get("XDG_CACHE_HOME")
    folder = Path(xdg or Path.home() / ".cache") / "steerid"
    return usable_cache_dir(folder, "XDG_CACHE_HOME" if xdg else "the user cache (~/.cache)")


def cache_root() -> Path:
    """``$STEERID_CACHE`` if set, else :func:`user_cache_dir` — the root of steerid's caches.

    Raises:
        OutputError: ``$STEERID_CACHE`` names a file, or a directory that cannot be created
            (e.g. under ``/proc``) — one line naming the variable and the fix.
    """
    env = os.environ.get("STEERID_CACHE")
    return usable_cache_dir(Path(env).expanduser(), "STEERID_CACHE") if env else user_cache_dir()


def usable_cache_dir(folder: Path, source: str) -> Path:
    """``folder``, created if missing; an :class:`OutputError` naming ``source`` when that is impossible.

    An existing directory is accepted as it is, even read-only: a cache filled beforehand can be
    shared read-only, and a write into it fails later with its own one-line error.
    """
    fix = "set STEERID_CACHE to a writable directory (or unset it to use ~/.cache/steerid)"
    try:
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"cache directory {folder} (from {source}) is a file, not a directory", fix)
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the cache directory {folder} (from {source}): {exc.strerror or exc}", fix
        ) from exc
    return folder
