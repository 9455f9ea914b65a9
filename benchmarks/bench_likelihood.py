"""Likelihood route: the cuts in teacher forcing, and the decode dtype by batch size.

Rows (every one a ratio against an arm of the same run, arms interleaved):

* one likelihood unit of the demo (21 E1 conditions × n sentiment items, prompt-major, batch 96, bf16
  where the CPU has it natively — the demo's ``decode_dtype: auto``): the route as it was
  (``_likelihood_baseline``) / the route now, scope ``all``; the largest |Δ margin| between them in fp32;
* the same unit under scope ``generated`` (the prompt runs once per item) vs scope ``all`` now;
* decode dtype: bf16 / fp32 time of the engine's greedy decode at batch 1, 2, 4, 16 — where bf16 starts to
  pay is the batch size from which ``decode_dtype: auto`` picks bf16 on this CPU
  (:data:`steerid.engine.decode.BF16_MIN_ROWS`).
"""

from __future__ import annotations

import numpy as np
import torch

from benchmarks import _likelihood_baseline as baseline
from benchmarks._timing import interleaved, log, summary
from benchmarks.common import SITE, ratio_row, model, trait_vector
from steerid.engine.decode import BF16_MIN_ROWS, choose_dtype, in_dtype, native_bf16
from steerid.engine.generation import continuation_logprobs, generate
from steerid.experiments.conditions import e1_conditions

NAME = "likelihood"


def _unit(lm, n_items: int):
    """Rows, reply pairs and displacements of one quick-profile likelihood unit (prompt-major)."""
    from steerid.capture import median_token_norm
    from steerid.traits.formatting import format_chat
    from steerid.traits.loader import load_trait

    items = load_trait("sentiment").likelihood[:n_items]
    prompts = [format_chat(lm.tokenizer, item.prompt) for item in items]
    norm = median_token_norm(model(), prompts[:8], SITE)
    conds = e1_conditions(trait_vector().direction, 0.1 * norm, rhos=[1.0], n_draws=8, seed=0)
    rows = [p for p in prompts for _ in conds]
    pairs = [(item.positive, item.negative) for item in items for _ in conds]
    deltas = np.stack([c.delta for _ in prompts for c in conds])
    return rows, pairs, deltas, len(conds)


def run(quick: bool = False) -> dict:
    rows_out, detail = [], {}
    n_items = 4 if quick else 8  # 168 rows: two chunks of 96, as the demo's units run; ≈ 2 min of `make bench`
    repeats = 2
    base = model()
    auto = in_dtype(base, choose_dtype("auto", base.device, rows=96))
    rows, pairs, deltas, n_cond = _unit(base, n_items)
    label = f"{n_items} items × {n_cond} cond, batch 96, {str(auto.model.dtype).removeprefix('torch.')}"

    def arm(fn, lm, scope):
        return lambda: fn(lm, rows, pairs, site=SITE, deltas=deltas, scope=scope, batch_size=96, reduce="mean")

    log("likelihood: route before / now, scope all and generated")
    times = interleaved({"before": arm(baseline.continuation_logprobs, auto, "all"),
                         "now": arm(continuation_logprobs, auto, "all"),
                         "before generated": arm(baseline.continuation_logprobs, auto, "generated"),
                         "generated": arm(continuation_logprobs, auto, "generated")}, repeats)
    exact = {}
    for scope in ("all", "generated"):
        old = baseline.continuation_logprobs(base, rows, pairs, site=SITE, deltas=deltas, scope=scope, batch_size=96,
                                             reduce="mean")
        new = continuation_logprobs(base, rows, pairs, site=SITE, deltas=deltas, scope=scope, batch_size=96,
                                    reduce="mean")
        exact[scope] = float(np.max(np.abs((old[:, 0] - old[:, 1]) - (new[:, 0] - new[:, 1]))))
    detail["times_s"] = times
    detail["max_abs_margin_diff_fp32"] = exact
    detail["ms_per_row_now"] = 1000 * float(np.median(times["now"])) / len(rows)
    rows_out.append(ratio_row(NAME, f"likelihood unit ({label}), scope all: route before / now",
                              summary([b / n for b, n in zip(times["before"], times["now"])]),
                              note=f"max |Δ margin| fp32 {exact['all']:.1e} nats; now {detail['ms_per_row_now']:.1f} ms/row"))
    rows_out.append(ratio_row(NAME, f"likelihood unit ({label}), scope generated: route before / now",
                              summary([b / n for b, n in zip(times["before generated"], times["generated"])]),
                              note=f"max |Δ margin| fp32 {exact['generated']:.1e} nats (prompt once per item)"))
    rows_out.append(ratio_row(NAME, f"likelihood unit ({label}): scope all / scope generated, both now",
                              summary([a / g for a, g in zip(times["now"], times["generated"])]),
                              note="a design choice, not a cut: generated leaves the prompt unsteered"))

    log("likelihood: decode dtype by batch size")
    fp32, bf16 = base, in_dtype(base, torch.bfloat16)
    prompts = list(dict.fromkeys(rows))
    ratios = {}
    for batch in (1, 2, 4) if quick else (1, 2, 4, 16):
        chosen = (prompts * batch)[:batch]
        kw = dict(greedy=True, max_new_tokens=8, batch_size=batch)
        t = interleaved({"fp32": lambda: generate(fp32, chosen, **kw), "bf16": lambda: generate(bf16, chosen, **kw)},
                        repeats)
        ratios[batch] = summary([b / f for f, b in zip(t["fp32"], t["bf16"])])
        rows_out.append(ratio_row(NAME, f"decode dtype: bf16 / fp32 time, engine greedy 8 tokens, batch {batch}",
                                  ratios[batch], note=f"auto picks {str(choose_dtype('auto', 'cpu', rows=batch)).removeprefix('torch.')} "
                                                      f"(bf16 from {BF16_MIN_ROWS} rows; native bf16: {native_bf16()})"))
    detail["bf16_over_fp32_by_batch"] = ratios
    return {"rows": [r.to_dict() for r in rows_out], "detail": detail}
