"""What steerid knows about a loaded model."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ModelInfo:
    """Description of a loaded model.

    Attributes:
        spec: the spec the user gave (``smollm2-135m``, ``tiny:llama``, a path or a hub id).
        name: a readable name (e.g. ``SmolLM2-135M-Instruct``).
        family: the architecture family key used for site resolution (``llama``, ``gpt2``...).
        n_layers: number of transformer blocks.
        hidden_size: residual-stream width d.
        has_chat_template: whether the tokenizer carries a chat template.
        weights_hash: SHA-256 fingerprint of the weights (GGUF file hash for packaged models).
        dtype: torch dtype name the model runs in.
        source: where the weights were read from.
        max_positions: context window in tokens (None when the config does not say).
        device: torch device the model runs on (``cpu``, ``cuda``, ``cuda:1``...).
    """

    spec: str
    name: str
    family: str
    n_layers: int
    hidden_size: int
    has_chat_template: bool
    weights_hash: str
    dtype: str
    source: str
    max_positions: int | None = None
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
