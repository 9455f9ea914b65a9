"""GPU check: steerid's engine on randomly initialised models of real shapes, against ``model.generate``.

Usage (repository root; no install needed, ``src/`` is put on the path)::

    python benchmarks/gpu_check.py --out runs/gpu-check        # CUDA: real shapes, bf16 (``make gpu-check``)
    python benchmarks/gpu_check.py --tiny --out /tmp/gpu-check  # CPU or CUDA: tiny shapes (the test suite runs this)

Without CUDA and without ``--tiny`` it prints one line, writes a record saying the real shapes were
skipped, and exits 0. It needs only torch, transformers, numpy and tokenizers (whatever
versions it finds; it prints them): it imports steerid's engine, model and condition modules, never
the audit, scorers, traits or interop (pydantic, gguf, vaderSentiment and ray are not needed).
Nothing is downloaded: the shapes below are written here and the weights are random (seeded), the
tokenizer is steerid's byte-level test tokenizer (prompts are random lowercase text).

For each shape it writes into ``gpu_check.json`` and ``gpu_check.md``:

* **greedy agreement** — engine (``engine="steerid"``) vs ``model.generate`` (``engine="hf"``), steered
  and unsteered rows mixed in one batch: the share of rows with identical tokens, the share of tokens
  before the first difference, and wherever a row first differs the gap between the two largest logits
  there (a near-tie in bf16 is the expected cause; a large gap would be a bug);
* **throughput** — generated tokens/s of the engine and of ``model.generate`` at batch 1/16/64/256
  (arms interleaved, the ratio taken within each repeat) and the peak GPU memory of each arm;
* **likelihood route** — rows/s of teacher-forced log p(y⁺) − log p(y⁻) over the quick profile's 21 E1
  conditions, scope ``all`` and ``generated``;
* **E1 unit of the ``paper`` profile** (largest shape only) — 57 conditions × 300 prompts × 40 sampled
  tokens (top-k 50, batch 64) plus the unsteered log-likelihood pass, timed on a slice of the prompts
  and extrapolated linearly to 300 (no scorer: scoring is not timed).

Time guard: ``--budget`` seconds (default 270); once spent, the remaining rows are recorded as skipped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    try:
        import steerid  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoConfig, AutoModelForCausalLM  # noqa: E402

from steerid.engine.generation import continuation_logprob, continuation_logprobs, generate  # noqa: E402
from steerid.engine.steer import steering  # noqa: E402
from steerid.experiments.conditions import e1_conditions  # noqa: E402
from steerid.models.families import find_blocks  # noqa: E402
from steerid.models.info import ModelInfo  # noqa: E402
from steerid.models.loader import LoadedModel  # noqa: E402
from steerid.models.site import Site  # noqa: E402
from steerid.models.tiny import tiny_tokenizer  # noqa: E402

_IDS = dict(pad_token_id=0, bos_token_id=1, eos_token_id=2)

SHAPES: dict[str, dict[str, Any]] = {
    # HuggingFaceTB/SmolLM2-135M-Instruct
    "SmolLM2-135M": dict(model_type="llama", hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, head_dim=64, vocab_size=49152,
                         max_position_embeddings=8192, rope_theta=100000.0, rms_norm_eps=1e-5,
                         tie_word_embeddings=True),
    # meta-llama/Llama-3.2-1B-Instruct
    "Llama-3.2-1B": dict(model_type="llama", hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                         num_attention_heads=32, num_key_value_heads=8, head_dim=64, vocab_size=128256,
                         max_position_embeddings=131072, rope_theta=500000.0, rms_norm_eps=1e-5,
                         rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                       "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                         tie_word_embeddings=True),
    # Qwen/Qwen2.5-3B-Instruct
    "Qwen2.5-3B": dict(model_type="qwen2", hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
                       num_attention_heads=16, num_key_value_heads=2, vocab_size=151936,
                       max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
                       use_sliding_window=False, tie_word_embeddings=True),
}

_TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
             vocab_size=512, max_position_embeddings=1024)
TINY_SHAPES: dict[str, dict[str, Any]] = {
    "tiny-qwen2": dict(model_type="qwen2", rope_theta=1000000.0, use_sliding_window=False, tie_word_embeddings=True,
                       **_TINY),
}
"""One tiny shape (the largest real shape's family, so every check, the paper E1 unit included, runs on it)."""


class Plan:
    """Sizes of every check (real shapes on CUDA, or tiny ones)."""

    def __init__(self, tiny: bool, only: list[str] | None = None) -> None:
        self.tiny = tiny
        shapes = TINY_SHAPES if tiny else SHAPES
        self.shapes = {k: v for k, v in shapes.items() if not only or k in only}
        self.agreement_prompts = 4 if tiny else 16  # × 4 conditions
        self.agreement_tokens = 8 if tiny else 32
        self.batches = (1, 4) if tiny else (1, 16, 64, 256)
        self.throughput_tokens = 8 if tiny else 64
        self.repeats = 1 if tiny else 2
        self.likelihood_items = 2 if tiny else 16  # × 21 conditions
        self.likelihood_batch = 96
        self.e1_slice = 1 if tiny else 4  # prompts of the paper E1 unit timed (× 57 conditions)
        self.e1_tokens = 4 if tiny else 40
        self.prompt_chars = 24 if tiny else 48


def versions(device: torch.device) -> dict[str, Any]:
    out: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                           "transformers": transformers.__version__, "numpy": np.__version__,
                           "device": str(device), "cuda": torch.version.cuda,
                           "threads": torch.get_num_threads()}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
        out["gpu_memory_gib"] = round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1)
    return out


