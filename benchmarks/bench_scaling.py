"""How E1-like batched generation time scales: with prompts, with conditions, with model size.

One ``steerid.engine.generation.generate`` call per point (greedy, all rows of a point in one batch, one
displacement per row, 16 new tokens at least; ``min_new_tokens`` is not forced, EOS may end
rows). Fitted log-log slopes of time vs rows: 1 = linear (no batching gain), < 1 = batching
pays. Model size: Gemma-3-270M vs SmolLM2-135M at the same rows and tokens (time ratio, next to
the parameter ratio); Gemma's GGUF is converted on first use (~40 s, then cached).
"""

from __future__ import annotations

import numpy as np

from benchmarks._timing import log, timed
from benchmarks.common import ALPHA, Row, condition_deltas, eval_prompts, model
from steerid.engine.generation import generate
from steerid.models import Site

NAME = "scaling"
ALL_CONDITIONS = ("none", "+v", "-v", "v+vperp", "vperp")


def _point(lm, site, n_prompts, n_conditions, new_tokens, direction, prompts):
    names = ALL_CONDITIONS[:n_conditions]
    _, deltas = condition_deltas(direction, n_prompts, ALPHA, names=names)
    rows = [p for _ in names for p in prompts[:n_prompts]]
    seconds, out = timed(lambda: generate(lm, rows, site=site, deltas=deltas, max_new_tokens=new_tokens,
                                          batch_size=len(rows)))
    return seconds, sum(len(t) for t in out.tokens)


def _slope(x, y) -> float:
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def _unit(dim: int, seed: int = 0) -> np.ndarray:
    g = np.random.default_rng(seed).standard_normal(dim)
    return g / np.linalg.norm(g)


def run(quick: bool = False) -> dict:
    lm = model()
    site = Site(15, "in")
    new_tokens = 8 if quick else 16
    prompt_grid = (2, 4, 8) if quick else (2, 4, 8, 16, 32)
    cond_grid = (1, 2, 4) if quick else (1, 2, 3, 4, 5)
    prompts = list(eval_prompts(max(prompt_grid)))
    direction = _unit(lm.info.hidden_size)
    log("scaling: prompts and conditions")
    _point(lm, site, 2, 1, 4, direction, prompts)  # warm-up
    by_prompts = [dict(zip(("seconds", "tokens"), _point(lm, site, n, 4, new_tokens, direction, prompts)), n_prompts=n)
                  for n in prompt_grid]
    fixed = 8 if not quick else 4
    by_conditions = [dict(zip(("seconds", "tokens"), _point(lm, site, fixed, c, new_tokens, direction, prompts)),
                          n_conditions=c) for c in cond_grid]
    slope_p = _slope([4 * p["n_prompts"] for p in by_prompts], [p["seconds"] for p in by_prompts])
    slope_c = _slope([fixed * p["n_conditions"] for p in by_conditions], [p["seconds"] for p in by_conditions])
    rows = [
        Row(bench=NAME, metric=f"log-log slope, time vs prompts (4 conditions, {min(prompt_grid)}–{max(prompt_grid)} prompts)",
            value=slope_p, unit="", note="1 = linear in rows; < 1 = batching gain"),
        Row(bench=NAME, metric=f"log-log slope, time vs conditions ({fixed} prompts, {min(cond_grid)}–{max(cond_grid)} conditions)",
            value=slope_c, unit="", note="same rows-per-call law as prompts: conditions are just rows"),
    ]
    detail = {"by_prompts": by_prompts, "by_conditions": by_conditions, "new_tokens": new_tokens}

    # model size: same rows, same tokens, Gemma-3-270M vs SmolLM2-135M (interleaved, repeats)
    log("scaling: model size")
    gemma = model(spec="gemma3-270m")
    n_rows_prompts = 4 if quick else 8
    gemma_site = Site(gemma.info.n_layers // 2, "in")
    g_prompts = list(eval_prompts(n_rows_prompts, spec="gemma3-270m"))
    s_prompts = prompts[:n_rows_prompts]
    g_dir, s_dir = _unit(gemma.info.hidden_size), direction
    g_times, s_times = [], []
    _point(gemma, gemma_site, 2, 1, 4, g_dir, g_prompts)  # warm-up
    for _ in range(2 if quick else 3):
        s_times.append(_point(lm, site, n_rows_prompts, 4, new_tokens, s_dir, s_prompts))
        g_times.append(_point(gemma, gemma_site, n_rows_prompts, 4, new_tokens, g_dir, g_prompts))
    # normalise by generated tokens (EOS can end rows at different points in the two models)
    per_token = [(g[0] / max(g[1], 1)) / (s[0] / max(s[1], 1)) for g, s in zip(g_times, s_times)]
    params = {name: sum(p.numel() for p in m.model.parameters()) for name, m in (("smollm2", lm), ("gemma3", gemma))}
    ratio = float(np.median(per_token))
    size_slope = float(np.log(ratio) / np.log(params["gemma3"] / params["smollm2"]))
    rows.append(Row(bench=NAME, metric=f"time per generated token, Gemma-3-270M / SmolLM2-135M ({4 * n_rows_prompts} rows)",
                    value=ratio, spread={"min": float(min(per_token)), "max": float(max(per_token)),
                                         "n": len(per_token)},
                    note=f"parameter ratio {params['gemma3'] / params['smollm2']:.2f}; log-log slope vs parameters "
                         f"{size_slope:.2f} (Gemma: 262k vocab)"))
    detail["model_size"] = {"smollm2": s_times, "gemma3": g_times, "params": params, "per_token_ratio": per_token,
                            "gemma_site": str(gemma_site)}
    return {"rows": [r.to_dict() for r in rows], "detail": detail}
