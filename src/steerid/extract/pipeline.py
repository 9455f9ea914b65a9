"""From contrastive pairs to a :class:`~steerid.vector.SteeringVector`.

Each pair (prompt, positive, negative) becomes two texts, ``format_chat(tok, prompt) + reply``
for both replies (the generation prefix plus the reply; see :mod:`steerid.traits.formatting`),
whose activations at the site are pooled (last reply token by default) and passed to the
extraction method. Extraction and later steering use the same :class:`~steerid.models.Site`.

Pairs may be :class:`~steerid.traits.schema.ContrastivePair` records (from a trait) or plain
tuples of texts: ``(positive, negative)`` — the two texts used as they are, like a pair without a
prompt — or ``(prompt, positive, negative)``.

Example:
    >>> from steerid.models import Site, load_model                      # doctest: +SKIP
    >>> lm = load_model("tiny:llama")                                    # doctest: +SKIP
    >>> v = extract_vector(lm, [("I love it", "I hate it"), ("Great!", "Awful.")], Site(1))  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Union

import numpy as np

from steerid.capture import Pooling, capture
from steerid.errors import DataError
from steerid.extract.registry import EXTRACTORS, make_extractor
from steerid.io import sha256_texts
from steerid.models.loader import LoadedModel
from steerid.models.site import Site
from steerid.provenance import Provenance
from steerid.traits.formatting import format_chat
from steerid.traits.schema import ContrastivePair
from steerid.validation import check_texts
from steerid.vector import SteeringVector


class TextPair(NamedTuple):
    """A contrastive pair given as plain texts (``prompt`` None: the texts are used as they are)."""

    prompt: str | None
    positive: str
    negative: str


PairLike = Union[ContrastivePair, TextPair, tuple[str, str], tuple[str, str, str]]


def as_pairs(pairs: Iterable[PairLike]) -> list[ContrastivePair | TextPair]:
    """Normalise pairs: ContrastivePair records pass through; ``(positive, negative)`` and
    ``(prompt, positive, negative)`` tuples of non-empty, distinct texts become :class:`TextPair`.

    Raises:
        DataError: A bare string, an element of another kind or length, an empty or non-string
            text, or a tuple whose positive and negative texts are the same.
    """
    if isinstance(pairs, (str, bytes)):
        raise DataError("pairs is a single string, not a sequence of pairs",
                        "pass [(positive, negative), ...] or ContrastivePair records")
    out: list[ContrastivePair | TextPair] = []
    for index, pair in enumerate(pairs):
        if isinstance(pair, (ContrastivePair, TextPair)):
            out.append(pair)
            continue
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) not in (2, 3):
            raise DataError(f"pair #{index + 1} is {type(pair).__name__}, not a (positive, negative) tuple",
                            "pass (positive, negative) or (prompt, positive, negative) tuples of texts")
        texts = check_texts(pair, f"pair #{index + 1} text")
        prompt, positive, negative = texts if len(texts) == 3 else (None, *texts)
        if positive.strip() == negative.strip():
            raise DataError(f"pair #{index + 1} has the same positive and negative text",
                            "give two texts that differ in the trait")
        out.append(TextPair(prompt, positive, negative))
    return out


def pair_texts(lm: LoadedModel, pairs: Iterable[PairLike]) -> tuple[list[str], list[str]]:
    """Formatted positive and negative texts (prompt prefix + reply) for each pair (see :func:`as_pairs`)."""
    pairs = as_pairs(pairs)
    if not pairs:
        raise DataError("no contrastive pairs given", "supply at least two pairs")
    pos, neg = [], []
    for pair in pairs:
        if pair.prompt is None:
            pos.append(pair.positive)
            neg.append(pair.negative)
        else:
            prefix = format_chat(lm.tokenizer, pair.prompt)
            pos.append(prefix + pair.positive)
            neg.append(prefix + pair.negative)
    return pos, neg


def pair_activations(lm: LoadedModel, pairs: Iterable[PairLike], sites: Sequence[Site], *,
                     pooling: Pooling = "last", batch_size: int = 16) -> dict[Site, tuple[np.ndarray, np.ndarray]]:
    """Pooled activations ``{site: (pos (n, d), neg (n, d))}`` of the pairs, one forward per batch."""
    pos, neg = pair_texts(lm, pairs)
    acts = capture(lm, pos + neg, list(sites), pooling=pooling, batch_size=batch_size)
    n = len(pos)
    return {site: (a[:n], a[n:]) for site, a in acts.items()}


def extract_vector(lm: LoadedModel, pairs: Iterable[PairLike], site: Site, *, method: str = "mean_diff",
                   params: dict[str, Any] | None = None, pooling: Pooling = "last", trait: str = "custom",
                   seed: int = 0, batch_size: int = 16,
                   activations: tuple[np.ndarray, np.ndarray] | None = None) -> SteeringVector:
    """Extract a steering vector at ``site`` from contrastive pairs with ``method``.

    Args:
        lm: The loaded model.
        pairs: ContrastivePair records, or ``(positive, negative)`` / ``(prompt, positive,
            negative)`` tuples of texts (see :func:`as_pairs`); at least two.
        site: Where to read the activations (and later to steer).
        method: An extraction method of :data:`~steerid.extract.registry.EXTRACTORS`.
        params: Its hyper-parameters.
        pooling: Token pooling of each text's activations.
        trait: Trait name recorded in the provenance.
        seed: Seed (passed to methods that take one) recorded in the provenance.
        batch_size: Texts per forward pass.
        activations: ``(pos, neg)`` from :func:`pair_activations`, to fit several methods on one
            capture.

    Returns:
        The unit direction with its raw norm and provenance.

    Raises:
        DataError: Fewer than two pairs, a malformed pair, or what the method raises.
    """
    pairs = as_pairs(pairs)
    if len(pairs) < 2:
        raise DataError(f"only {len(pairs)} contrastive pair(s)", "supply at least two pairs")
    site.check(lm.info.n_layers)
    pos_acts, neg_acts = activations if activations is not None else pair_activations(
        lm, pairs, [site], pooling=pooling, batch_size=batch_size)[site]
    hyper = dict(params or {})
    if method in EXTRACTORS and "seed" in inspect.signature(EXTRACTORS[method]).parameters:
        hyper.setdefault("seed", seed)
    extractor = make_extractor(method, **hyper)
    extractor.fit(pos_acts, neg_acts)
    pos_texts, neg_texts = pair_texts(lm, pairs)
    provenance = Provenance(
        model_spec=lm.info.spec, model_name=lm.info.name, weights_hash=lm.info.weights_hash, site=str(site),
        method=method, trait=trait, method_params={**extractor.params(), "pooling": pooling},
        prompts_hash=sha256_texts([t for pair in zip(pos_texts, neg_texts) for t in pair]),
        n_examples=len(pairs), seed=seed,
    )
    return SteeringVector(direction=extractor.direction_, norm=float(extractor.raw_norm_), provenance=provenance)
