"""Exchange with steering-vectors (0.12.x): its ``SteeringVector(layer_activations, layer_type)``.

Its ``layer_activations: dict[int, Tensor]`` with ``layer_type="decoder_block"`` adds
``multiplier · layer_activations[L]`` to the output of decoder block L (a forward hook on
``model.layers[L]``, every position by default), i.e. to our ``Site(L + 1, "in")``:

    to_steering_vectors_dict(v, α)        → {L: α · û}            with L = block whose output is v.site
    from_steering_vectors_dict(acts, info) → [SteeringVector(site = Site(L + 1, "in"), norm = ‖acts[L]‖)]

No import of the library is needed: build its object as
``steering_vectors.SteeringVector(to_steering_vectors_dict(v, 8.0), "decoder_block")`` and read
one back with ``from_steering_vectors_dict(sv.layer_activations, lm.info)``.

The library has no file format of its own (users ``torch.save`` the object, a pickle steerid never
reads). :func:`save_steering_vectors_file` writes the same dict as safetensors — one float32
tensor per layer under ``layer.{L}`` — with ``format = "steering-vectors"`` and the
``layer_type`` in the metadata, plus each layer's steerid provenance so a round trip restores it.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from steerid.errors import VectorError
from steerid.interop._layers import (
    PROVENANCE_KEY,
    as_vectors,
    build_vectors,
    parse_provenance_payload,
    peer_layer,
    provenance_payload,
    scaled,
)
from steerid.io import atomic_write_with
from steerid.models.info import ModelInfo
from steerid.vector import SteeringVector

FORMAT = "steering-vectors"
LAYER_TYPE = "decoder_block"
_KEY = re.compile(r"^layer\.(-?\d+)$")
_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")


def to_steering_vectors_dict(vectors: SteeringVector | Iterable[SteeringVector],
                             alpha: float | None = None) -> dict[int, torch.Tensor]:
    """``layer_activations`` for steering-vectors: ``{L: α · û}`` (float32), L = block output index.

    Args:
        vectors: one steerid vector or several at different sites.
        alpha: absolute strength; ``None`` keeps each vector's raw norm. Apply it with
            ``multiplier=1`` (their multiplier then scales on top of α).

    Raises:
        VectorError: a vector at ``in:0`` (not a block output), two vectors on one layer, a zero α.
    """
    return {peer_layer(v.site): torch.from_numpy(scaled(v, alpha)) for v in as_vectors(vectors)}


def from_steering_vectors_dict(layer_activations: Mapping[int, torch.Tensor | np.ndarray], info: ModelInfo, *,
                               layer_type: str = LAYER_TYPE, trait: str = "custom",
                               method: str = "steering-vectors") -> list[SteeringVector]:
    """steerid vectors, sorted by site, from steering-vectors' ``layer_activations``.

    Layer L becomes ``Site(L + 1, "in")`` (``Site(L, "out")`` for the last block); negative L
    count from the end as in Python indexing. The raw norm is the tensor's length (the
    library's vectors carry their strength in their length).

    Raises:
        VectorError: another ``layer_type`` (only decoder-block outputs are residual-stream sites),
            a width other than ``info.hidden_size``, NaN/inf/zero tensors, a layer out of range.
    """
    if layer_type != LAYER_TYPE:
        raise VectorError(
            f"steering-vectors layer_type '{layer_type}' is not a residual-stream site",
            "import vectors trained with layer_type='decoder_block'",
        )
    return build_vectors(dict(layer_activations), info, source_format=FORMAT, method=method, trait=trait)


def save_steering_vectors_file(path: str | Path, vectors: SteeringVector | Iterable[SteeringVector],
                               alpha: float | None = None) -> Path:
    """Write ``to_steering_vectors_dict(vectors, alpha)`` as safetensors (atomic), keys ``layer.{L}``."""
    items = as_vectors(vectors)
    tensors = {f"layer.{layer}": t.contiguous() for layer, t in to_steering_vectors_dict(items, alpha).items()}
    metadata = {"format": FORMAT, "layer_type": LAYER_TYPE, PROVENANCE_KEY: provenance_payload(items, alpha)}
    return atomic_write_with(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def read_steering_vectors_file(path: str | Path) -> tuple[dict[int, torch.Tensor], dict[str, str]]:
    """``(layer_activations, metadata)`` from a ``layer.{L}`` safetensors file.

    Feed ``layer_activations`` to ``steering_vectors.SteeringVector(acts, metadata["layer_type"])``.
    """
    file = Path(path)
    if not file.is_file():
        raise VectorError(f"vector file '{file}' does not exist", "check the path")
    head = file.read_bytes()[:8]
    if head.startswith(_PICKLE_MAGIC):
        raise VectorError(
            f"'{file}' is a pickle/torch.save file, which steerid never loads",
            "in the steering-vectors environment, save sv.layer_activations with safetensors as layer.{L} keys",
        )
    if len(head) < 8 or struct.unpack("<Q", head)[0] > file.stat().st_size:
        raise VectorError(f"'{file}' is not a valid safetensors file", "re-export the vector")
    try:
        with safe_open(str(file), "pt") as handle:
            metadata = dict(handle.metadata() or {})
            names = list(handle.keys())
            tensors = {name: handle.get_tensor(name) for name in names}
    except (SafetensorError, OSError, ValueError) as exc:
        raise VectorError(f"'{file}' is corrupt or not safetensors ({exc})", "re-export the vector") from exc
    if metadata.get("format", FORMAT) != FORMAT:
        raise VectorError(
            f"'{file}' is a '{metadata['format']}' file, not a steering-vectors export",
            "load steerid vectors with SteeringVector.load",
        )
    acts: dict[int, torch.Tensor] = {}
    for name, tensor in tensors.items():
        match = _KEY.match(name)
        if match is None:
            raise VectorError(f"'{file}' has a tensor '{name}' that is not named layer.<int>", "name tensors layer.{L}")
        acts[int(match.group(1))] = tensor
    if not acts:
        raise VectorError(f"'{file}' holds no layer tensors", "export at least one layer")
    return acts, metadata


def load_steering_vectors_file(path: str | Path, info: ModelInfo, *, trait: str = "custom") -> list[SteeringVector]:
    """steerid vectors from a ``layer.{L}`` safetensors file (provenance restored when we wrote it)."""
    acts, metadata = read_steering_vectors_file(path)
    layer_type = metadata.get("layer_type", LAYER_TYPE)
    if layer_type != LAYER_TYPE:
        raise VectorError(
            f"'{path}' holds layer_type '{layer_type}', which is not a residual-stream site",
            "export vectors trained with layer_type='decoder_block'",
        )
    stored = parse_provenance_payload(metadata.get(PROVENANCE_KEY), str(path))
    return build_vectors(acts, info, source_format=FORMAT, method="steering-vectors", trait=trait, stored=stored)
