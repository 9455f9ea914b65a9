r"""steerid's own batched decode loop for steered generation.

``model.generate`` is the reference; this loop does the same greedy / sampled decoding with the
work an experiment does not need taken out:

* **Static KV cache.** Keys and values live in tensors preallocated for ``P + max_new_tokens``
  positions (transformers' ``StaticCache``), written in place: no per-step concatenation.
* **Logits of the last position only** (``logits_to_keep=1``), in prefill and decode.
* **Shared prefill.** With scope ``generated`` (or no steering) every condition of a prompt sees
  the same prompt, so each distinct prompt is prefilled once and its cache rows are copied to its
  conditions (``index_select``) before the decode forks; with scope ``all`` / ``prompt`` the
  prompt is steered, so the blocks below the site run once per distinct prompt and the batch
  forks at the site into one row per Δ (:mod:`steerid.engine.fork`).
* **Compaction.** A row that emits end-of-sequence is done; once a fraction ``compact_fraction``
  of the live rows is done they are dropped from the batch (cache, mask, positions, Δ, seeds),
  so finished rows stop costing decode steps.
* **Counter-based sampling** (:mod:`steerid.engine.sampling`): a row's noise depends only on its prompt
  seed, the step and the token id, so a row's continuation is the same whatever batch it runs in
  and conditions of a prompt share their random numbers exactly.

Steering: Δ is added at the site through :func:`steerid.engine.steer.steering` (hooks removed whatever
happens) with scope ``all`` during the passes the requested scope covers — prefill for
``all``/``prompt``, decode steps for ``all``/``generated`` — which is the same as the position
mask ``t < P`` / ``t ≥ P`` of the reference path, since the prefill holds exactly the prompt
positions and every decode step a generated one.

Families without a static cache path fall back to a dynamic cache (:data:`STATIC_FAMILIES`).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache, StaticCache

from steerid.engine.attention import NAME as DECODE_ATTENTION
from steerid.engine.batching import chunks, left_pad, position_ids_from_mask
from steerid.errors import DataError
from steerid.engine.fork import distinct_rows, expand_cache, first_forked_block, fork_supported, forked
from steerid.models.families import DECODE_FAMILIES, STATIC_FAMILIES, find_blocks
from steerid.models.loader import LoadedModel
from steerid.models.site import Site
from steerid.engine.prefix import accepts_logits_to_keep, cache_argument
from steerid.engine.sampling import Sampling, sample_next
from steerid.engine.steer import Scope, steering


@dataclass
class DecodeStats:
    """What the engine did: prefilled tokens, row-steps decoded, compactions, cache kind."""

    prefill_rows: int = 0
    prefill_tokens: int = 0
    row_steps: int = 0
    compactions: int = 0
    cache: str = ""
    shared_prefill: bool = False
    forked_prefill: bool = False
    notes: list[str] = field(default_factory=list)


def supports(lm: LoadedModel) -> bool:
    """Whether the engine handles this model's family (else use ``model.generate``)."""
    return lm.info.family in DECODE_FAMILIES and accepts_logits_to_keep(lm)


def _select_rows(cache: object, index: torch.Tensor) -> None:
    """Keep only batch rows ``index`` of every cache layer, in that order (copies the tensors)."""
    for layer in cache.layers:  # type: ignore[attr-defined]
        keys = getattr(layer, "keys", None)
        if keys is None or not isinstance(keys, torch.Tensor) or keys.numel() == 0:
            continue
        layer.keys = keys.index_select(0, index)
        layer.values = layer.values.index_select(0, index)
        if hasattr(layer, "batch_size"):
            layer.batch_size = int(index.numel())


def _new_cache(lm: LoadedModel, kind: str, length: int) -> object:
    config = lm.model.config
    return StaticCache(config=config, max_cache_len=length) if kind == "static" else DynamicCache(config=config)