def build(name: str, shape: dict[str, Any], device: torch.device, dtype: torch.dtype, seed: int = 0) -> LoadedModel:
    """A randomly initialised model of ``shape`` on ``device`` (weights drawn there, seeded)."""
    params = dict(shape)
    model_type = params.pop("model_type")
    config = AutoConfig.for_model(model_type, **_IDS, **params)
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.eval()
    tokenizer = tiny_tokenizer()
    n_layers = int(config.num_hidden_layers)
    info = ModelInfo(spec=f"random:{name}", name=name, family=model_type, n_layers=n_layers,
                     hidden_size=int(config.hidden_size), has_chat_template=True, weights_hash="random-init",
                     dtype=str(dtype).removeprefix("torch."), source="random-init",
                     max_positions=int(config.max_position_embeddings), device=str(device))
    return LoadedModel(model=model, tokenizer=tokenizer, info=info, blocks=find_blocks(model, model_type, n_layers))


def prompts(n: int, chars: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz     "))
    return [f"<s>user\n{''.join(rng.choice(letters, chars))}</s>\n<s>assistant\n" for _ in range(n)]


def site_and_scale(lm: LoadedModel, texts: list[str]) -> tuple[Site, float, np.ndarray]:
    """Middle-layer site, 0.1 × the median token norm there (the quick profile's strength), a unit direction."""
    layer = lm.info.n_layers // 2
    batch = lm.tokenizer(texts[:4], return_tensors="pt", padding=True)
    with torch.inference_mode():
        hidden = lm.model(**{k: v.to(lm.device) for k, v in batch.items()}, output_hidden_states=True).hidden_states[layer]
    norms = hidden.float().norm(dim=-1)[batch["attention_mask"].to(lm.device).bool()]
    rng = np.random.default_rng(1)
    direction = rng.standard_normal(lm.info.hidden_size)
    return Site(layer, "in"), 0.1 * float(norms.median()), direction / np.linalg.norm(direction)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device) -> tuple[float, Any, float | None]:
    """Seconds, result and peak GPU memory (GiB, CUDA only) of one call."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return seconds, result, peak


def mixed_rows(texts: list[str], direction: np.ndarray, scale: float) -> tuple[list[str], np.ndarray]:
    """Each prompt under none, +v, −v and +v+v⊥ (ρ = 1): steered and unsteered rows in one batch."""
    conds = e1_conditions(direction, scale, rhos=[1.0], n_draws=1, signs=(1, -1), seed=0)
    chosen = [c for c in conds if c.name in ("none", "+v", "-v", "+v+v⊥[ρ=1,#0]")]
    rows = [t for t in texts for _ in chosen]
    deltas = np.stack([c.delta for _ in texts for c in chosen]).astype(np.float32)
    return rows, deltas


def top2_gap(lm: LoadedModel, prompt: str, prefix: list[int], site: Site, delta: np.ndarray) -> float:
    """Largest minus second-largest logit after ``prompt`` + ``prefix`` under steering (scope all)."""
    ids = lm.tokenizer(prompt)["input_ids"] + prefix
    with steering(lm, site, delta), torch.inference_mode():
        logits = lm.model(input_ids=torch.tensor([ids], device=lm.device)).logits[0, -1].float()
    top = torch.topk(logits, 2).values
    return float(top[0] - top[1])


def check_agreement(lm: LoadedModel, plan: Plan, site: Site, scale: float, direction: np.ndarray) -> dict[str, Any]:
    texts = prompts(plan.agreement_prompts, plan.prompt_chars, seed=10)
    rows, deltas = mixed_rows(texts, direction, scale)
    kw = dict(site=site, deltas=deltas, greedy=True, max_new_tokens=plan.agreement_tokens, batch_size=len(rows))
    engine = generate(lm, rows, engine="steerid", **kw).tokens
    hf = generate(lm, rows, engine="hf", **kw).tokens
    equal_rows, matched, total, gaps = 0, 0, 0, []
    for r, (a, b) in enumerate(zip(engine, hf)):
        total += max(len(a), len(b))
        first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        matched += first
        if a == b:
            equal_rows += 1
        elif len(gaps) < 16:
            gaps.append(top2_gap(lm, rows[r], list(b[:first]), site, deltas[r]))
    return {"rows": len(rows), "rows_equal": equal_rows, "share_rows_equal": equal_rows / len(rows),
            "share_tokens_before_first_difference": matched / max(1, total),
            "top2_gap_at_first_difference": {"n": len(gaps), "median": float(np.median(gaps)) if gaps else None,
                                             "max": float(np.max(gaps)) if gaps else None},
            "conditions": ["none", "+v", "-v", "+v+v⊥[ρ=1]"], "tokens": plan.agreement_tokens}


def check_throughput(lm: LoadedModel, plan: Plan, site: Site, scale: float, direction: np.ndarray) -> list[dict]:
    out = []
    device = lm.device
    for batch in plan.batches:
        texts = prompts(max(1, batch // 4), plan.prompt_chars, seed=20 + batch)
        rows, deltas = mixed_rows(texts, direction, scale)
        rows, deltas = rows[:batch], deltas[:batch]
        kw = dict(site=site, deltas=deltas, greedy=True, max_new_tokens=plan.throughput_tokens, batch_size=batch)
        arms: dict[str, dict[str, list]] = {"engine": {"s": [], "tok": [], "peak": []}, "hf": {"s": [], "tok": [], "peak": []}}
        for engine in ("steerid", "hf"):  # warm-up (kernels, allocator) outside the timed repeats
            generate(lm, rows[:1], engine=engine, **{**kw, "deltas": deltas[:1], "batch_size": 1})
        for _ in range(plan.repeats):
            for arm in ("engine", "hf"):
                seconds, result, peak = timed(lambda arm=arm: generate(lm, rows, engine="steerid" if arm == "engine" else "hf", **kw), device)
                arms[arm]["s"].append(seconds)
                arms[arm]["tok"].append(sum(len(t) for t in result.tokens))
                arms[arm]["peak"].append(peak)
        ratios = [(arms["engine"]["tok"][i] / arms["engine"]["s"][i]) / max(1e-12, arms["hf"]["tok"][i] / arms["hf"]["s"][i])
                  for i in range(plan.repeats)]
        row: dict[str, Any] = {"batch": batch, "ratio_engine_over_hf": float(np.median(ratios)),
                               "ratio_min": float(min(ratios)), "ratio_max": float(max(ratios)), "repeats": plan.repeats}
        for arm, data in arms.items():
            row[f"{arm}_tokens_per_s"] = float(np.median([t / s for t, s in zip(data["tok"], data["s"])]))
            row[f"{arm}_peak_gib"] = max(data["peak"]) if data["peak"][0] is not None else None
        out.append(row)
    return out


def likelihood_rows(plan: Plan, n_items: int) -> tuple[list[str], list[tuple[str, str]]]:
    texts = prompts(n_items, plan.prompt_chars, seed=30)
    rng = np.random.default_rng(31)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz "))
    replies = [("".join(rng.choice(letters, 12)), "".join(rng.choice(letters, 12))) for _ in texts]
    return texts, replies


def check_likelihood(lm: LoadedModel, plan: Plan, site: Site, scale: float, direction: np.ndarray) -> list[dict]:
    """Teacher-forced route over the quick profile's 21 E1 conditions (prompt-major rows)."""
    conds = e1_conditions(direction, scale, rhos=[1.0], n_draws=8, seed=0)
    texts, replies = likelihood_rows(plan, plan.likelihood_items)
    rows = [t for t in texts for _ in conds]
    pairs = [r for r in replies for _ in conds]
    deltas = np.stack([c.delta for _ in texts for c in conds]).astype(np.float32)
    out = []
    for scope in ("all", "generated"):
        fn = lambda scope=scope: continuation_logprobs(lm, rows, pairs, site=site, deltas=deltas, scope=scope,  # noqa: E731
                                                       batch_size=plan.likelihood_batch, reduce="mean")
        fn()  # warm-up
        seconds, both, peak = timed(fn, lm.device)
        out.append({"scope": scope, "conditions": len(conds), "items": len(texts), "rows": len(rows),
                    "rows_per_s": len(rows) / seconds, "seconds": seconds, "peak_gib": peak,
                    "finite": bool(np.isfinite(both).all())})
    return out


