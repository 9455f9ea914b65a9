r"""Run the blocks below a steering site once per distinct prompt, then fork into the conditions.

An experiment runs each prompt x under C steering conditions Δ₁…Δ_C added at site s (block L).
The blocks before the site do not see Δ, so their states are the same for every condition:

    h_ℓ(x; Δ_c) = h_ℓ(x)   for every block ℓ before s,

and only the blocks from the site on differ. Inside ``with forked(lm, site, group, deltas)`` a
forward pass is given the U distinct prompts only; at the site, row r of the output becomes

    h_s[r] = h_s(x_{group[r]}) + Δ_r        (R = len(group) rows, R ≥ U),

and every block after the site receives its per-row inputs (attention mask, position ids,
rotary position embeddings: every tensor argument whose first dimension is U) expanded the same
way. The model's output has R rows. A KV cache filled in that pass holds U rows for the blocks
before the site and R rows after it; :func:`expand_cache` makes every layer R rows.

Cost: the blocks before a site at depth L of N run U instead of R rows, saving a fraction
(L/N)·(1 − U/R) of the pass — about half at a middle layer with many conditions.

Hooks are steerid's (marked, removed by identity in ``finally``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from steerid.errors import VectorError
from steerid.models.families import FORK_FAMILIES
from steerid.models.hooks import STEERID_HOOK, remove_hooks
from steerid.models.loader import LoadedModel
from steerid.models.site import Site, resolve
from steerid.engine.steer import as_deltas


def fork_supported(lm: LoadedModel, site: Site) -> bool:
    """Whether forking pays and is tested here: a site above block 0 of a supported family."""
    return lm.info.family in FORK_FAMILIES and first_forked_block(lm, site) > 0


def first_forked_block(lm: LoadedModel, site: Site) -> int:
    """Index of the first block that runs on the forked (R-row) batch."""
    point = resolve(lm.blocks, site)
    index = next(i for i, block in enumerate(lm.blocks) if block is point.module)
    return index if point.pre else index + 1


def _expand(value: Any, group: torch.Tensor, n_distinct: int) -> Any:
    if isinstance(value, torch.Tensor):
        if value.ndim >= 2 and value.shape[0] == n_distinct:
            return value.index_select(0, group.to(value.device))
        return value
    if isinstance(value, tuple):
        return tuple(_expand(v, group, n_distinct) for v in value)
    if isinstance(value, list):
        return [_expand(v, group, n_distinct) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, group, n_distinct) for k, v in value.items()}
    return value


@contextmanager
def forked(lm: LoadedModel, site: Site, group: torch.Tensor, deltas: torch.Tensor | None) -> Iterator[None]:
    """Fork a batch of U distinct rows into R = len(group) rows at ``site``, adding ``deltas``.

    Args:
        lm: the loaded model.
        site: the steering site.
        group: ``(R,)`` long tensor, the distinct row each output row continues (values 0…U−1,
            every value present).
        deltas: ``(R, d)`` displacements added at the site (α included), or None for none.
    """
    group = torch.as_tensor(group, dtype=torch.long)
    n_distinct, n_rows = int(group.max()) + 1, int(group.numel())
    if sorted(set(group.tolist())) != list(range(n_distinct)):
        raise VectorError("fork groups must number the distinct rows 0…U−1", "build them with torch.unique(return_inverse=True)")
    delta = as_deltas(deltas, lm.info.hidden_size) if deltas is not None else None
    if delta is not None and delta.shape[0] != n_rows:
        raise VectorError(f"{delta.shape[0]} fork deltas for {n_rows} rows", "give one delta per output row")
    point = resolve(lm.blocks, site)
    first = first_forked_block(lm, site)

    def fork(hidden: torch.Tensor) -> torch.Tensor:
        if hidden.shape[0] != n_distinct:
            raise VectorError(f"forked pass got {hidden.shape[0]} rows, expected the {n_distinct} distinct ones",
                              "feed each distinct prompt once")
        out = hidden.index_select(0, group.to(hidden.device))
        return out if delta is None else out + delta.to(out.device, out.dtype)[:, None, :]

    def site_post_hook(module, args, kwargs, output):
        if isinstance(output, tuple):
            return (fork(output[0]), *output[1:])
        return fork(output)

    def expand_pre_hook(module, args, kwargs):
        if module is point.module and point.pre:
            hidden = args[0] if args else kwargs["hidden_states"]
            rest = _expand(args[1:], group, n_distinct)
            kwargs = _expand(kwargs, group, n_distinct)
            if args:
                return (fork(hidden), *rest), kwargs
            kwargs["hidden_states"] = fork(hidden)
            return args, kwargs
        return (args[0], *_expand(args[1:], group, n_distinct)) if args else args, _expand(kwargs, group, n_distinct)

    hooks = (site_post_hook, expand_pre_hook)
    for hook in hooks:
        setattr(hook, STEERID_HOOK, True)
    modules = [point.module, *lm.blocks[first:]]
    handles = []
    try:
        if not point.pre:
            handles.append(point.module.register_forward_hook(site_post_hook, with_kwargs=True, prepend=True))
        for block in lm.blocks[first:]:
            handles.append(block.register_forward_pre_hook(expand_pre_hook, with_kwargs=True, prepend=True))
        yield
    finally:
        for handle in handles:
            handle.remove()
        remove_hooks(modules, hooks)


def expand_cache(cache: object, first: int, group: torch.Tensor) -> None:
    """After a forked pass: give the cache layers before block ``first`` their R rows (in place)."""
    for index, layer in enumerate(cache.layers):  # type: ignore[attr-defined]
        if index >= first:
            break
        keys = getattr(layer, "keys", None)
        if isinstance(keys, torch.Tensor) and keys.numel():
            layer.keys = keys.index_select(0, group.to(keys.device))
            layer.values = layer.values.index_select(0, group.to(keys.device))


def reduce_cache(cache: object, first: int, representatives: torch.Tensor) -> None:
    """Before a forked pass: keep one row per distinct prompt in the cache layers before ``first``."""
    expand_cache(cache, first, representatives)


def distinct_rows(rows: list[tuple[int, ...]]) -> tuple[list[tuple[int, ...]], torch.Tensor, torch.Tensor]:
    """Distinct token rows in first-seen order, the group of each row and one representative row per group."""
    first: dict[tuple[int, ...], int] = {}
    group = [first.setdefault(row, len(first)) for row in rows]
    representative = [0] * len(first)
    for r in range(len(rows) - 1, -1, -1):
        representative[group[r]] = r
    return list(first), torch.as_tensor(group, dtype=torch.long), torch.as_tensor(representative, dtype=torch.long)
