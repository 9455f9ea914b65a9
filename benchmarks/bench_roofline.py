"""Roofline of a decode step: achieved GFLOP/s vs a plain matrix multiply of the same shapes.

One decode step of SmolLM2-135M at batch B (KV cache of ~60 positions, logits for the last
position only, the decode engine's dtype) does, per block, the q/k/v/o projections and the
gate/up/down MLP, plus the tied LM head — 2·B·(Σ in·out) multiply-adds counted as FLOPs (the
attention itself is O(B·T·d), a few per cent at T ≈ 60). The baseline is ``torch.mm`` on
exactly those (B × in) · (in × out) shapes, same dtype and threads, in the same run: the step's
fraction = gemm time / step time (1 = nothing but matrix multiplies). A profile table says where
the rest of the step goes (self CPU time per operator, top rows).
"""

from __future__ import annotations

import time

import torch
from torch.profiler import ProfilerActivity, profile
from transformers import StaticCache

from benchmarks._timing import log, summary
from benchmarks.common import Row, model, ratio_row
from steerid.engine.decode import choose_dtype, in_dtype

NAME = "roofline"


def _linear_shapes(lm) -> list[tuple[int, int]]:
    shapes = []
    for module in lm.model.modules():
        if isinstance(module, torch.nn.Linear):
            shapes.append((module.in_features, module.out_features))
    return shapes


def _step_fn(lm, batch: int, cache_len: int):
    ids = torch.randint(100, 1000, (batch, cache_len))
    cache = StaticCache(config=lm.model.config, max_cache_len=cache_len + 64)
    mask = torch.ones(batch, cache_len + 64, dtype=torch.long)
    positions = torch.arange(cache_len).expand(batch, -1)
    with torch.inference_mode():
        lm.model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True,
                 logits_to_keep=1)
    token = torch.randint(100, 1000, (batch, 1))
    state = {"pos": cache_len}

    def step():
        with torch.inference_mode():
            lm.model(input_ids=token, attention_mask=mask, position_ids=torch.full((batch, 1), state["pos"]),
                     cache=cache, use_cache=True, logits_to_keep=1)
        state["pos"] += 1
        if state["pos"] >= cache_len + 60:  # stay inside the preallocated cache
            cache.crop(-(state["pos"] - cache_len))
            state["pos"] = cache_len

    return step


def _gemm_fn(shapes, batch: int, dtype: torch.dtype):
    inputs = {k: torch.randn(batch, k, dtype=dtype) for k in {i for i, _ in shapes}}
    weights = [torch.randn(i, o, dtype=dtype) for i, o in shapes]

    def go():
        for (i, _), w in zip(shapes, weights):
            torch.mm(inputs[i], w)

    return go


def _best(fn, repeats: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def run(quick: bool = False) -> dict:
    base = model()
    dtype = choose_dtype("auto")
    lm = in_dtype(base, dtype)
    shapes = _linear_shapes(lm)
    flops_per_row = 2 * sum(i * o for i, o in shapes)
    rows: list[Row] = []
    detail: dict = {"dtype": str(dtype).removeprefix("torch."), "linear_layers": len(shapes),
                    "gflop_per_row": flops_per_row / 1e9}
    repeats = 3 if quick else 7
    for batch in ((64,) if quick else (16, 64, 128)):
        log(f"roofline: batch {batch}, {detail['dtype']}")
        step = _step_fn(lm, batch, 60)
        gemm = _gemm_fn(shapes, batch, dtype)
        step_times, gemm_times = [], []
        for _ in range(repeats):  # interleaved
            step_times += _best(step, 1)
            gemm_times += _best(gemm, 1)
        fraction = summary([g / s for g, s in zip(gemm_times, step_times)])
        gflops_step = batch * flops_per_row / min(step_times) / 1e9
        gflops_gemm = batch * flops_per_row / min(gemm_times) / 1e9
        detail[f"batch{batch}"] = {"step_s": step_times, "gemm_s": gemm_times, "gflops_step": gflops_step,
                                   "gflops_gemm": gflops_gemm}
        rows.append(ratio_row(NAME, f"decode step vs sgemm of its shapes, batch {batch} ({detail['dtype']}): "
                                    "fraction of gemm speed", fraction, goal="≥ 0.5", met=fraction["median"] >= 0.5,
                              note=f"step {gflops_step:.0f} GFLOP/s, gemm {gflops_gemm:.0f} GFLOP/s"))
    # the decode kernel choice: transformers' SDPA vs steerid's one-query attention, same batch
    kernels = {}
    original = lm.model.config._attn_implementation
    for impl in ("sdpa", "steerid_decode", "sdpa", "steerid_decode"):
        lm.model.set_attn_implementation(impl)
        kernels.setdefault(impl, []).extend(_best(_step_fn(lm, 64, 60), repeats))
    lm.model.set_attn_implementation(original)
    kernel_ratio = summary([a / b for a, b in zip(kernels["sdpa"], kernels["steerid_decode"])])
    detail["attention_kernel_s"] = kernels
    rows.append(ratio_row(NAME, "decode step time, SDPA / steerid one-query attention (batch 64)", kernel_ratio,
                          note="the engine's reduced-precision copy uses the faster one"))
    step = _step_fn(lm, 64, 60)
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            step()
    total = sum(e.self_cpu_time_total for e in prof.key_averages())
    table = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:10]
    detail["profile_batch64"] = [{"op": e.key, "self_cpu_share": e.self_cpu_time_total / total, "calls": e.count}
                                 for e in table]
    top = ", ".join(f"{e.key.removeprefix('aten::')} {100 * e.self_cpu_time_total / total:.0f} %" for e in table[:5])
    rows.append(Row(bench=NAME, metric="where a batch-64 decode step goes (self CPU time, top 5)", value=float("nan"),
                    unit="", spread={}, goal="", met=None, note=top))
    return {"rows": [r.to_dict() for r in rows], "detail": detail}
