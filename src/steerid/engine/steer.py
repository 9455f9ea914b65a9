"""Leak-proof residual-stream steering with one vector per batch row.

Inside ``with steering(lm, site, deltas, scope=...)`` every forward pass adds, at site s,

    h[b, t] ← h[b, t] + Δ[b] · 1[t ∈ scope]

where Δ is ``(d,)`` (same for every row) or ``(B, d)`` (one row per batch element, so all the
conditions of an experiment share one batch; a zero row is the unsteered control and leaves its
row bit-for-bit unchanged since x + 0 = x).

Positions t are absolute indices in the (left-padded) sequence. Under a KV cache each decode
step sees one new token; its index is recovered as ``attention_mask.shape[1] − seq_len`` (or from
the cache length) by a pre-hook on the model itself, so ``scope`` stays right during generation —
the failure of libraries that compare against the current sequence length. ``prompt`` means
t < P, ``generated`` t ≥ P, ``all`` every position, where P is the padded prompt length: given
explicitly, or taken from the first forward pass that starts at position 0 (the prefill).
Pad positions may receive Δ too; they are masked out of attention, so no real token sees it.

Hooks are removed in ``finally``: an exception anywhere (inside the block, in the forward, a
KeyboardInterrupt) leaves the model exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import numpy as np
import torch
from torch import nn

from steerid.errors import VectorError
from steerid.models.hooks import mark, remove_hooks
from steerid.models.loader import LoadedModel
from steerid.models.site import Site, resolve

Scope = Literal["all", "prompt", "generated"]


def as_deltas(values: np.ndarray | torch.Tensor, hidden_size: int, *, differentiable: bool = False) -> torch.Tensor:
    """Validate a ``(d,)`` or ``(B, d)`` displacement and return it as float32 (detached unless
    ``differentiable``, which keeps its autograd graph)."""
    tensor = torch.as_tensor(values)
    tensor = (tensor if differentiable else tensor.detach()).to(torch.float32)
    if tensor.ndim not in (1, 2) or tensor.shape[-1] != hidden_size:
        raise VectorError(
            f"steering displacement has shape {tuple(tensor.shape)}, expected ({hidden_size},) or (B, {hidden_size})",
            "use a vector extracted from this model",
        )
    if not torch.isfinite(tensor).all():
        raise VectorError("steering displacement contains NaN or inf", "check the vector and alpha")
    return tensor


class _PositionTracker:
    """Records the absolute start position and length of the current forward pass."""

    def __init__(self, prompt_length: int | None) -> None:
        self.offset = 0
        self.length = 0
        self.prompt_length = prompt_length
        self.infer_prompt = prompt_length is None

    def __call__(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        tokens = kwargs.get("input_ids", args[0] if args else None)
        if tokens is None:
            tokens = kwargs.get("inputs_embeds")
        length = int(tokens.shape[1])
        mask = kwargs.get("attention_mask")
        if isinstance(mask, torch.Tensor) and mask.ndim == 2:
            offset = int(mask.shape[1]) - length
        else:
            cache = kwargs.get("cache", kwargs.get("past_key_values"))
            offset = int(cache.get_seq_length()) if hasattr(cache, "get_seq_length") else 0
        self.offset, self.length = offset, length
        if self.infer_prompt and offset == 0:
            self.prompt_length = length

    def mask(self, scope: Scope, device: torch.device) -> torch.Tensor | None:
        """Boolean mask over the current positions, or None for 'all'."""
        if scope == "all":
            return None
        positions = torch.arange(self.offset, self.offset + self.length, device=device)
        cut = self.prompt_length if self.prompt_length is not None else 0
        return positions < cut if scope == "prompt" else positions >= cut


@contextmanager
def steering(lm: LoadedModel, site: Site, deltas: np.ndarray | torch.Tensor, *, scope: Scope = "all",
             prompt_length: int | None = None, differentiable: bool = False) -> Iterator[None]:
    """Add ``deltas`` at ``site`` for the duration of the block.

    Args:
        lm: the loaded model.
        site: where to add (same tensor that :func:`steerid.capture.capture` reads).
        deltas: displacement, ``(d,)`` or ``(B, d)`` — already multiplied by α.
        scope: ``all``, ``prompt`` (t < P) or ``generated`` (t ≥ P).
        prompt_length: P; inferred from the prefill when None.
        differentiable: keep the displacement's autograd graph, so ∂output/∂δ can be taken
            (the Fisher products of :mod:`steerid.experiments.fisher`); steering proper detaches.

    Example:
        >>> with steering(lm, Site(15), 8.0 * vector.direction):
        ...     out = lm.model.generate(**inputs)
    """
    if scope not in ("all", "prompt", "generated"):
        raise VectorError(f"unknown steering scope '{scope}'", "use all, prompt or generated")
    point = resolve(lm.blocks, site)
    delta = as_deltas(deltas, lm.info.hidden_size, differentiable=differentiable)
    tracker = _PositionTracker(prompt_length)

    def add(hidden: torch.Tensor) -> torch.Tensor:
        d = delta.to(device=hidden.device, dtype=hidden.dtype)
        if d.ndim == 2:
            if d.shape[0] != hidden.shape[0]:
                raise VectorError(
                    f"{d.shape[0]} steering rows for a batch of {hidden.shape[0]}",
                    "give one vector per prompt or a single vector",
                )
            d = d[:, None, :]
        mask = tracker.mask(scope, hidden.device)
        if mask is None:
            return hidden + d
        return hidden + d * mask[None, :, None].to(hidden.dtype)

    def pre_hook(module, args, kwargs):
        if args:
            return (add(args[0]), *args[1:]), kwargs
        kwargs["hidden_states"] = add(kwargs["hidden_states"])
        return args, kwargs

    def post_hook(module, args, kwargs, output):
        if isinstance(output, tuple):
            return (add(output[0]), *output[1:])
        return add(output)

    for hook in (tracker, pre_hook, post_hook):
        mark(hook)
    handles = []
    try:
        handles.append(lm.model.register_forward_pre_hook(tracker, with_kwargs=True))
        if point.pre:
            handles.append(point.module.register_forward_pre_hook(pre_hook, with_kwargs=True, prepend=True))
        else:
            handles.append(point.module.register_forward_hook(post_hook, with_kwargs=True, prepend=True))
        yield
    finally:
        for handle in handles:
            handle.remove()
        remove_hooks((lm.model, point.module), (tracker, pre_hook, post_hook))
