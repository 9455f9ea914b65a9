"""From contrastive pairs to a :class:`~steerid.vector.SteeringVector`.

Each pair (prompt, positive, negative) becomes two texts, ``format_chat(tok, prompt) + reply``
for both replies (the generation prefix plus the reply; see :mod:`steerid.traits.formatting`),
whose activations at the site are pooled (last reply token by default) and passed to the
extraction method. Extraction and later steering use the same :class:`~steerid.models.Site`.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

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
from steerid.vector import SteeringVector


def pair_texts(lm: LoadedModel, pairs: Sequence[ContrastivePair]) -> tuple[list[str], list[str]]:
    """Formatted positive and negative texts (prompt prefix + reply) for each pair."""
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


def pair_activations(lm: LoadedModel, pairs: Sequence[ContrastivePair], sites: Sequence[Site], *,
                     pooling: Pooling = "last", batch_size: int = 16) -> dict[Site, tuple[np.ndarray, np.ndarray]]:
    """Pooled activations ``{site: (pos (n, d), neg (n, d))}`` of the pairs, one forward per batch."""
    pos, neg = pair_texts(lm, pairs)
    acts = capture(lm, pos + neg, list(sites), pooling=pooling, batch_size=batch_size)
    n = len(pos)
    return {site: (a[:n], a[n:]) for site, a in acts.items()}


def extract_vector(lm: LoadedModel, pairs: Sequence[ContrastivePair], site: Site, *, method: str = "mean_diff",
                   params: dict[str, Any] | None = None, pooling: Pooling = "last", trait: str = "custom",
                   seed: int = 0, batch_size: int = 16,
                   activations: tuple[np.ndarray, np.ndarray] | None = None) -> SteeringVector:
    """Extract a steering vector at ``site`` from contrastive pairs with ``method``.

    ``activations`` may be given (from :func:`pair_activations`) to fit several methods on one
    capture.
    """
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
