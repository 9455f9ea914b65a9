"""E1 for one trait: the original study's way (one prompt, one condition at a time) vs steerid's.

Baseline, re-implemented as the study's scripts ran it: for every prompt and every condition,
register a forward hook that adds the condition's vector to the output of block 14 (= our in:15),
seed torch with the prompt's seed, call ``model.generate(do_sample=True)`` on that single prompt
(unbatched, HF sampling, temperature 1), remove the hook, decode. Same model (fp32), layer, α,
token budget, prompts and conditions as the steerid arms.

steerid arms (all conditions × prompts as rows of big batches, one displacement per row, per-prompt
seeds shared across conditions = common random numbers):

- ``hf batched-all``: every row in one ``model.generate`` batch (the reference decode path);
- ``engine fp32``: steerid's decode engine (:mod:`steerid.engine.decode`: static cache, the blocks below
  the site once per prompt, finished rows dropped, counter-based sampling), fp32, all rows;
- ``engine auto``: the same with ``dtype="auto"`` — bf16 where the CPU computes it natively
  (AVX512-BF16 / AMX), else fp32; which one ran is in the row's note;
- ``bf16``: bf16 vs fp32 time of one prefill + 4 decode steps (HF path), to show the dtype effect;
- ``likelihood``: where no generation is needed, E1's shift measured on the trait's likelihood
  items — log p(positive reply) − log p(negative reply) under each condition, teacher-forced
  (``steerid.engine.generation.continuation_logprobs``: the shared chat-template prefix once per
  condition, each prompt once, both replies from its KV cache). A different measurement (of the
  same steering), reported as its own ratio; a second row gives the gain of that sharing over two
  plain teacher-forced passes (``continuation_logprob(..., share_prefix=False)``, one per reply).

Ratio = baseline wall time / arm wall time for the same rows (goal ≥ 25× for the engine). In full mode the
baseline runs on a subset of the prompts (all conditions) and is extrapolated linearly to the
full set (its units are independent and sequential); the subset and the extrapolation are
recorded.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from benchmarks._timing import interleaved, log, summary, timed
from benchmarks.common import ALPHA, LAYER, SITE, Row, condition_deltas, eval_prompts, model, ratio_row, trait_vector
from steerid.engine.decode import choose_dtype, native_bf16
from steerid.engine.generation import continuation_logprob, continuation_logprobs, generate

NAME = "paper-E1"
CONDITIONS = ("none", "+v", "-v", "v+vperp")


def _baseline(lm, prompts, deltas_by_condition, seeds, new_tokens):
    """The study's loop: one prompt, one condition, one hooked unbatched ``generate`` call."""
    block = lm.blocks[LAYER - 1]  # output of block 14 = residual entering block 15
    texts, unit_times = [], []
    for prompt, seed in zip(prompts, seeds):
        for delta in deltas_by_condition:
            start = time.perf_counter()
            vec = torch.tensor(delta, dtype=torch.float32)

            def hook(_module, _inputs, output, vec=vec):
                if isinstance(output, tuple):
                    return (output[0] + vec, *output[1:])
                return output + vec

            handle = block.register_forward_hook(hook)
            try:
                inputs = lm.tokenizer(prompt, return_tensors="pt")
                torch.manual_seed(seed)
                out = lm.model.generate(**inputs, max_new_tokens=new_tokens, do_sample=True, temperature=1.0,
                                        top_p=1.0, top_k=0, pad_token_id=lm.tokenizer.pad_token_id)
            finally:
                handle.remove()
            texts.append(lm.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))
            unit_times.append(time.perf_counter() - start)
    return texts, unit_times


def _bf16_step_ratio(prompts, repeats):
    """Time of one prefill + 4 decode steps in bf16 vs fp32 (same batch), interleaved."""
    from transformers import GenerationConfig

    from steerid.engine.batching import encode, left_pad

    lm32, lm16 = model("float32"), model("bfloat16")
    batch = left_pad(encode(lm32, prompts), lm32.tokenizer.pad_token_id)
    config = GenerationConfig(max_new_tokens=4, min_new_tokens=4, do_sample=False,
                              pad_token_id=lm32.tokenizer.pad_token_id)

    def arm(lm):
        def go():
            with torch.inference_mode():
                return lm.model.generate(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                         generation_config=config)
        return go

    times = interleaved({"fp32": arm(lm32), "bf16": arm(lm16)}, repeats)
    same = torch.equal(arm(lm32)(), arm(lm16)())
    return summary([b / a for a, b in zip(times["fp32"], times["bf16"])]), times, same


