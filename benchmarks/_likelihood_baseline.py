"""The likelihood route as it was before the cuts measured in ``bench_likelihood`` (the baseline arm).

A frozen copy of ``continuation_logprobs`` from steerid 0.1.0 (2026-12-07): under scope ``generated``
the blocks above the site run the prompt once per *row* (fork without a displacement), the last token of
every continuation is fed, and the LM head is evaluated at every continuation position (pads included)
before a full-vocabulary log-softmax. Benchmarks only; the engine's route is
:func:`steerid.engine.generation.continuation_logprobs`.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch

from steerid.engine.batching import chunks, encode, left_pad, on_device, position_ids_from_mask
from steerid.engine.fork import distinct_rows, expand_cache, first_forked_block, fork_supported, forked, reduce_cache
from steerid.engine.generation import _right_pad, _row_deltas
from steerid.engine.prefix import accepts_logits_to_keep, cache_argument, shared_prefix
from steerid.engine.steer import steering


def continuation_logprobs(lm, prompts, continuation_sets, *, site=None, deltas=None, scope="all", batch_size=16,
                          reduce="sum", share_prefix=True) -> np.ndarray:
    k = len(continuation_sets[0])
    prompt_ids = encode(lm, prompts)
    cont_ids = [[lm.tokenizer(c, add_special_tokens=False)["input_ids"] for c in s] for s in continuation_sets]
    rows = _row_deltas(deltas, len(prompts), lm.info.hidden_size)
    pad = lm.tokenizer.pad_token_id
    longest = max(len(ids) for ids in prompt_ids) + max(1, max(len(c) for s in cont_ids for c in s))
    prefix = shared_prefix(lm, prompt_ids, site=site, rows=rows, scope=scope, longest_row=longest) if share_prefix else None
    shared = prefix.length if prefix is not None else 0
    cache_key = cache_argument(lm)
    keep = accepts_logits_to_keep(lm)
    out = np.empty((len(prompts), k), dtype=np.float64)
    for part in chunks(len(prompt_ids), batch_size):
        tails = [tuple(ids[shared:]) for ids in prompt_ids[part]]
        distinct, group, representative = distinct_rows(tails)
        fork = rows is not None and site is not None and len(distinct) < len(tails) and fork_supported(lm, site)
        left = left_pad(distinct if fork else tails, pad)
        b, rest = left.input_ids.shape
        p = shared + rest
        prompt_mask = torch.cat([torch.ones((b, shared), dtype=torch.long), left.attention_mask], dim=1)
        inputs = {"input_ids": left.input_ids, "attention_mask": prompt_mask,
                  "position_ids": position_ids_from_mask(prompt_mask)[:, shared:], "use_cache": True}
        if prefix is not None:
            inputs[cache_key] = prefix.cache_for(part)
        if keep:
            inputs["logits_to_keep"] = 1
        if fork:
            first_block = first_forked_block(lm, site)
            if prefix is not None:
                reduce_cache(inputs[cache_key], first_block, representative)
            context = forked(lm, site, group, rows[part] if scope != "generated" else None)
        else:
            context = steering(lm, site, rows[part], scope=scope, prompt_length=p) if rows is not None else nullcontext()
        with context, torch.inference_mode():
            prompt_out = lm.model(**on_device(inputs, lm.device))
        cache = prompt_out.get(cache_key)
        if fork:
            expand_cache(cache, first_block, group)
            prompt_mask = prompt_mask.index_select(0, group)
            b = prompt_mask.shape[0]
        first = torch.log_softmax(prompt_out.logits[:, -1].float(), dim=-1).cpu().repeat_interleave(k, dim=0)
        cache.batch_repeat_interleave(k)
        conts = [c for i in range(part.start, part.stop) for c in cont_ids[i]]
        width = max(1, max(len(c) for c in conts))
        right, right_mask = _right_pad(conts, width, pad)
        mask = torch.cat([prompt_mask.repeat_interleave(k, dim=0), right_mask], dim=1)
        inputs = {"input_ids": right, "attention_mask": mask, "position_ids": position_ids_from_mask(mask)[:, p:],
                  cache_key: cache, "use_cache": True}
        if keep:
            inputs["logits_to_keep"] = width
        context = (steering(lm, site, rows[part].repeat_interleave(k, dim=0), scope=scope, prompt_length=p)
                   if rows is not None else nullcontext())
        with context, torch.inference_mode():
            logits = lm.model(**on_device(inputs, lm.device)).logits[:, -width:].float().cpu()
        later = logits[:, :-1].gather(-1, right[:, 1:, None]).squeeze(-1) - torch.logsumexp(logits[:, :-1], dim=-1)
        picked = torch.cat([first.gather(-1, right[:, :1]), later], dim=1) * right_mask
        total = picked.sum(-1).double()
        if reduce == "mean":
            total = total / right_mask.sum(-1).clamp(min=1)
        out[part] = total.view(b, k).numpy()
    return out
