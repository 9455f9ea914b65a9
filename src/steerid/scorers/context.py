"""Context features: a reply scored against the context it answers (the user's ``opinion``).

A reply's stance (agree vs disagree) is only defined relative to the opinion it answers, so the
agreeableness head appends these columns to the reply's own features. With ``e`` the context
encoder (unit-norm embeddings, so a dot product is a cosine) and
``s(x) = clip(w_s · e(x) + b_s, −6, 6) / 6`` a sentiment direction fitted on the sentiment
training split, each feature of reply ``t`` and opinion ``o`` is 0 when no context is given, and
otherwise:

- ``has_context``: 1;
- ``sentiment_product``: ``s(o) · s(t)`` (same polarity → agreement);
- ``similarity``: ``e(o) · e(t)``;
- ``negation_contrast``: ``(e(o) − e("It is not true that " + o)) · e(t)``;
- ``stance_contrast``: ``(e("I agree. " + o) − e("I disagree. " + o)) · e(t)``.

Context columns are multiplied by a group weight (chosen by cross-validation) before the L2
penalty; the stored ``coef`` already includes it (see :mod:`steerid.scorers.head`).

The opinion's embeddings (and its templates) are computed once per distinct opinion in a batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from steerid.errors import ScorerError

CONTEXT_FEATURES: tuple[str, ...] = (
    "has_context", "sentiment_product", "similarity", "negation_contrast", "stance_contrast",
)
"""Context features in their fixed column order (see the module docstring)."""
NEGATION_TEMPLATE = "It is not true that {}"
AGREE_TEMPLATE = "I agree. {}"
DISAGREE_TEMPLATE = "I disagree. {}"


def _lower_first(text: str) -> str:
    text = text.strip()
    return text[:1].lower() + text[1:] if text else text


def context_features(
    texts: Sequence[str],
    contexts: Sequence[str | None],
    names: Sequence[str],
    encode: Callable[[list[str]], np.ndarray],
    sentiment: dict[str, Any],
) -> np.ndarray:
    """Context feature matrix ``(len(texts), len(names))`` (see the module docstring).

    Args:
        texts: The scored texts.
        contexts: One context string per text (``None`` or blank: no context → zeros).
        names: Feature names from :data:`CONTEXT_FEATURES`.
        encode: ``encode(list_of_str) -> (n, d)`` unit-norm embeddings of the context encoder.
        sentiment: ``{"coef": [...], "intercept": b}``, the sentiment direction on that encoder.
    """
    n = len(texts)
    out = np.zeros((n, len(names)), dtype=np.float64)
    rows = [i for i, c in enumerate(contexts) if isinstance(c, str) and c.strip()]
    if not rows or not names:
        return out
    ctx = [str(contexts[i]).strip() for i in rows]
    unique = list(dict.fromkeys(ctx))
    where = {c: k for k, c in enumerate(unique)}
    idx = np.array([where[c] for c in ctx])
    e_t = encode([texts[i] for i in rows])
    need = set(names)
    e_o = encode(unique)[idx] if need & {"similarity", "negation_contrast", "sentiment_product"} else None
    w = np.asarray(sentiment.get("coef", []), dtype=np.float64) if sentiment else None
    b = float(sentiment.get("intercept", 0.0)) if sentiment else 0.0

    def polarity(e: np.ndarray) -> np.ndarray:
        return np.clip(e @ w + b, -6.0, 6.0) / 6.0

    for j, name in enumerate(names):
        if name == "has_context":
            col = np.ones(len(rows))
        elif name == "sentiment_product":
            col = polarity(e_o) * polarity(e_t)
        elif name == "similarity":
            col = np.sum(e_o * e_t, axis=1)
        elif name == "negation_contrast":
            neg = encode([NEGATION_TEMPLATE.format(_lower_first(c)) for c in unique])[idx]
            col = np.sum((e_o - neg) * e_t, axis=1)
        elif name == "stance_contrast":
            agree = encode([AGREE_TEMPLATE.format(c) for c in unique])[idx]
            disagree = encode([DISAGREE_TEMPLATE.format(c) for c in unique])[idx]
            col = np.sum((agree - disagree) * e_t, axis=1)
        else:
            raise ScorerError(f"unknown context feature {name!r}", "upgrade steerid or retrain the head")
        out[rows, j] = col
    return out