def check_e1_unit(lm: LoadedModel, plan: Plan, site: Site, scale: float, direction: np.ndarray) -> dict[str, Any]:
    """The paper profile's E1 unit: 57 conditions × 300 prompts × 40 sampled tokens, batch 64, timed on a slice."""
    conds = e1_conditions(direction, scale, rhos=[0.5, 1.0, 2.0], n_draws=8, seed=0)
    texts = prompts(plan.e1_slice, plan.prompt_chars, seed=40)
    rows = [t for t in texts for _ in conds]
    deltas = np.stack([c.delta for _ in texts for c in conds]).astype(np.float32)
    seeds = [1_000_003 + p for p in range(len(texts)) for _ in conds]

    def unit():
        out = generate(lm, rows, site=site, deltas=deltas, greedy=False, temperature=0.7, top_k=50, seeds=seeds,
                       max_new_tokens=plan.e1_tokens, batch_size=64)
        safe = [t if t else " " for t in out.texts]
        continuation_logprob(lm, rows, safe, batch_size=64, reduce="mean")  # run_conditions' unsteered loglik pass
        return out

    seconds, out, peak = timed(unit, lm.device)
    full = 300
    return {"conditions": len(conds), "prompts_timed": len(texts), "rows_timed": len(rows), "tokens": plan.e1_tokens,
            "seconds_timed": seconds, "generated_tokens": sum(len(t) for t in out.tokens), "peak_gib": peak,
            "unit_prompts": full, "unit_seconds_extrapolated": seconds * full / len(texts)}


