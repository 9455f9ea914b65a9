"""Layer numbering shared by the peer formats, and the checks every importer applies.

steering-vectors (``layer_type="decoder_block"``), repeng and llama.cpp all number a vector by the
decoder block whose *output* it is added to:

    peer layer L  ⇔  output of block L  =  ``Site(L, "out")``  =  ``Site(L + 1, "in")``  =  ``hidden_states[L + 1]``

(steering-vectors registers a forward hook on ``layers[L]``; repeng wraps ``layers[L]`` in a
``ControlModule`` that adds to its output and reads ``hidden_states[L + 1]`` when training;
llama.cpp adds ``direction.L`` to ``l_out`` of block L.) ``Site(0, "in")`` — the embedding
output — is the input of block 0 and the output of no block, so no peer format can hold it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from steerid.errors import SiteError, VectorError
from steerid.models.info import ModelInfo
from steerid.models.site import Site
from steerid.provenance import Provenance
from steerid.validation import check_vector
from steerid.vector import SteeringVector

log = logging.getLogger(__name__)

PROVENANCE_KEY = "steerid.provenance"
"""Metadata key under which exports keep the steerid provenance of each layer (JSON)."""


def peer_layer(site: Site) -> int:
    """The peers' layer index for ``site`` (the block whose output ``site`` is)."""
    if site.point == "out":
        return site.layer
    if site.layer == 0:
        raise VectorError(
            "site in:0 (the embedding output) is not the output of any block, so steering-vectors, "
            "repeng and llama.cpp cannot represent it",
            "extract the vector at in:1 or deeper",
        )
    return site.layer - 1


def site_for_peer_layer(layer: int, n_layers: int) -> Site:
    """The canonical steerid site of peer layer ``layer`` (negative indices count from the end)."""
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise VectorError(f"peer layer index must be an integer, got {layer!r}", "use integer layer keys")
    index = int(layer) + n_layers if layer < 0 else int(layer)
    if not 0 <= index < n_layers:
        raise VectorError(
            f"peer layer {layer} is out of range for a model with {n_layers} blocks",
            "use a vector made for this model",
        )
    return Site(index, "out").canonical(n_layers)


def as_vectors(vectors: SteeringVector | Iterable[SteeringVector]) -> list[SteeringVector]:
    """One vector or several, as a non-empty list whose sites map to distinct peer layers."""
    items = [vectors] if isinstance(vectors, SteeringVector) else list(vectors)
    if not items:
        raise VectorError("no steering vectors to export", "pass at least one vector")
    layers = [peer_layer(v.site) for v in items]
    if len(set(layers)) != len(layers):
        raise VectorError(
            f"two vectors map to the same block output (peer layers {sorted(layers)})",
            "export one vector per layer, or add them first",
        )
    dims = {v.dim for v in items}
    if len(dims) != 1:
        raise VectorError(f"vectors of different widths {sorted(dims)} in one export", "export vectors of one model")
    return items


def scaled(vector: SteeringVector, alpha: float | None) -> np.ndarray:
    """``α · û`` as float32; ``α = None`` keeps the vector's own norm (the raw estimate)."""
    strength = vector.norm if alpha is None else float(alpha)
    if not np.isfinite(strength) or strength == 0.0:
        raise VectorError(f"alpha must be finite and non-zero, got {alpha!r}", "pass a strength such as 8.0")
    return (strength * vector.direction).astype(np.float32)


def to_numpy(values: Any, what: str) -> np.ndarray:
    """A peer tensor (torch, numpy or list) as a validated float64 vector; ``(1, d)``-like shapes are flattened."""
    if isinstance(values, torch.Tensor):
        array = values.detach().to("cpu", torch.float64).numpy()
    else:
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise VectorError(f"{what} is not numeric ({exc})", "pass a tensor or array") from exc
    if array.ndim > 1 and array.size == array.shape[-1]:
        array = array.reshape(-1)
    return check_vector(array, what)


