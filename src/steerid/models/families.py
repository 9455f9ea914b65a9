"""Per-architecture table: where the transformer blocks live.

Every site is resolved from this one table. ``blocks`` is the dotted path of the
``nn.ModuleList`` of decoder blocks inside the ``*ForCausalLM`` module.
"""

from __future__ import annotations

from torch import nn

from steerid.errors import SiteError

BLOCK_PATHS: dict[str, str] = {
    "llama": "model.layers",
    "mistral": "model.layers",
    "qwen2": "model.layers",
    "qwen3": "model.layers",
    "gemma": "model.layers",
    "gemma2": "model.layers",
    "gemma3_text": "model.layers",
    "gemma3": "model.language_model.layers",
    "phi3": "model.layers",
    "phi": "model.layers",
    "olmo": "model.layers",
    "olmo2": "model.layers",
    "granite": "model.layers",
    "gpt2": "transformer.h",
    "gpt_neox": "gpt_neox.layers",
    "gptj": "transformer.h",
    "opt": "model.decoder.layers",
}

DECODE_FAMILIES: frozenset[str] = frozenset({
    "llama", "mistral", "qwen2", "qwen3", "gemma3_text", "gemma3", "phi3", "gpt2", "gpt_neox",
})
"""Families whose greedy tokens from :mod:`steerid.engine.decode` are tested equal to ``model.generate``."""

STATIC_FAMILIES: frozenset[str] = frozenset({
    "llama", "mistral", "qwen2", "qwen3", "gemma3_text", "gemma3", "phi3", "gpt2", "gpt_neox",
})
"""Families whose decode runs on a preallocated ``StaticCache`` (the others on a dynamic one)."""


FORK_FAMILIES: frozenset[str] = DECODE_FAMILIES
"""Families whose blocks take per-row inputs that :mod:`steerid.engine.fork` expands (tested equal to the unforked pass)."""


def _walk(root: nn.Module, dotted: str) -> nn.Module | None:
    node: nn.Module | None = root
    for part in dotted.split("."):
        node = getattr(node, part, None)
        if node is None:
            return None
    return node


def find_blocks(model: nn.Module, family: str, n_layers: int) -> nn.ModuleList:
    """Return the ``ModuleList`` of transformer blocks of ``model``.

    Uses :data:`BLOCK_PATHS`; for an unlisted family falls back to the unique ``ModuleList``
    with ``n_layers`` entries, and refuses when that is ambiguous.
    """
    path = BLOCK_PATHS.get(family)
    if path is not None:
        blocks = _walk(model, path)
        if isinstance(blocks, nn.ModuleList) and len(blocks) == n_layers:
            return blocks
    candidates = [
        module for module in model.modules() if isinstance(module, nn.ModuleList) and len(module) == n_layers
    ]
    if len(candidates) == 1:
        return candidates[0]
    raise SiteError(
        f"cannot locate the transformer blocks of architecture '{family}'",
        "add its block path to steerid.models.families.BLOCK_PATHS",
    )
