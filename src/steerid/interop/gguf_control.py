"""llama.cpp control-vector GGUF, as written by repeng's ``ControlVector.export_gguf``.

Layout (checked against repeng 0.4.0 ``export_gguf``/``import_gguf`` and llama.cpp's
``common_control_vector_load_one`` / ``llama_adapter_cvec``):

- key ``general.architecture = "controlvector"``;
- key ``controlvector.model_hint`` (string): repeng writes ``model.config.model_type``
  (``llama`` for SmolLM2); its importer refuses a file without it, llama.cpp ignores it;
- key ``controlvector.layer_count`` (uint32): repeng writes the *number of direction tensors*,
  not the model's depth; neither reader uses it;
- tensors ``direction.{i}``: 1-D float32 of width d, one per layer.

Layer numbering: ``direction.i`` is added to the output of block i — repeng's layer i, and in
llama.cpp every architecture ends block ``il`` with ``cur = build_cvec(cur, il)`` on ``l_out``.
So ``direction.i`` = our ``Site(i + 1, "in")``. llama.cpp rejects the whole file when it contains
``direction.0`` ("invalid (zero) direction tensor layer index": its buffer starts at layer 1), so
a vector at ``Site(1, "in")`` (block 0's output) cannot be used there; :func:`export_gguf` refuses
it unless ``llama_cpp=False``. llama.cpp also scales the file at load time
(``--control-vector-scaled FILE S``), so the tensors hold ``α · û``.

steerid adds one key of its own, ``steerid.provenance`` (JSON, each layer's provenance and the α
used); both readers ignore unknown keys, and :func:`import_gguf` restores it on a round trip.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

import gguf
import numpy as np

from steerid.errors import VectorError
from steerid.interop._layers import PROVENANCE_KEY, as_vectors, build_vectors, parse_provenance_payload, provenance_payload
from steerid.interop.repeng import to_repeng_directions
from steerid.io import atomic_write_with
from steerid.models.info import ModelInfo
from steerid.vector import SteeringVector

log = logging.getLogger(__name__)

ARCH = "controlvector"
_TENSOR = re.compile(r"^direction\.(-?\d+)$")
GGUF_MAGIC = b"GGUF"


def export_gguf(path: str | Path, vectors: SteeringVector | Iterable[SteeringVector], alpha: float | None = None, *,
                model_hint: str | None = None, llama_cpp: bool = True) -> Path:
    """Write a control-vector GGUF (atomic) readable by repeng's ``import_gguf`` and llama.cpp.

    Args:
        path: output file.
        vectors: one steerid vector or several at different sites (one tensor per block output).
        alpha: absolute strength stored in the tensors (``None``: each vector's raw norm).
        model_hint: ``controlvector.model_hint``; defaults to the model family recorded in the
            vectors' provenance when it is a HF ``model_type`` — pass ``lm.info.family``.
        llama_cpp: refuse ``direction.0`` (block 0's output), which llama.cpp rejects.

    Raises:
        VectorError: a vector at ``in:0``/``in:1`` (see above), two vectors on one layer.
    """
    items = as_vectors(vectors)
    directions = to_repeng_directions(items, alpha)
    if llama_cpp and 0 in directions:
        raise VectorError(
            "llama.cpp rejects control vectors with a direction.0 tensor (the output of block 0 = site in:1)",
            "extract at in:2 or deeper, or pass llama_cpp=False for a repeng-only file",
        )
    hint = model_hint or items[0].provenance.extra.get("model_type") or items[0].provenance.model_spec

    def write(tmp: Path) -> None:
        writer = gguf.GGUFWriter(str(tmp), ARCH)
        writer.add_string(f"{ARCH}.model_hint", str(hint))
        writer.add_uint32(f"{ARCH}.layer_count", len(directions))
        writer.add_string(PROVENANCE_KEY, provenance_payload(items, alpha))
        for layer in sorted(directions):
            writer.add_tensor(f"direction.{layer}", np.ascontiguousarray(directions[layer], dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()

    return atomic_write_with(path, write)


def _string_field(reader: gguf.GGUFReader, key: str) -> str | None:
    field = reader.get_field(key)
    if field is None or not field.parts or not field.data:
        return None
    return bytes(field.parts[field.data[0]]).decode("utf-8", errors="replace")


def read_gguf(path: str | Path) -> tuple[dict[int, np.ndarray], dict[str, str | None]]:
    """``(directions, metadata)`` of a control-vector GGUF, checked as llama.cpp checks it.

    ``metadata`` has ``model_hint`` and ``steerid.provenance`` (None when absent).
    """
    file = Path(path)
    if not file.is_file():
        raise VectorError(f"control-vector file '{file}' does not exist", "check the path")
    with open(file, "rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise VectorError(f"'{file}' is not a GGUF file", "pass a control vector written by repeng or steerid")
    try:
        reader = gguf.GGUFReader(str(file))
        arch = _string_field(reader, "general.architecture")
        hint = _string_field(reader, f"{ARCH}.model_hint")
        payload = _string_field(reader, PROVENANCE_KEY)
        directions: dict[int, np.ndarray] = {}
        for tensor in reader.tensors:
            match = _TENSOR.match(tensor.name)
            if match is None:
                raise VectorError(f"'{file}' has a tensor '{tensor.name}' that is not direction.<layer>",
                                  "pass a control-vector GGUF, not a model")
            if tensor.tensor_type != gguf.GGMLQuantizationType.F32:
                raise VectorError(f"'{file}' tensor {tensor.name} is {tensor.tensor_type.name}, not F32",
                                  "re-export it as float32")
            if len([n for n in tensor.shape if n != 1]) > 1:
                raise VectorError(f"'{file}' tensor {tensor.name} is not 1-D (shape {list(tensor.shape)})",
                                  "store one vector per layer")
            directions[int(match.group(1))] = np.array(tensor.data, dtype=np.float32).reshape(-1)
    except (ValueError, OSError, KeyError, IndexError) as exc:
        raise VectorError(f"'{file}' is a corrupt GGUF file ({exc})", "re-export the control vector") from exc
    if arch is not None and arch != ARCH:
        raise VectorError(f"'{file}' is a GGUF of architecture '{arch}', not a control vector",
                          "pass a control-vector GGUF (general.architecture = controlvector)")
    if arch is None:
        log.warning("'%s' has no general.architecture field; reading it as a control vector", file)
    if not directions:
        raise VectorError(f"'{file}' holds no direction tensors", "export at least one layer")
    return directions, {"model_hint": hint, PROVENANCE_KEY: payload}


def import_gguf(path: str | Path, info: ModelInfo, *, trait: str = "custom") -> list[SteeringVector]:
    """steerid vectors, sorted by site, from a control-vector GGUF (``direction.i`` → ``Site(i + 1, "in")``).

    A ``model_hint`` that differs from ``info.family`` is logged (repeng writes the HF
    ``model_type``); the width is checked against ``info.hidden_size``.
    """
    directions, metadata = read_gguf(path)
    hint = metadata["model_hint"]
    if hint is None:
        log.warning("'%s' has no controlvector.model_hint (repeng's importer would refuse it)", path)
    elif hint not in (info.family, info.spec):
        log.warning("control vector '%s' was made for '%s', applying it to %s (%s)", path, hint, info.name, info.family)
    stored = parse_provenance_payload(metadata[PROVENANCE_KEY], str(path))
    extra = {"model_hint": hint} if hint else {}
    return build_vectors(directions, info, source_format="gguf-controlvector", method="repeng", trait=trait,
                         stored=stored, extra=extra)
