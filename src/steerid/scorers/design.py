"""Training design matrices for the embedding heads: every candidate's feature blocks, built once.

For the training split of a trait, :class:`TrainingDesign` computes each block once and
assembles a candidate's matrix from them (column order = the head's column order)::

    X(encoders, groups) = [ e_1(t) ; … ; e_k(t) ; f_g1(t) ; … ; f_gm(t) ; g(t, o) ]

- ``e_i``: unit-norm embeddings of the training texts by each encoder (``encode(cache=False)``,
  so the matrix depends only on the data file);
- ``f_g``: the lexical feature group ``g`` (:mod:`steerid.scorers.lexical`);
- ``g``: context features of each text against its context (the ``opinion`` a reply answers;
  :func:`steerid.scorers.head.context_features`), present only for a context head
  (:data:`CONTEXT_SPECS`). One of them needs a sentiment direction ``(w_s, b_s)`` on the
  context encoder: an L2 logistic regression (``C =`` :data:`SENTIMENT_DIRECTION_C`) on the raw
  embeddings of the *sentiment* training split, recorded in the head with that file's hash.

:meth:`TrainingDesign.weights` gives the column-weight vector that multiplies the context
columns by ``γ`` (after standardisation), which divides their effective L2 penalty by ``γ²``.
Grouping for cross-validation is by normalised text (lower-cased, whitespace collapsed), so a
reply under two opposite opinions stays in one fold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from steerid.scorers.embedding import EmbeddingBackend
from steerid.scorers.context import CONTEXT_FEATURES, context_features
from steerid.scorers.labelled import Example, load_labelled
from steerid.scorers.lexical import FEATURE_GROUPS, lexical_features

CONTEXT_SPECS: dict[str, dict[str, Any]] = {
    "agreeableness": {
        "field": "opinion",
        "encoder": "mpnet",
        "features": list(CONTEXT_FEATURES),
        "encoder_sets": (("mpnet",),),
    },
}
"""Heads that read a per-text context, and how (see :mod:`steerid.scorers.head`). A context head
tries only its ``encoder_sets`` by default (the context encoder alone), which keeps its larger
search (context weights too) short."""
SENTIMENT_DIRECTION_C = 0.03
"""L2 strength of the sentiment direction (logistic regression on raw unit-norm embeddings)."""


def sentiment_direction(backend: EmbeddingBackend, data_dir: Path | None, seed: int) -> tuple[dict[str, Any], str]:
    """Logistic-regression direction for sentiment on raw embeddings of the sentiment train split.

    Returns:
        ``({"coef", "intercept", "source", "data_sha256", "C"}, sha256 of the sentiment data)``.
    """
    data = load_labelled("sentiment", data_dir)
    emb = backend.encode([ex.text for ex in data.train], cache=False)
    y = np.array([ex.label for ex in data.train], dtype=np.int64)
    clf = LogisticRegression(C=SENTIMENT_DIRECTION_C, max_iter=5000, random_state=seed).fit(emb, y)
    direction = {
        "coef": clf.coef_[0].astype(np.float64).tolist(),
        "intercept": float(clf.intercept_[0]),
        "source": f"data/{data.path.name} train split",
        "data_sha256": data.sha256,
        "C": SENTIMENT_DIRECTION_C,
    }
    return direction, data.sha256


def text_groups(texts: list[str]) -> list[str]:
    """CV group key of each text: lower-cased with whitespace collapsed."""
    return [" ".join(t.lower().split()) for t in texts]


class TrainingDesign:
    """Feature blocks of one trait's training split (see the module docstring).

    Args:
        trait: Trait name (selects the context spec, if any).
        train: The training examples.
        backends: ``{encoder key: backend}`` for every encoder any candidate uses.
        data_dir: Directory of labelled data (for the sentiment direction of a context head).
        seed: Seeds the sentiment direction's solver.

    Attributes:
        texts, y: The training texts and 0/1 labels.
        embeddings: ``{encoder key: (n, dim)}``.
        lexical: ``{group: (n, n_features)}``.
        context_block: The head's ``context`` block (field, encoder, features, sentiment
            direction) or ``None``.
        context_x: Context feature matrix ``(n, n_context)`` (``(n, 0)`` without a context).
        extra_sha: Hashes of other data the design read (``sentiment_data_sha256``).
    """

    def __init__(
        self, trait: str, train: list[Example], backends: dict[str, EmbeddingBackend], data_dir: Path | None, seed: int
    ) -> None:
        self.texts = [ex.text for ex in train]
        self.y = np.array([ex.label for ex in train], dtype=np.int64)
        self.embeddings = {key: backend.encode(self.texts, cache=False) for key, backend in sorted(backends.items())}
        self.lexical = {g: lexical_features(self.texts, FEATURE_GROUPS[g]) for g in FEATURE_GROUPS}
        self.context_block: dict[str, Any] | None = None
        self.context_x = np.zeros((len(self.texts), 0))
        self.extra_sha: dict[str, str] = {}
        self.n_with_context = 0
        spec = CONTEXT_SPECS.get(trait)
        if spec:
            ctx_backend = backends[spec["encoder"]]
            direction, sentiment_sha = sentiment_direction(ctx_backend, data_dir, seed)
            self.extra_sha["sentiment_data_sha256"] = sentiment_sha
            self.context_block = {
                "field": spec["field"],
                "encoder": spec["encoder"],
                "features": list(spec["features"]),
                "sentiment": direction,
            }
            contexts = [ex.extra.get(spec["field"]) for ex in train]
            self.n_with_context = sum(1 for c in contexts if c)
            self.context_x = context_features(
                self.texts,
                contexts,
                self.context_block["features"],
                lambda items: ctx_backend.encode(items, cache=False),
                direction,
            )

    def matrix(self, encoders: tuple[str, ...], groups: tuple[str, ...]) -> np.ndarray:
        """The candidate's raw feature matrix ``[embeddings | lexical groups | context]``."""
        parts = [self.embeddings[e] for e in encoders] + [self.lexical[g] for g in groups] + [self.context_x]
        return np.hstack(parts)

    def weights(self, n_cols: int, gamma: float) -> np.ndarray | None:
        """Column weights: 1 everywhere, ``gamma`` on the trailing context columns (``None`` if all 1)."""
        n_ctx = self.context_x.shape[1]
        if not n_ctx or gamma == 1.0:
            return None
        w = np.ones(n_cols)
        w[-n_ctx:] = gamma
        return w
