"""Import and export of steering vectors in the formats of other tools.

One module per format; all share one layer convention (see :mod:`steerid.interop._layers`):
a peer's layer L is the output of decoder block L, i.e. our ``Site(L + 1, "in")``.

- :mod:`steerid.interop.steering_vectors` — steering-vectors' ``layer_activations`` dict and a
  safetensors file form of it (``layer.{L}`` tensors);
- :mod:`steerid.interop.repeng` — repeng's ``ControlVector.directions`` dict;
- :mod:`steerid.interop.gguf_control` — the llama.cpp control-vector GGUF that repeng exports.
"""

from steerid.interop._layers import peer_layer, site_for_peer_layer
from steerid.interop.gguf_control import export_gguf, import_gguf, read_gguf
from steerid.interop.repeng import from_repeng_directions, to_repeng_directions
from steerid.interop.steering_vectors import (
    from_steering_vectors_dict,
    load_steering_vectors_file,
    read_steering_vectors_file,
    save_steering_vectors_file,
    to_steering_vectors_dict,
)

__all__ = [
    "export_gguf", "from_repeng_directions", "from_steering_vectors_dict", "import_gguf", "load_steering_vectors_file",
    "peer_layer", "read_gguf", "read_steering_vectors_file", "save_steering_vectors_file", "site_for_peer_layer",
    "to_repeng_directions", "to_steering_vectors_dict",
]
