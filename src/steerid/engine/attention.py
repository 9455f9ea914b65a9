r"""A decode-step attention kernel for CPU: one query position, grouped heads, two matmuls.

For a decode step the query has one position; PyTorch's fused CPU SDPA kernel is tuned for long
queries and spends a third of a batch-64 bf16 step of SmolLM2 on it. With query q ∈ ℝ^{B×H×1×d},
keys and values K, V ∈ ℝ^{B×H_kv×S×d} (H = g·H_kv heads share each key head) and an additive or
boolean mask M,

    A = softmax( (q K^T)·s + M ) V      computed per key head on the g grouped queries,

in float32 for the softmax. Longer queries (prefill) go to transformers' SDPA unchanged. The
kernel is registered with transformers' attention interface as ``steerid_decode`` and used only
by the decode engine's private reduced-precision copy of a model (:func:`steerid.engine.decode.in_dtype`),
so fp32 paths keep transformers' own kernels.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

NAME = "steerid_decode"


def decode_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                     attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                     is_causal: bool | None = None, **kwargs) -> tuple[torch.Tensor, None]:
    """``(B, 1, H, d)`` attention output for one query position; SDPA for anything else."""
    if query.shape[2] != 1 or kwargs.get("softcap") is not None or kwargs.get("position_bias") is not None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    b, h, _, d = query.shape
    h_kv, s = key.shape[1], key.shape[2]
    groups = h // h_kv
    scale = scaling if scaling is not None else d ** -0.5
    q = query.reshape(b, h_kv, groups, d)
    scores = torch.matmul(q, key.transpose(-1, -2)).float() * scale  # (b, h_kv, g, s)
    if attention_mask is not None:
        mask = attention_mask[..., -s:]
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask.reshape(b, -1, 1, s) if mask.shape[1] == 1 else ~mask.reshape(b, h_kv, groups, s), float("-inf"))
        else:
            scores = scores + (mask.reshape(b, -1, 1, s) if mask.shape[1] == 1 else mask.reshape(b, h_kv, groups, s)).float()
    probs = torch.softmax(scores, dim=-1).to(value.dtype)
    out = torch.matmul(probs, value)  # (b, h_kv, g, d)
    return out.reshape(b, h, 1, d).transpose(1, 2).contiguous(), None


AttentionInterface.register(NAME, decode_attention)
ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)  # the same boolean masks SDPA gets