def provenance_payload(vectors: Sequence[SteeringVector], alpha: float | None) -> str:
    """JSON with each exported layer's steerid provenance and the strength used."""
    return json.dumps(
        {str(peer_layer(v.site)): {"provenance": v.provenance.to_dict(), "norm": v.norm,
                                   "alpha": None if alpha is None else float(alpha)} for v in vectors},
        sort_keys=True,
    )


def parse_provenance_payload(text: str | None, where: str) -> dict[int, dict[str, Any]]:
    """Inverse of :func:`provenance_payload`; an unreadable payload is ignored with a warning."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
        return {int(k): dict(v) for k, v in raw.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        log.warning("ignoring unreadable steerid provenance in %s (%s)", where, exc)
        return {}


def build_vectors(directions: Mapping[int, np.ndarray], info: ModelInfo, *, source_format: str, method: str,
                  trait: str, stored: Mapping[int, Mapping[str, Any]] | None = None,
                  extra: Mapping[str, Any] | None = None) -> list[SteeringVector]:
    """steerid vectors (sorted by site) from peer ``{layer: vector}``; norm = the stored vector's length.

    When the file carries steerid provenance for a layer (written by our exporters) and it was
    made for the same weights, that provenance is restored; otherwise a fresh one records the
    source format and peer layer.
    """
    if not directions:
        raise VectorError(f"the {source_format} data holds no layer vectors", "export at least one layer")
    out: list[SteeringVector] = []
    seen: set[Site] = set()
    for layer, values in directions.items():
        site = site_for_peer_layer(layer, info.n_layers)
        if site in seen:
            raise VectorError(f"layers {layer} and {site} name the same block output twice", "keep one entry per layer")
        seen.add(site)
        array = to_numpy(values, f"{source_format} layer {layer}")
        if array.shape[0] != info.hidden_size:
            raise VectorError(
                f"{source_format} layer {layer} has width {array.shape[0]} but {info.name} has hidden size {info.hidden_size}",
                "use a vector made for this model",
            )
        vector = SteeringVector.from_array(array, _fresh(info, site, method, trait, source_format, layer, extra))
        record = (stored or {}).get(int(layer) if layer >= 0 else int(layer) + info.n_layers)
        restored = _restore(record, vector, site, info)
        out.append(restored or vector)
    return sorted(out, key=lambda v: v.site)


def _fresh(info: ModelInfo, site: Site, method: str, trait: str, source_format: str, layer: int,
           extra: Mapping[str, Any] | None) -> Provenance:
    return Provenance(
        model_spec=info.spec, model_name=info.name, weights_hash=info.weights_hash, site=str(site),
        method=method, trait=trait,
        extra={"source_format": source_format, "peer_layer": int(layer), **dict(extra or {})},
    )


def _restore(record: Mapping[str, Any] | None, vector: SteeringVector, site: Site, info: ModelInfo) -> SteeringVector | None:
    """The exported vector's own provenance (and raw norm), when the file still holds what was exported."""
    if not record or "provenance" not in record:
        return None
    try:
        previous = Provenance.from_dict(dict(record["provenance"]))
        alpha = record.get("alpha")
        norm = float(record.get("norm", vector.norm))
        same_site = Site.parse(previous.site).canonical(info.n_layers) == site
    except (TypeError, ValueError, SiteError) as exc:
        log.warning("ignoring unreadable steerid provenance for %s (%s)", site, exc)
        return None
    if not same_site or (previous.weights_hash and previous.weights_hash != info.weights_hash):
        return None
    stored_length = vector.norm
    expected = norm if alpha is None else abs(float(alpha))
    if not np.isfinite(norm) or norm <= 0 or abs(stored_length - expected) > 1e-4 * max(expected, 1.0):
        return None  # the tensor was rescaled after export: keep the fresh record
    direction = vector.direction if alpha is None or float(alpha) > 0 else -vector.direction
    return SteeringVector(direction=direction, norm=norm, provenance=previous)