def run(plan: Plan, device: torch.device, dtype: torch.dtype, budget: float) -> dict[str, Any]:
    start = time.perf_counter()
    record: dict[str, Any] = {"versions": versions(device), "tiny": plan.tiny, "dtype": str(dtype).removeprefix("torch."),
                              "budget_s": budget, "shapes": {}}
    names = list(plan.shapes)
    for name in names:
        shape_record: dict[str, Any] = {}
        record["shapes"][name] = shape_record
        if time.perf_counter() - start > budget:
            shape_record["skipped"] = "time budget spent"
            continue
        lm = None
        try:
            built, lm, _ = timed(lambda: build(name, plan.shapes[name], device, dtype), device)
            shape_record["build_s"] = built
            shape_record["parameters"] = sum(p.numel() for p in lm.model.parameters())
            site, scale, direction = site_and_scale(lm, prompts(4, plan.prompt_chars, seed=0))
            shape_record["site"] = str(site)
            shape_record["displacement_norm"] = scale
            checks = [("agreement", check_agreement), ("throughput", check_throughput), ("likelihood", check_likelihood)]
            if name == names[-1]:
                checks.append(("e1_unit_paper", check_e1_unit))
            for key, check in checks:
                if time.perf_counter() - start > budget:
                    shape_record[key] = {"skipped": "time budget spent"}
                    continue
                try:
                    shape_record[key] = check(lm, plan, site, scale, direction)
                except Exception as exc:  # noqa: BLE001 — recorded, printed, and the other checks still run
                    traceback.print_exc()
                    shape_record[key] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"gpu-check: {name} {key} done at {time.perf_counter() - start:.0f} s", flush=True)
        except Exception as exc:  # noqa: BLE001 — a shape that cannot be built is recorded; the next one runs
            traceback.print_exc()
            shape_record["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            del lm
            if device.type == "cuda":
                torch.cuda.empty_cache()
    record["seconds"] = time.perf_counter() - start
    return record


def _num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def markdown(record: dict[str, Any]) -> str:
    v = record["versions"]
    lines = [f"# steerid GPU check ({'tiny shapes' if record['tiny'] else 'real shapes, random weights'})", "",
             f"{v.get('gpu', v['device'])} · torch {v['torch']} (CUDA {v['cuda']}) · transformers {v['transformers']} · "
             f"{record['dtype']} · {_num(record.get('seconds'), 0)} s", ""]
    if record.get("skipped"):
        return "\n".join([*lines, f"Skipped: {record['skipped']}", ""])
    lines += ["| shape | check | value | note |", "|---|---|---|---|"]
    for name, s in record["shapes"].items():
        if "skipped" in s or "error" in s:
            lines.append(f"| {name} | — | — | {s.get('skipped') or s.get('error')} |")
            continue
        a = s.get("agreement", {})
        if "rows" in a:
            gap = a["top2_gap_at_first_difference"]
            lines.append(f"| {name} | greedy engine vs model.generate: rows equal | {a['rows_equal']}/{a['rows']} | "
                         f"tokens before first difference {a['share_tokens_before_first_difference']:.1%}; top-2 logit gap "
                         f"there: median {_num(gap['median'], 3)}, max {_num(gap['max'], 3)} (n={gap['n']}) |")
        else:
            lines.append(f"| {name} | greedy agreement | — | {a.get('error') or a.get('skipped')} |")
        t = s.get("throughput")
        for row in t if isinstance(t, list) else []:
            lines.append(f"| {name} | tokens/s engine / model.generate, batch {row['batch']} | "
                         f"{row['ratio_engine_over_hf']:.2f}× ({row['ratio_min']:.2f}–{row['ratio_max']:.2f}, n={row['repeats']}) | "
                         f"engine {row['engine_tokens_per_s']:.0f} tok/s, peak {_num(row['engine_peak_gib'])} GiB; "
                         f"generate {row['hf_tokens_per_s']:.0f} tok/s, peak {_num(row['hf_peak_gib'])} GiB |")
        if isinstance(t, dict):
            lines.append(f"| {name} | throughput | — | {t.get('error') or t.get('skipped')} |")
        lk = s.get("likelihood")
        for row in lk if isinstance(lk, list) else []:
            lines.append(f"| {name} | likelihood route rows/s, scope {row['scope']} | {row['rows_per_s']:.0f} | "
                         f"{row['conditions']} conditions × {row['items']} items, 2 replies each; peak {_num(row['peak_gib'])} GiB |")
        if isinstance(lk, dict):
            lines.append(f"| {name} | likelihood route | — | {lk.get('error') or lk.get('skipped')} |")
        e1 = s.get("e1_unit_paper")
        if e1 is not None:
            if "unit_seconds_extrapolated" in e1:
                lines.append(f"| {name} | one E1 unit of the paper profile (s, extrapolated) | {e1['unit_seconds_extrapolated']:.0f} | "
                             f"{e1['conditions']} conditions × {e1['unit_prompts']} prompts × {e1['tokens']} tokens; timed "
                             f"{e1['prompts_timed']} prompts in {e1['seconds_timed']:.1f} s; peak {_num(e1['peak_gib'])} GiB |")
            else:
                lines.append(f"| {name} | E1 unit (paper) | — | {e1.get('error') or e1.get('skipped')} |")
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny shapes (runs on the CPU; the test suite's check)")
    parser.add_argument("--out", default="runs/gpu-check", help="folder for gpu_check.json and gpu_check.md")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cuda or cpu (tiny only)")
    parser.add_argument("--only", default="", help="comma-separated shape names to run (default: all)")
    parser.add_argument("--budget", type=float, default=270.0, help="seconds after which remaining checks are skipped")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(TINY_SHAPES if args.tiny else SHAPES))
    if unknown:
        print(f"gpu-check: unknown shape(s) {', '.join(unknown)}; use {', '.join(TINY_SHAPES if args.tiny else SHAPES)}",
              file=sys.stderr)
        return 2
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if (args.device == "auto" and cuda) else ("cpu" if args.device == "auto" else args.device))
    if device.type == "cuda" and not cuda:
        print("gpu-check: --device cuda asked for but CUDA is not available; use --tiny --device cpu", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"gpu-check: python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}, "
          f"device {device}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""), flush=True)
    if device.type != "cuda" and not args.tiny:
        record = {"versions": versions(device), "tiny": False, "dtype": "bfloat16", "shapes": {},
                  "skipped": "CUDA is not available: the real shapes need a GPU (run with --tiny for the CPU check)"}
        print(f"gpu-check: skipped — {record['skipped']}")
    else:
        # bf16 on CUDA (the real check); the tiny CPU run keeps float32 so it is quick and exact everywhere
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        record = run(Plan(tiny=args.tiny, only=only), device, dtype, args.budget)
    (out / "gpu_check.json").write_text(json.dumps(record, indent=2, allow_nan=False, default=str) + "\n", encoding="utf-8")
    (out / "gpu_check.md").write_text(markdown(record), encoding="utf-8")
    print(markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