def decode(lm: LoadedModel, prompt_ids: Sequence[Sequence[int]], *, site: Site | None = None,
           deltas: torch.Tensor | None = None, scope: Scope = "all", max_new_tokens: int = 32,
           sampling: Sampling = Sampling(), seeds: Sequence[int] | None = None, eos: Sequence[int] = (),
           batch_size: int = 64, cache: str = "auto", compact_fraction: float = 0.125,
           stats: DecodeStats | None = None) -> list[list[int]]:
    """Continuation token ids (cut before end-of-sequence) for each row of ``prompt_ids``.

    Args:
        prompt_ids: token ids of each row's prompt (rows of one prompt under several conditions
            repeat it; keep them adjacent so they share a chunk and its prefill).
        site, deltas: steering site and ``(R, d)`` float32 displacements (α included), or None.
        scope: ``all``, ``prompt`` or ``generated`` (as :func:`steerid.engine.steer.steering`).
        sampling: greedy or seeded sampling settings; ``seeds`` one per row when sampling.
        eos: end-of-sequence token ids.
        batch_size: rows per forward pass (a chunk).
        cache: ``static``, ``dynamic`` or ``auto`` (static where the family supports it).
        compact_fraction: drop finished rows once this fraction of the live rows is finished.
        stats: filled with what the engine did, when given.
    """
    n_rows = len(prompt_ids)
    if n_rows == 0:
        raise DataError("no prompts to decode", "supply at least one prompt")
    if not sampling.greedy and (seeds is None or len(seeds) != n_rows):
        raise DataError("sampling needs one seed per prompt", "pass seeds=[...] of the same length as prompts")
    if deltas is not None and (site is None or deltas.shape[0] != n_rows):
        raise DataError("steering needs a site and one delta row per prompt", "pass site=Site(layer) and (R, d) deltas")
    kind = cache if cache != "auto" else ("static" if lm.info.family in STATIC_FAMILIES else "dynamic")
    stats = stats if stats is not None else DecodeStats()
    stats.cache = kind
    seed_tensor = torch.as_tensor(list(seeds), dtype=torch.int64) if seeds is not None else None
    out: list[list[int]] = [[] for _ in range(n_rows)]
    for part in chunks(n_rows, batch_size):
        rows = list(range(part.start, part.stop))
        _decode_chunk(lm, prompt_ids, rows, site=site, deltas=deltas, scope=scope, max_new_tokens=max_new_tokens,
                      sampling=sampling, seeds=seed_tensor, eos=set(eos), kind=kind,
                      compact_fraction=compact_fraction, stats=stats, out=out)
    return out


def _decode_chunk(lm: LoadedModel, prompt_ids, rows: list[int], *, site, deltas, scope: Scope, max_new_tokens: int,
                  sampling: Sampling, seeds, eos: set[int], kind: str, compact_fraction: float, stats: DecodeStats,
                  out: list[list[int]]) -> None:
    steered = deltas is not None
    distinct, group_tensor, _ = distinct_rows([tuple(prompt_ids[r]) for r in rows])
    share = not steered or scope == "generated"
    fork = (not share and len(distinct) < len(rows) and fork_supported(lm, site))
    if share or fork:
        group, pre = group_tensor.tolist(), [list(key) for key in distinct]
    else:
        group, pre = list(range(len(rows))), [list(prompt_ids[r]) for r in rows]
    stats.shared_prefill = stats.shared_prefill or (share and len(pre) < len(rows))
    stats.forked_prefill = stats.forked_prefill or fork
    pad = lm.tokenizer.pad_token_id
    batch = left_pad(pre, pad)
    width = batch.input_ids.shape[1]
    total = width + max_new_tokens
    store = _new_cache(lm, kind, total)
    key = cache_argument(lm)
    full_mask = torch.cat([batch.attention_mask, torch.ones((len(pre), max_new_tokens), dtype=torch.long)], dim=1)
    positions = position_ids_from_mask(batch.attention_mask)
    device = lm.device
    row_deltas = deltas[rows] if steered else None
    prefill_steer = steered and scope in ("all", "prompt")
    if fork:  # blocks below the site once per distinct prompt, then one row per condition
        context = forked(lm, site, group_tensor, row_deltas)
    else:
        context = steering(lm, site, row_deltas, scope="all") if prefill_steer else nullcontext()
    with context, torch.inference_mode():
        result = lm.model(input_ids=batch.input_ids.to(device),
                          attention_mask=(full_mask if kind == "static" else full_mask[:, :width]).to(device),
                          position_ids=positions.to(device), use_cache=True, logits_to_keep=1, **{key: store})
    stats.prefill_rows += len(pre)
    stats.prefill_tokens += int(batch.attention_mask.sum())
    logits = result.logits[:, -1]
    next_position = positions[:, -1] + 1
    if fork:
        index = group_tensor.to(device)
        expand_cache(store, first_forked_block(lm, site), index)
        full_mask, next_position = full_mask[group_tensor], next_position[group_tensor]
    elif group != list(range(len(pre))):
        index = torch.as_tensor(group, dtype=torch.long)
        _select_rows(store, index.to(device))
        logits, full_mask, next_position = logits[index.to(device)], full_mask[index], next_position[index]
    live = torch.arange(len(rows))  # chunk-local row of each live batch row
    done = torch.zeros(len(rows), dtype=torch.bool)
    decode_steer = steered and scope in ("all", "generated")
    for step in range(max_new_tokens):
        row_seeds = seeds[[rows[i] for i in live.tolist()]] if seeds is not None else None
        token = sample_next(logits, sampling, row_seeds, step).cpu()
        stats.row_steps += int(live.numel())
        for slot, local in enumerate(live.tolist()):
            if done[local]:
                continue
            value = int(token[slot])
            if value in eos:
                done[local] = True
            else:
                out[rows[local]].append(value)
        if step == max_new_tokens - 1 or bool(done.all()):
            break
        finished = done[live]
        if int(finished.sum()) >= max(1, math.ceil(compact_fraction * live.numel())):
            keep = (~finished).nonzero().squeeze(-1)
            _select_rows(store, keep.to(device))
            live, token, full_mask, next_position = live[keep], token[keep], full_mask[keep], next_position[keep]
            stats.compactions += 1
        mask = full_mask if kind == "static" else full_mask[:, : width + step + 1]
        step_deltas = row_deltas[live] if decode_steer else None
        context = steering(lm, site, step_deltas, scope="all") if decode_steer else nullcontext()
        with context, torch.inference_mode():
            result = lm.model(input_ids=token[:, None].to(device), attention_mask=mask.to(device),
                              position_ids=next_position[:, None].to(device), use_cache=True, logits_to_keep=1,
                              **{key: store})
        logits = result.logits[:, -1]
        next_position = next_position + 1


