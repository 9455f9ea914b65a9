"""A prompt prefix shared by every row, computed once per distinct steering delta.

Chat prompts begin with the same template text (SmolLM2's default system prompt is ≈ 30 of a
≈ 40-token likelihood prompt), and an experiment runs every prompt under a handful of
conditions. A causal model's states over a prefix x₁…x_S do not depend on what follows, and under
a steering delta Δ they depend on Δ only, so for rows r with deltas Δ_r

    KV(x₁…x_S; Δ_r) = KV(x₁…x_S; Δ_g(r)),   g(r) = index of Δ_r among the distinct deltas,

and the prefix costs ``u · S`` token-forwards (u = number of distinct deltas) instead of ``n · S``.
Rows then continue from a copy of the cache, laid out ``[prefix][left pads][rest of prompt]…``
with position ids ``cumsum(mask) − 1`` over the whole mask, so every real token sees exactly the
positions and keys it would see in an unshared, left-padded forward. Steering scopes keep their
meaning because the hook reads absolute positions from the attention-mask length.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from steerid.engine.batching import on_device
from steerid.models.loader import LoadedModel
from steerid.models.site import Site
from steerid.engine.steer import Scope, steering

MIN_SHARED_TOKENS = 4


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix all sequences share, kept one token short of the
    shortest sequence so every row still has a token of its own to feed."""
    if not sequences:
        return 0
    shortest = min(len(s) for s in sequences)
    first = sequences[0]
    length = 0
    while length < shortest - 1 and all(s[length] == first[length] for s in sequences):
        length += 1
    return length


def accepts_logits_to_keep(lm: LoadedModel) -> bool:
    """Whether the model's forward can skip the unembedding at positions nobody reads."""
    return "logits_to_keep" in inspect.signature(lm.model.forward).parameters


def cache_argument(lm: LoadedModel) -> str:
    """The forward's KV-cache keyword (``cache`` since transformers 5.2x, ``past_key_values`` before)."""
    return "cache" if "cache" in inspect.signature(lm.model.forward).parameters else "past_key_values"


def fits_attention_window(lm: LoadedModel, longest: int) -> bool:
    """Whether rows of ``longest`` positions fit every layer's attention window.

    Sliding-window layers measure the window in slots of the padded layout, so moving the pads
    from the front of a row to just after the prefix would change which keys a query sees; the
    shared layout is only equivalent when no window can cut a row.
    """
    window = getattr(lm.model.config, "sliding_window", None)
    return window is None or longest <= int(window)


@dataclass
class SharedPrefix:
    """The cache of ``length`` shared tokens under each distinct delta; ``group[r]`` is row r's."""

    length: int
    cache: object
    group: torch.Tensor

    def cache_for(self, rows: slice | Sequence[int]) -> object:
        """A private copy of the cache holding one prefix per requested row."""
        cache = copy.deepcopy(self.cache)
        cache.batch_select_indices(self.group[rows])
        return cache


def shared_prefix(lm: LoadedModel, sequences: Sequence[Sequence[int]], *, site: Site | None,
                  rows: torch.Tensor | None, scope: Scope, longest_row: int) -> SharedPrefix | None:
    """Run the common prefix of ``sequences`` once per distinct row delta; None when there is no
    prefix worth sharing (fewer than ``MIN_SHARED_TOKENS`` tokens), when a sliding attention
    window could cut a row of ``longest_row`` positions (:func:`fits_attention_window`), or when
    the model keeps no cache.

    Every prefix position precedes the prompt's end, so it is steered under scopes ``all`` and
    ``prompt`` and unsteered under ``generated``.
    """
    length = common_prefix_length(sequences)
    if length < MIN_SHARED_TOKENS or not fits_attention_window(lm, longest_row):
        return None
    steered = rows is not None and site is not None and scope != "generated"
    if steered:
        distinct, group = torch.unique(rows, dim=0, return_inverse=True)
    else:
        distinct, group = None, torch.zeros(len(sequences), dtype=torch.long)
    n = 1 if distinct is None else distinct.shape[0]
    input_ids = torch.tensor([list(sequences[0][:length])] * n, dtype=torch.long)
    context = steering(lm, site, distinct, scope="all") if steered else nullcontext()
    with context, torch.inference_mode():
        out = lm.model(**on_device({"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}, lm.device),
                       use_cache=True, **({"logits_to_keep": 1} if accepts_logits_to_keep(lm) else {}))
    cache = out.get(cache_argument(lm))
    if cache is None or not hasattr(cache, "batch_select_indices"):
        return None
    return SharedPrefix(length=length, cache=cache, group=group)
