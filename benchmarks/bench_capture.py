"""Activation capture + streaming covariance vs a plain forward pass, and memory as n grows.

Throughput: ``steerid.capture.token_moments`` at in:15 (capture stops after block 14, then a
float64 moment update per batch) vs a plain ``model(...)`` forward over the same batches of the
same texts (all 30 blocks + LM head, no capture); ratio = plain time / capture time (goal ≥ 0.8,
i.e. capture costs at most 1.25 plain forwards). Also reported: capture at the last site
(out:29), where early stopping saves nothing, so the ratio isolates the capture overhead.

Memory: peak traced allocation (tracemalloc: numpy buffers, Python objects) and peak RSS growth
of ``token_moments`` for growing n texts; the accumulator is O(d²) (d = 576: a 2.6 MB scatter
matrix), so the peak should stay flat in n. tracemalloc does not see torch's allocator, so
activation tensors (O(batch × seq × d)) show up only in RSS.
"""

from __future__ import annotations

import resource
import tracemalloc

import numpy as np
import torch

from benchmarks._timing import interleaved, log, ratio_summary
from benchmarks.common import SITE, Row, eval_prompts, model, ratio_row
from steerid.engine.batching import chunks, encode, left_pad
from steerid.capture import token_moments
from steerid.models import Site

NAME = "capture"
BATCH = 16


def _texts(n: int) -> list[str]:
    base = list(eval_prompts(min(n, 300)))
    return [base[i % len(base)] + (f" (variant {i // len(base)})" if i >= len(base) else "") for i in range(n)]


def _plain_forward(lm, texts):
    ids = encode(lm, texts)

    def go():
        with torch.inference_mode():
            for part in chunks(len(ids), BATCH):
                batch = left_pad(ids[part], lm.tokenizer.pad_token_id)
                lm.model(**batch.model_inputs(), use_cache=False)
    return go


def throughput(quick: bool) -> tuple[list[Row], dict]:
    lm = model()
    texts = _texts(32 if quick else 96)
    repeats = 3 if quick else 5
    last = Site(lm.info.n_layers - 1, "out")
    arms = {
        "plain": _plain_forward(lm, texts),
        "capture_in15": lambda: token_moments(lm, texts, SITE, batch_size=BATCH),
        "capture_last": lambda: token_moments(lm, texts, last, batch_size=BATCH),
    }
    log(f"capture: throughput, {len(texts)} texts")
    times = interleaved(arms, repeats)
    mid = ratio_summary(times["plain"], times["capture_in15"])
    end = ratio_summary(times["plain"], times["capture_last"])
    rows = [
        ratio_row(NAME, f"capture+covariance at {SITE} vs plain forward (throughput ratio)", mid, goal="≥ 0.8",
                  met=mid["median"] >= 0.8, note=f"{len(texts)} texts, batch {BATCH}; stops after block {SITE.layer - 1}"),
        ratio_row(NAME, f"capture+covariance at {last} vs plain forward (throughput ratio)", end, goal="≥ 0.8",
                  met=end["median"] >= 0.8, note="no early stop; the final norm and LM head (49k × 576 per position) are skipped"),
    ]
    return rows, {"times_s": times, "n_texts": len(texts)}


def _rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def memory(quick: bool) -> tuple[list[Row], dict]:
    lm = model()
    sizes = (16, 32, 64) if quick else (32, 64, 128, 256)
    token_moments(lm, _texts(16), SITE, batch_size=BATCH)  # warm allocator and caches
    points = []
    for n in sizes:
        log(f"capture: memory, {n} texts")
        texts = _texts(n)
        rss_before = _rss_mb()
        tracemalloc.start()
        moments, norms = token_moments(lm, texts, SITE, batch_size=BATCH)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        points.append({"n_texts": n, "n_tokens": int(moments.n), "traced_peak_mb": peak / 2**20,
                       "rss_growth_mb": max(0.0, _rss_mb() - rss_before)})
    peaks = np.array([p["traced_peak_mb"] for p in points])
    tokens = np.array([p["n_tokens"] for p in points], dtype=float)
    slope = float(np.polyfit(np.log(tokens), np.log(peaks), 1)[0])
    growth = float(peaks[-1] / peaks[0])
    d = lm.info.hidden_size
    row = Row(bench=NAME, metric=f"peak traced memory, n = {sizes[-1]} vs {sizes[0]} texts ({tokens[-1]:.0f} vs {tokens[0]:.0f} tokens)",
              value=growth, spread={"loglog_slope": slope, "peak_mb_first": float(peaks[0]),
                                    "peak_mb_last": float(peaks[-1])},
              goal="flat (≈ 1×), O(d²)", met=growth < 1.5,
              note=f"d² float64 = {d * d * 8 / 2**20:.1f} MB; log-log slope {slope:.2f} (0 = flat, 1 = linear)")
    return [row], {"points": points, "loglog_slope": slope}


def run(quick: bool = False) -> dict:
    rows_t, detail_t = throughput(quick)
    rows_m, detail_m = memory(quick)
    return {"rows": [r.to_dict() for r in rows_t + rows_m], "detail": {"throughput": detail_t, "memory": detail_m}}