def _likelihood_rows(n_items):
    from steerid.traits.formatting import format_chat
    from steerid.traits.loader import load_trait

    lm = model()
    items = load_trait("sentiment").likelihood[:n_items]
    prompts = [format_chat(lm.tokenizer, item.prompt) for item in items]
    return prompts, [item.positive for item in items], [item.negative for item in items]


def run(quick: bool = False) -> dict:
    lm = model()
    vector = trait_vector()
    n_prompts = 4 if quick else 40
    n_baseline = 2 if quick else 4
    new_tokens = 16 if quick else 40
    repeats = 1 if quick else 2
    prompts = list(eval_prompts(n_prompts))
    seeds = [1000 + i for i in range(n_prompts)]
    labels, deltas = condition_deltas(vector.direction, n_prompts, ALPHA, names=CONDITIONS)
    per_condition = [deltas[i * n_prompts] for i in range(len(CONDITIONS))]
    row_prompts = [p for _ in CONDITIONS for p in prompts]
    row_seeds = [s for _ in CONDITIONS for s in seeds]
    n_rows = len(row_prompts)
    detail: dict = {"n_prompts": n_prompts, "conditions": list(CONDITIONS), "new_tokens": new_tokens,
                    "alpha": ALPHA, "site": str(SITE), "baseline_prompts": n_baseline}

    log(f"paper: baseline, {n_baseline} prompts × {len(CONDITIONS)} conditions × {new_tokens} tokens")
    # --- baseline: the study's loop on n_baseline prompts × all conditions, extrapolated to n_prompts
    with torch.inference_mode():
        texts, unit_times = _baseline(lm, prompts[:n_baseline], per_condition, seeds[:n_baseline], new_tokens)
    per_unit = float(np.mean(unit_times))
    baseline_total = per_unit * n_rows
    detail["baseline"] = {"unit_times_s": unit_times, "mean_unit_s": per_unit, "extrapolated_total_s": baseline_total,
                          "sample_text": texts[0][:200]}

    # --- steerid arms on all rows
    outputs = {}

    # prompt-major rows (all conditions of a prompt adjacent), as the experiments lay them out
    order = [c * n_prompts + p for p in range(n_prompts) for c in range(len(CONDITIONS))]
    engine_prompts = [row_prompts[i] for i in order]
    engine_deltas = deltas[order]
    engine_seeds = [row_seeds[i] for i in order]
    resolved = str(choose_dtype("auto")).removeprefix("torch.")

    def arm(engine, dtype):
        def go():
            outputs[(engine, dtype)] = generate(lm, engine_prompts, site=SITE, deltas=engine_deltas, greedy=False,
                                                seeds=engine_seeds, max_new_tokens=new_tokens, batch_size=n_rows,
                                                engine=engine, dtype=dtype, temperature=1.0, top_k=0)
        return go

    arms = {"hf batched-all": arm("hf", "model"), "engine fp32": arm("steerid", "model"),
            "engine auto": arm("steerid", "auto")}
    log(f"paper: steerid arms {list(arms)} on {n_rows} rows (auto dtype = {resolved})")
    times = interleaved(arms, repeats, warmup=False)
    rows: list[Row] = []
    for name, seconds in times.items():
        ratios = summary([baseline_total / s for s in seconds])
        detail[name] = {"times_s": seconds, "ratio": ratios}
        engine = name.startswith("engine")
        note = (f"baseline measured on {n_baseline} prompts × {len(CONDITIONS)} cond, extrapolated ×{n_prompts / n_baseline:g}"
                if n_baseline < n_prompts else "")
        if name == "engine auto":
            note += f"; auto dtype here = {resolved} (native bf16: {native_bf16()})"
        rows.append(ratio_row(NAME, f"E1 {n_prompts}×{len(CONDITIONS)}×{new_tokens} tok sampled: baseline / steerid {name}",
                              ratios, goal="≥ 25" if engine else "", met=ratios["median"] >= 25 if engine else None,
                              note=note))
    tokens = {name: sum(len(t) for t in out.tokens) for name, out in outputs.items()}
    detail["generated_tokens"] = {f"{e}/{d}": n for (e, d), n in tokens.items()}
    # how much of a batched run is prompt prefill (what prefix sharing could save): one forward
    # over all rows' prompts under the same steering, logits for the last position only
    from steerid.engine.batching import encode, left_pad
    from steerid.engine.steer import steering

    ids = encode(lm, row_prompts)
    common = 0
    while all(len(r) > common and r[common] == ids[0][common] for r in ids):
        common += 1
    batch = left_pad(ids, lm.tokenizer.pad_token_id)

    def prefill():
        with steering(lm, SITE, deltas), torch.inference_mode():
            lm.model(**batch.model_inputs(), use_cache=True, logits_to_keep=1)

    prefill_s = [timed(prefill)[0] for _ in range(max(1, repeats))]
    detail["prefill"] = {"seconds": prefill_s, "share_of_engine_fp32": float(np.median(prefill_s) / np.median(times["engine fp32"])),
                         "prompt_tokens_median": float(np.median([len(r) for r in ids])),
                         "prefix_shared_by_all_rows": common}
    sample = outputs[("steerid", "model")].texts
    detail["sample_texts"] = {c: sample[i][:160] for i, c in enumerate(CONDITIONS)}
    # common random numbers: the same prompt under 'none' in a smaller batch gives the same sample
    solo = generate(lm, [engine_prompts[0]], site=SITE, deltas=engine_deltas[:1], greedy=False, seeds=engine_seeds[:1],
                    max_new_tokens=new_tokens, temperature=1.0, top_k=0)
    detail["crn_row_independent"] = solo.tokens[0] == outputs[("steerid", "model")].tokens[0]

    log("paper: bf16 vs fp32 step")
    # --- bf16: decode-step cost vs fp32 (a whole bf16 run is far too slow on this CPU)
    bf16, bf16_times, bf16_same = _bf16_step_ratio(prompts[:8] if quick else prompts[:16], 2 if quick else 3)
    detail["bf16_vs_fp32_step_time"] = {"ratio": bf16, "times_s": bf16_times, "greedy_tokens_equal": bf16_same}
    rows.append(ratio_row(NAME, f"bf16 / fp32 time, prefill + 4 decode steps, batch {min(len(prompts), 8 if quick else 16)}", bf16,
                          note=(f"native bf16 on this CPU: {native_bf16()}") + ("" if bf16_same else
                                                                               "; greedy tokens differ from fp32")))

    log("paper: likelihood route")
    # --- likelihood route: same conditions, teacher-forced log-prob of positive vs negative replies
    lik_prompts, positives, negatives = _likelihood_rows(n_prompts)
    n_items = len(lik_prompts)
    _, lik_deltas = condition_deltas(vector.direction, n_items, ALPHA, names=CONDITIONS)
    lik_rows = [p for _ in CONDITIONS for p in lik_prompts]
    pos_rows = [c for _ in CONDITIONS for c in positives]
    neg_rows = [c for _ in CONDITIONS for c in negatives]

    def likelihood():
        both = continuation_logprobs(lm, lik_rows, list(zip(pos_rows, neg_rows)), site=SITE, deltas=lik_deltas,
                                     batch_size=64)
        return both[:, 0] - both[:, 1]

    def likelihood_unshared():
        kw = dict(site=SITE, deltas=lik_deltas, batch_size=64, share_prefix=False)
        return (continuation_logprob(lm, lik_rows, pos_rows, **kw) - continuation_logprob(lm, lik_rows, neg_rows, **kw))

    lik_times, unshared_times = [], []
    margins = None
    for _ in range(max(2, repeats)):
        seconds, margins = timed(likelihood)
        lik_times.append(seconds)
        seconds, plain_margins = timed(likelihood_unshared)
        unshared_times.append(seconds)
    sharing = summary([u / s for u, s in zip(unshared_times, lik_times)])
    rows.append(ratio_row(NAME, f"likelihood route, prompt + prefix sharing: two plain teacher-forced passes / "
                                f"one shared pass ({n_items} items × {len(CONDITIONS)} cond)", sharing,
                          note=f"max |Δ margin| {float(np.max(np.abs(plain_margins - margins))):.1e} nats"))
    # the baseline generates for the same number of (prompt, condition) units
    lik_baseline = per_unit * n_items * len(CONDITIONS)
    lik_stats = summary([lik_baseline / s for s in lik_times])
    shift = {c: float(np.mean(margins[i * n_items:(i + 1) * n_items] - margins[:n_items]))
             for i, c in enumerate(CONDITIONS)}
    detail["likelihood"] = {"times_s": lik_times, "ratio": lik_stats, "n_items": n_items,
                            "mean_margin_shift_vs_none": shift}
    rows.append(ratio_row(NAME, f"likelihood route ({n_items} items × {len(CONDITIONS)} cond, 2 replies each): "
                                f"baseline generation / teacher-forced", lik_stats, goal="≥ 20",
                          met=lik_stats["median"] >= 20,
                          note=f"different measurement: log p(pos) − log p(neg); shift +v {shift['+v']:+.2f}, "
                               f"−v {shift['-v']:+.2f} nats"))
    return {"rows": [r.to_dict() for r in rows], "detail": detail}
