"""``SteeringVector``: a unit direction, its norm and its provenance, stored as safetensors.

The stored tensor is the unit direction û (float32, shape ``(d,)``); ``norm`` is the raw norm of
the estimate in activation units, so ``vector = norm · û``. Steering strength is a separate α:
the added displacement is ``α · û`` (absolute) or ``α_rel · m · û`` with m the median residual
norm at the site (relative), never the raw norm implicitly.
"""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from steerid.errors import VectorError
from steerid.io import atomic_write_with
from steerid.models.info import ModelInfo
from steerid.models.site import Site
from steerid.provenance import Provenance

log = logging.getLogger(__name__)

_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")


def check_finite_nonzero(values: np.ndarray | torch.Tensor, what: str = "vector") -> np.ndarray:
    """Return ``values`` as float64 numpy, refusing NaN/inf and all-zero vectors."""
    array = values.detach().cpu().double().numpy() if isinstance(values, torch.Tensor) else np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise VectorError(f"{what} must be 1-D, got shape {array.shape}", "pass a single d-dimensional vector")
    if not np.isfinite(array).all():
        raise VectorError(f"{what} contains NaN or inf", "re-extract it; check the model dtype and prompts")
    if not np.any(array):
        raise VectorError(f"{what} is all zeros", "re-extract it from pairs whose texts differ")
    return array


@dataclass(frozen=True)
class SteeringVector:
    """A steering direction with provenance.

    Attributes:
        direction: unit-norm float64 numpy array of shape ``(d,)``.
        norm: raw norm of the estimate in activation units (> 0).
        provenance: :class:`Provenance`.
    """

    direction: np.ndarray
    norm: float
    provenance: Provenance

    @classmethod
    def from_array(cls, values: np.ndarray | torch.Tensor, provenance: Provenance) -> "SteeringVector":
        """Build from an un-normalised vector; ``norm`` is its length."""
        array = check_finite_nonzero(values)
        length = float(np.linalg.norm(array))
        return cls(direction=array / length, norm=length, provenance=provenance)

    @property
    def dim(self) -> int:
        return int(self.direction.shape[0])

    @property
    def site(self) -> Site:
        return Site.parse(self.provenance.site)

    @property
    def vector(self) -> np.ndarray:
        """``norm · direction``."""
        return self.direction * self.norm

    def with_provenance(self, **changes) -> "SteeringVector":
        return replace(self, provenance=replace(self.provenance, **changes))

    def cosine(self, other: "SteeringVector") -> float:
        return float(self.direction @ other.direction)

    def check_compatible(self, info: ModelInfo, *, strict: bool = False) -> None:
        """Refuse a vector of the wrong width; warn (or refuse when ``strict``) on another model's hash."""
        if self.dim != info.hidden_size:
            raise VectorError(
                f"vector has hidden size {self.dim} but {info.name} has {info.hidden_size}",
                "use a vector extracted from this model",
            )
        if self.provenance.weights_hash and self.provenance.weights_hash != info.weights_hash:
            message = (
                f"vector was extracted from weights {self.provenance.weights_hash[:12]} "
                f"({self.provenance.model_name}), not {info.weights_hash[:12]} ({info.name})"
            )
            if strict:
                raise VectorError(message, "use a vector from this model or drop --strict")
            log.warning("%s; applying it anyway (use --strict to refuse)", message)

    def save(self, path: str | Path) -> Path:
        """Write atomically as safetensors: tensor ``direction`` + JSON metadata."""
        tensors = {"direction": torch.from_numpy(self.direction.astype(np.float32)).contiguous()}
        metadata = {
            "format": "steerid",
            "norm": repr(float(self.norm)),
            "provenance": json.dumps(self.provenance.to_dict(), sort_keys=True),
        }
        return atomic_write_with(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))

    @classmethod
    def load(cls, path: str | Path) -> "SteeringVector":
        """Read a steerid safetensors vector, validating everything a user could get wrong."""
        file = Path(path)
        if file.is_dir():
            raise VectorError(f"vector path '{file}' is a directory", "pass the .safetensors file inside it")
        if not file.is_file():
            raise VectorError(f"vector file '{file}' does not exist", "check the path")
        try:
            with open(file, "rb") as handle:
                head = handle.read(9)
        except OSError as exc:
            raise VectorError(f"cannot read vector file '{file}' ({exc.strerror})", "check its permissions") from exc
        # a safetensors file starts with its JSON header's length (u64, little endian) and then "{";
        # only what is not one is checked for pickle magic (a header of 128 + 256·k bytes starts with 0x80)
        looks_safetensors = len(head) == 9 and head[8:9] == b"{" and 8 + struct.unpack("<Q", head[:8])[0] <= file.stat().st_size
        if not looks_safetensors and head.startswith(_PICKLE_MAGIC):
            raise VectorError(
                f"'{file}' is a pickle/torch.save file, which steerid never loads",
                "convert it to safetensors (see steerid import)",
            )
        if not looks_safetensors:
            raise VectorError(f"'{file}' is not a valid safetensors file", "re-save the vector")
        try:
            tensors = load_file(str(file))
            from safetensors import safe_open

            with safe_open(str(file), "pt") as handle:
                metadata = handle.metadata() or {}
        except (SafetensorError, OSError, ValueError) as exc:
            raise VectorError(f"'{file}' is corrupt or not safetensors ({exc})", "re-save the vector") from exc
        if "direction" not in tensors:
            raise VectorError(f"'{file}' has no 'direction' tensor", "save vectors with steerid extract or steerid import")
        try:
            provenance = Provenance.from_dict(json.loads(metadata.get("provenance", "{}")))
            norm = float(metadata.get("norm", "nan"))
        except (TypeError, ValueError) as exc:
            raise VectorError(f"'{file}' has unreadable provenance metadata", "re-save the vector") from exc
        direction = check_finite_nonzero(tensors["direction"], f"vector in '{file.name}'")
        if not np.isfinite(norm) or norm <= 0:
            raise VectorError(f"'{file}' records an invalid norm ({norm})", "re-extract the vector")
        return cls(direction=direction / np.linalg.norm(direction), norm=norm, provenance=provenance)
