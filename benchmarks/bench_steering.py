"""Steering overhead and per-row batched conditions on SmolLM2-135M.

(a) Hook overhead: ``model.generate`` (greedy, 32 new tokens) with and without
    ``steerid.engine.steer.steering`` at in:15, at batch 1, 16 and 64, arms interleaved; ratio =
    steered time / plain time (goal ≤ 1.03 at batch 64).
(b) Per-row conditions: 4 conditions × N prompts in one ``steerid.engine.generation.generate`` call
    (one displacement per row) vs the same rows one prompt and one condition at a time;
    ratio = sequential time / batched time (speed-up), and the greedy rows must be equal.
"""

from __future__ import annotations

import torch

from benchmarks._timing import interleaved, log, ratio_summary, summary
from benchmarks.common import ALPHA, SITE, Row, condition_deltas, eval_prompts, model, ratio_row, trait_vector
from steerid.engine.batching import encode, left_pad
from steerid.engine.generation import generate
from steerid.engine.steer import steering

NAME = "steering"
NEW_TOKENS = 32
QUICK_TOKENS = 16


def _plain_generate(lm, batch, steer_delta=None, new_tokens=NEW_TOKENS):
    from transformers import GenerationConfig

    config = GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, num_beams=1,
                              pad_token_id=lm.tokenizer.pad_token_id, eos_token_id=lm.tokenizer.eos_token_id)

    def run():
        with torch.inference_mode():
            if steer_delta is None:
                return lm.model.generate(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                         generation_config=config)
            with steering(lm, SITE, steer_delta):
                return lm.model.generate(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                         generation_config=config)

    return run


def hook_overhead(quick: bool) -> tuple[list[Row], dict]:
    lm = model()
    vector = trait_vector()
    delta = ALPHA * vector.direction
    batches = (1, 16, 64)
    repeats = 2 if quick else 3
    tokens = QUICK_TOKENS if quick else NEW_TOKENS
    prompts = eval_prompts(max(batches))
    rows, detail = [], {}
    warm = left_pad(encode(lm, prompts[:2]), lm.tokenizer.pad_token_id)
    _plain_generate(lm, warm, delta, 4)()  # first-call costs (allocator, kernels) out of the timings
    for size in batches:
        log(f"steering: hook overhead batch {size}")
        batch = left_pad(encode(lm, prompts[:size]), lm.tokenizer.pad_token_id)
        times = interleaved({"plain": _plain_generate(lm, batch, None, tokens),
                             "steered": _plain_generate(lm, batch, delta, tokens)}, repeats, warmup=False)
        stats = ratio_summary(times["steered"], times["plain"])
        plain = summary(times["plain"])
        detail[f"batch{size}"] = {"times_s": times, "ratio": stats,
                                  "plain_tok_per_s": size * tokens / plain["median"], "new_tokens": tokens}
        goal = "≤ 1.03" if size == 64 else ""
        rows.append(ratio_row(NAME, f"hook overhead, steered/plain time, batch {size}, {tokens} tokens", stats,
                              goal=goal, met=(stats["median"] <= 1.03) if size == 64 else None,
                              note=f"plain {size * tokens / plain['median']:.1f} tok/s (load-dependent)"))
    return rows, detail


def per_row_conditions(quick: bool) -> tuple[list[Row], dict]:
    lm = model()
    vector = trait_vector()
    n_prompts = 4 if quick else 8
    repeats = 1 if quick else 2
    tokens = QUICK_TOKENS if quick else NEW_TOKENS
    prompts = list(eval_prompts(n_prompts))
    labels, deltas = condition_deltas(vector.direction, n_prompts)
    rows_prompts = [p for _ in range(4) for p in prompts]
    results = {}

    def batched():
        results["batched"] = generate(lm, rows_prompts, site=SITE, deltas=deltas, max_new_tokens=tokens,
                                      batch_size=len(rows_prompts)).tokens

    def sequential():
        out = []
        for prompt, delta in zip(rows_prompts, deltas):
            out.extend(generate(lm, [prompt], site=SITE, deltas=delta, max_new_tokens=tokens).tokens)
        results["sequential"] = out

    log(f"steering: per-row conditions, {len(rows_prompts)} rows")
    times = interleaved({"batched": batched, "sequential": sequential}, repeats, warmup=False)
    stats = ratio_summary(times["sequential"], times["batched"])
    equal = sum(a == b for a, b in zip(results["batched"], results["sequential"]))
    detail = {"times_s": times, "ratio": stats, "rows": len(rows_prompts), "equal_rows": equal}
    row = ratio_row(NAME, f"per-row conditions: 4 cond × {n_prompts} prompts in one call vs one at a time (speed-up)",
                    stats, note=f"greedy rows equal to batch-1 rows: {equal}/{len(rows_prompts)}")
    return [row], detail


def run(quick: bool = False) -> dict:
    rows_a, detail_a = hook_overhead(quick)
    rows_b, detail_b = per_row_conditions(quick)
    return {"rows": [r.to_dict() for r in rows_a + rows_b], "detail": {"hook_overhead": detail_a,
                                                                       "per_row": detail_b}}