# ---------------------------------------------------------------------------------------------
# dtype per device


def native_bf16(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` computes bfloat16 natively (CUDA with bf16, or a CPU with AVX512-BF16 / AMX)."""
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type != "cpu" or not sys.platform.startswith("linux"):
        return False
    return bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        return frozenset()
    return frozenset()


BF16_MIN_ROWS = 2
"""Rows per forward from which ``auto`` picks bfloat16 on a CPU with native bf16 when torch runs several
threads. Below it the bf16 gemvs, split over threads, lose to fp32 (benchmarks/bench_likelihood.py,
"decode dtype" rows, SmolLM2, engine greedy, bf16 / fp32 time: on this 2-core AMX CPU at one thread
0.82–0.99× at batch 1, 0.63–0.83× at batch 2, 0.59–0.65× at batch 4 (load 17–25); at two threads on a
quiet machine batch 1 ran ≈ 1.2× slower in bf16). One thread and CUDA always take bf16."""


def choose_dtype(requested: str, device: torch.device | str = "cpu", rows: int | None = None) -> torch.dtype:
    """``float32`` / ``bfloat16`` as asked; ``auto`` = bfloat16 where the device computes it natively,
    except on a CPU running torch on several threads with fewer than :data:`BF16_MIN_ROWS` rows per
    forward (``rows``: the batch size a call runs at; None = large)."""
    if requested in ("float32", "fp32"):
        return torch.float32
    if requested in ("bfloat16", "bf16"):
        return torch.bfloat16
    if requested != "auto":
        raise DataError(f"unknown decode dtype '{requested}'", "use auto, float32 or bfloat16")
    if not native_bf16(device):
        return torch.float32
    if (torch.device(device).type == "cpu" and rows is not None and rows < BF16_MIN_ROWS
            and torch.get_num_threads() > 1):
        return torch.float32
    return torch.bfloat16


_TWINS: dict[tuple[int, torch.dtype], LoadedModel] = {}


def in_dtype(lm: LoadedModel, dtype: torch.dtype) -> LoadedModel:
    """``lm`` itself when it already runs in ``dtype``, else a cached copy of it in ``dtype``.

    The copy shares the tokenizer and describes itself with the new dtype; the original model
    (used for teacher forcing and scoring) is untouched. The copy's one-query attention steps use
    :mod:`steerid.engine.attention` (prefill still runs transformers' SDPA).
    """
    if lm.model.dtype == dtype:
        return lm
    cache_key = (id(lm.model), dtype)
    twin = _TWINS.get(cache_key)
    if twin is None:
        model = copy.deepcopy(lm.model).to(dtype)
        model.eval()
        if lm.info.family in DECODE_FAMILIES:  # one-query decode steps skip the fused SDPA kernel
            model.set_attn_implementation(DECODE_ATTENTION)
        info = dataclasses.replace(lm.info, dtype=str(dtype).removeprefix("torch."))
        twin = LoadedModel(model=model, tokenizer=lm.tokenizer, info=info,
                           blocks=find_blocks(model, lm.info.family, lm.info.n_layers))
        _TWINS.clear()  # one twin at a time: models are large
        _TWINS[cache_key] = twin
    return twin
