"""Exchange with repeng (0.4.x): its ``ControlVector(model_type, directions: dict[int, ndarray])``.

repeng's layer i is the output of decoder block i: ``ControlModel`` wraps ``model.layers[i]`` in a
``ControlModule`` whose forward returns ``block(...) + coeff · directions[i]`` (left pads masked
through ``position_ids``), and ``read_representations`` trains layer i on ``hidden_states[i + 1]``.
So layer i = our ``Site(i + 1, "in")``:

    to_repeng_directions(v, α)          → {i: α · û}   (float32 numpy)
    from_repeng_directions(dirs, info)  → [SteeringVector(site = Site(i + 1, "in"), norm = ‖dirs[i]‖)]

Build its object as ``repeng.ControlVector(lm.info.family, to_repeng_directions(v, α))`` (apply
it with ``coeff=1``). Its on-disk form is the llama.cpp control-vector GGUF, see
:mod:`steerid.interop.gguf_control`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from steerid.interop._layers import as_vectors, build_vectors, peer_layer, scaled
from steerid.models.info import ModelInfo
from steerid.vector import SteeringVector

FORMAT = "repeng"


def to_repeng_directions(vectors: SteeringVector | Iterable[SteeringVector],
                         alpha: float | None = None) -> dict[int, np.ndarray]:
    """repeng ``directions``: ``{i: α · û}`` as float32, i = index of the block whose output is the site.

    ``alpha=None`` keeps each vector's raw norm.
    """
    return {peer_layer(v.site): scaled(v, alpha) for v in as_vectors(vectors)}


def from_repeng_directions(directions: Mapping[int, np.ndarray], info: ModelInfo, *, model_type: str | None = None,
                           trait: str = "custom", method: str = "repeng") -> list[SteeringVector]:
    """steerid vectors, sorted by site, from repeng ``directions`` (``ControlVector.directions``).

    ``model_type`` (repeng's ``ControlVector.model_type``) is recorded in the provenance.
    """
    extra = {"model_type": model_type} if model_type else {}
    return build_vectors(dict(directions), info, source_format=FORMAT, method=method, trait=trait, extra=extra)
