"""Batched, padding-aware activation capture at one or several residual sites.

One forward pass per batch records every requested site through the same hook points that
steering writes to (:func:`steerid.models.site.resolve`). The pass stops right after the deepest
requested block, so capturing at layer L of an N-layer model costs about L/N of a forward.

Pooling over the real (non-pad) tokens of each text:
    ``last``: the last real token; ``mean``: the mean over real tokens; ``all``: every real token.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from typing import Literal

import numpy as np
import torch

from steerid.engine.batching import chunks, encode, left_pad, on_device
from steerid.errors import DataError
from steerid.models.hooks import mark, remove_hooks
from steerid.models.loader import LoadedModel
from steerid.models.site import Site, resolve
from steerid.moments import RunningMoments
from steerid.validation import check_texts

Pooling = Literal["last", "mean", "all"]


class _StopForward(Exception):
    """Raised by the deepest capture hook to end the forward pass early."""


def _hidden(args: tuple, kwargs: dict, output: object, pre: bool) -> torch.Tensor:
    if pre:
        return args[0] if args else kwargs["hidden_states"]
    return output[0] if isinstance(output, tuple) else output  # type: ignore[index,return-value]


def forward_capture(lm: LoadedModel, sites: Sequence[Site], batch_inputs: dict[str, torch.Tensor]) -> dict[Site, torch.Tensor]:
    """Run one forward pass and return the raw ``(B, S, d)`` tensors at ``sites``, on the CPU.

    ``batch_inputs`` may be on the CPU: they are moved to the model's device first.
    """
    store: dict[Site, torch.Tensor] = {}
    deepest = max(sites, key=lambda s: (s.layer, s.point == "out"))
    deepest_module = resolve(lm.blocks, deepest).module

    def recorder(site: Site, pre: bool):
        def record(module, args, kwargs, output=None):
            store[site] = _hidden(args, kwargs, output, pre).detach()
            if module is deepest_module and all(s in store for s in sites):
                raise _StopForward

        return mark(record)

    hooks: list = []
    with ExitStack() as stack:
        # runs last: also removes a hook whose handle was lost to an interrupt during registration
        stack.callback(remove_hooks, list(lm.blocks), hooks)
        for site in sites:
            point = resolve(lm.blocks, site)
            hook = recorder(site, point.pre)
            hooks.append(hook)
            if point.pre:
                handle = point.module.register_forward_pre_hook(hook, with_kwargs=True)
            else:
                handle = point.module.register_forward_hook(hook, with_kwargs=True)
            stack.callback(handle.remove)
        try:
            with torch.inference_mode():
                lm.model(**on_device(batch_inputs, lm.device), use_cache=False)
        except _StopForward:
            pass  # the deepest site was recorded; the rest of the forward is not needed
    missing = [s for s in sites if s not in store]
    if missing:
        raise DataError(f"no activations recorded at {missing}", "check the site against the model")
    return {site: tensor.cpu() for site, tensor in store.items()}


def capture(lm: LoadedModel, texts: Sequence[str], sites: Sequence[Site] | Site, *, pooling: Pooling = "last",
            batch_size: int = 16, add_special_tokens: bool = True) -> dict[Site, np.ndarray]:
    """Pooled float64 activations of ``texts`` at each site.

    Returns:
        ``{site: array}``, shape ``(n_texts, d)`` for ``last``/``mean`` and ``(n_real_tokens, d)``
        for ``all`` (texts in order, tokens in order).
    """
    texts = check_texts(texts, "texts")
    site_list = [sites] if isinstance(sites, Site) else list(sites)
    if pooling not in ("last", "mean", "all"):
        raise DataError(f"unknown pooling '{pooling}'", "use last, mean or all")
    ids = encode(lm, texts, add_special_tokens=add_special_tokens)
    pad = lm.tokenizer.pad_token_id
    out: dict[Site, list[np.ndarray]] = {s: [] for s in site_list}
    for part in chunks(len(ids), batch_size):
        batch = left_pad(ids[part], pad)
        store = forward_capture(lm, site_list, batch.model_inputs())
        mask = batch.attention_mask.bool()
        for site in site_list:
            hidden = store[site].to(torch.float64)
            if pooling == "last":
                pooled = hidden[:, -1, :]
            elif pooling == "mean":
                weights = mask.unsqueeze(-1).to(torch.float64)
                pooled = (hidden * weights).sum(1) / weights.sum(1)
            else:
                pooled = hidden[mask]
            out[site].append(pooled.cpu().numpy())
    return {site: np.concatenate(parts, axis=0) for site, parts in out.items()}


def token_moments(lm: LoadedModel, texts: Sequence[str], site: Site, *, skip_first: bool = True,
                  batch_size: int = 16) -> tuple[RunningMoments, np.ndarray]:
    """Streaming float64 mean/covariance of every real token's activation at ``site``.

    The first real token of each text is skipped by default (an attention sink whose norm is
    hundreds of times larger than the rest). Also returns the per-token norms (for relative α).
    Memory: O(d²) plus one float per token.
    """
    texts = check_texts(texts, "texts")
    ids = encode(lm, texts)
    moments = RunningMoments(lm.info.hidden_size)
    norms: list[np.ndarray] = []
    for part in chunks(len(ids), batch_size):
        batch = left_pad(ids[part], lm.tokenizer.pad_token_id)
        hidden = forward_capture(lm, [site], batch.model_inputs())[site].to(torch.float64)
        mask = batch.attention_mask.bool().clone()
        if skip_first:
            first = mask.long().argmax(dim=1)
            mask[torch.arange(mask.shape[0]), first] = False
        rows = hidden[mask].cpu().numpy()
        moments.update(rows)
        norms.append(np.linalg.norm(rows, axis=1))
    return moments, np.concatenate(norms)


def median_token_norm(lm: LoadedModel, texts: Sequence[str], site: Site, *, batch_size: int = 16) -> float:
    """Median residual norm at ``site`` over real tokens, excluding each text's first token.

    This is the scale for relative α: ``alpha_abs = alpha_rel × median_token_norm``.
    """
    _, norms = token_moments(lm, texts, site, batch_size=batch_size)
    if norms.size == 0:
        raise DataError("texts have no tokens beyond the first", "use longer texts to measure the residual norm")
    return float(np.median(norms))
