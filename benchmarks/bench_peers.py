"""steerid vs steering-vectors 0.12.2 and repeng 0.4.0: same model, same work, same tokens.

The peers pin transformers < 5 and numpy < 2, so they run in their own environment
(``benchmarks/.venv-peers``, pins in ``benchmarks/requirements-peers.txt``) as a worker process
(:mod:`benchmarks.peer_worker`) that loads the very safetensors directory steerid converted
(``lm.info.source``). Requests alternate between the worker and this process, so the two
environments' arms are interleaved in time like any other A/B pair here.

1. Model identity first: the rope θ the peer model really uses (recovered from its rotary
   frequencies) and the max |logit difference| between the environments on a few left-padded
   prompts. Nothing else is compared unless they match (θ = 100 000, max diff < 1e-3).
2. Exported files: repeng's own ``ControlVector.import_gguf`` reads steerid's GGUF export.
3. One vector applied to a set of prompts (greedy), batch 1, 16, 64: steerid
   (``steerid.engine.generation.generate`` at in:15) vs steering-vectors and repeng at their layer 14;
   greedy token ids must be identical row for row; speed = peer time / steerid time for the
   same rows (tokens/s ratio, goal ≥ 1.5×). A plain-generate arm in each environment separates
   the transformers version from the library.
4. An E1 condition set (none, +v, −v, v+v⊥ over the same prompts): the peers apply one vector
   per call, so each condition is its own batch (≤ n_prompts rows); steerid puts all conditions
   in the same batch (one displacement per row). Same rows, same tokens, time ratio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from benchmarks._timing import log, summary
from benchmarks.common import ALPHA, SITE, THREADS, Row, condition_deltas, eval_prompts, model, ratio_row, trait_vector
from steerid.engine.batching import encode, left_pad
from steerid.engine.decode import choose_dtype
from steerid.engine.generation import _eos_ids, generate
from steerid.interop import export_gguf, peer_layer, save_steering_vectors_file
from steerid.vector import SteeringVector

NAME = "peers"
ROOT = Path(__file__).resolve().parent.parent
PEER_PYTHON = ROOT / "benchmarks" / ".venv-peers" / "bin" / "python"
LOGIT_TOLERANCE = 1e-3


class PeerError(RuntimeError):
    """The peer worker could not be started or answered with an error."""


class PeerWorker:
    """JSON-lines client of :mod:`benchmarks.peer_worker`."""

    def __init__(self, model_dir: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env["PYTHONPATH"] = str(ROOT)  # for `-m benchmarks.peer_worker` only; steerid is not importable there
        self.process = subprocess.Popen([str(PEER_PYTHON), "-m", "benchmarks.peer_worker", model_dir, str(THREADS)],
                                        cwd=str(ROOT), env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self._read()

    def _read(self) -> dict:
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            raise PeerError(f"peer worker exited (code {self.process.poll()}) without answering")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise PeerError(f"peer worker error: {reply.get('error')}")
        return reply

    def ask(self, **request) -> dict:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.ask(op="quit")
            except PeerError:
                pass  # already gone: nothing to shut down
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def unavailable_reason() -> str | None:
    """Why the peer environment cannot be used here, or None."""
    if not PEER_PYTHON.exists():
        return (f"peer environment missing ({PEER_PYTHON.relative_to(ROOT)}): create it with python -m venv, "
                "then pip install torch==2.13.0 and -r benchmarks/requirements-peers.txt")
    probe = subprocess.run([str(PEER_PYTHON), "-c", "import steering_vectors, repeng, transformers"],
                           capture_output=True, text=True, timeout=300)
    if probe.returncode != 0:
        tail = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return f"peer environment cannot import steering_vectors/repeng/transformers: {tail}"
    return None


def _batch(lm, prompts):
    b = left_pad(encode(lm, prompts), lm.tokenizer.pad_token_id)
    return b.input_ids.tolist(), b.attention_mask.tolist()


def _check_model(lm, worker, tmp: Path) -> dict:
    info = worker.ask(op="info")
    prompts = list(eval_prompts(4))
    ids, mask = _batch(lm, prompts)
    out = tmp / "peer_logits.safetensors"
    worker.ask(op="logits", ids=ids, mask=mask, out=str(out))
    peer = load_file(str(out))["logits"]
    m = torch.tensor(mask)
    with torch.inference_mode():
        ours = lm.model(input_ids=torch.tensor(ids), attention_mask=m, position_ids=(m.cumsum(-1) - 1).clamp(min=0),
                        use_cache=False).logits
    real = m.bool()
    diff = float((ours[real] - peer[real]).abs().max())
    argmax_equal = bool(torch.equal(ours[real].argmax(-1), peer[real].argmax(-1)))
    return {"peer_info": info, "max_abs_logit_diff": diff, "argmax_equal": argmax_equal,
            "positions_compared": int(real.sum())}


AUTO_DTYPE = str(choose_dtype("auto")).removeprefix("torch.")


def _auto_dtype(rows: int) -> str:
    """What ``dtype="auto"`` decodes in at ``rows`` rows per forward (fp32 below BF16_MIN_ROWS on a CPU)."""
    return str(choose_dtype("auto", "cpu", rows=rows)).removeprefix("torch.")


def _steerid_time(lm, prompts, deltas, new_tokens, batch_size, dtype="model"):
    start = time.perf_counter()
    out = generate(lm, prompts, site=SITE, deltas=deltas, max_new_tokens=new_tokens, batch_size=batch_size, dtype=dtype)
    return time.perf_counter() - start, out.tokens


def _peer_time(lm, worker, arm, prompts, new_tokens, batch_size, vector_file=None):
    seconds, tokens = 0.0, []
    for start in range(0, len(prompts), batch_size):
        ids, mask = _batch(lm, prompts[start:start + batch_size])
        request = dict(op="generate", arm=arm, ids=ids, mask=mask, max_new_tokens=new_tokens, eos=_eos_ids(lm),
                       pad=lm.tokenizer.pad_token_id)
        if vector_file is not None:
            request["vector_file"] = str(vector_file)
        reply = worker.ask(**request)
        seconds += reply["seconds"]
        tokens.extend(reply["tokens"])
    return seconds, tokens


def _plain_main_time(lm, prompts, new_tokens, batch_size):
    start = time.perf_counter()
    out = generate(lm, prompts, max_new_tokens=new_tokens, batch_size=batch_size, engine="hf")
    return time.perf_counter() - start, out.tokens


def one_vector(lm, worker, vector: SteeringVector, vector_file: Path, quick: bool) -> tuple[list[Row], dict]:
    new_tokens = 8 if quick else 16
    repeats = 1 if quick else 2
    counts = {1: 2 if quick else 4, 16: 16, 64: 64}  # prompts per point: batch 1 runs them one by one
    prompts_all = list(eval_prompts(max(counts.values())))
    delta = ALPHA * vector.direction
    rows, detail = [], {}
    for batch_size, n in counts.items():
        prompts = prompts_all[:n]
        log(f"peers: one vector, batch {batch_size}, {n} prompts")
        arms = ["steerid", "steerid-auto", "steering-vectors", "repeng"]
        if not quick or batch_size == 16:
            arms += ["plain-main", "plain-peer"]  # the transformers 4.57 vs 5.24 reference (quick: batch 16 only)
        times = {k: [] for k in arms}
        tokens = {}
        for r in range(repeats):
            for arm in arms[r % len(arms):] + arms[: r % len(arms)]:  # order rotated each repeat
                if arm == "steerid":
                    seconds, toks = _steerid_time(lm, prompts, delta, new_tokens, batch_size)
                elif arm == "steerid-auto":
                    seconds, toks = _steerid_time(lm, prompts, delta, new_tokens, batch_size, dtype="auto")
                elif arm == "plain-main":
                    seconds, toks = _plain_main_time(lm, prompts, new_tokens, batch_size)
                elif arm == "plain-peer":
                    seconds, toks = _peer_time(lm, worker, "plain", prompts, new_tokens, batch_size)
                else:
                    seconds, toks = _peer_time(lm, worker, arm, prompts, new_tokens, batch_size, vector_file)
                times[arm].append(seconds)
                tokens[arm] = toks
        identical = {arm: sum(a == b for a, b in zip(tokens["steerid"], tokens[arm])) for arm in ("steering-vectors", "repeng")}
        steered_differs = (sum(a != b for a, b in zip(tokens["steerid"], tokens["plain-main"]))
                           if "plain-main" in tokens else None)
        detail[f"batch{batch_size}"] = {"n_prompts": n, "times_s": times, "identical_rows": identical,
                                        "rows_changed_by_steering": steered_differs,
                                        "generated_tokens": sum(len(t) for t in tokens["steerid"])}
        for arm in ("steering-vectors", "repeng"):
            stats = summary([p / s for p, s in zip(times[arm], times["steerid"])])
            note = f"tokens identical {identical[arm]}/{n}"
            if "plain-peer" in times:
                env = summary([p / s for p, s in zip(times["plain-peer"], times["plain-main"])])
                note += f"; plain generate, transformers 4.57 / 5.24 time {env['median']:.2f}"
            rows.append(ratio_row(
                NAME, f"one vector, {n} prompts, batch {batch_size}: {arm} time / steerid time", stats, goal="≥ 1.5",
                met=stats["median"] >= 1.5, note=note))
            auto = summary([p / s for p, s in zip(times[arm], times["steerid-auto"])])
            rows.append(ratio_row(
                NAME, f"one vector, {n} prompts, batch {batch_size}: {arm} time / steerid (auto dtype) time", auto,
                goal="≥ 1.5", met=auto["median"] >= 1.5,
                note=f"steerid decodes in {_auto_dtype(min(n, batch_size))}, the peer in float32 (both run the same weights)"))
    return rows, detail


def e1_conditions(lm, worker, vector: SteeringVector, tmp: Path, quick: bool) -> tuple[list[Row], dict]:
    new_tokens = 8 if quick else 16
    n_prompts = 4 if quick else 16
    repeats = 1 if quick else 2
    names = ("none", "+v", "-v", "v+vperp")
    all_prompts = list(eval_prompts(n_prompts))
    _, deltas = condition_deltas(vector.direction, n_prompts, ALPHA, names=names)  # the same draw for every n
    files = {}
    for i, name in enumerate(names[1:], start=1):
        v = SteeringVector.from_array(deltas[i * n_prompts], vector.provenance)
        files[name] = save_steering_vectors_file(tmp / f"cond{i}.safetensors", v)  # α·û as stored (alpha=None)
    rows, detail = [], {}
    for batch_size in (1, 16, 64):
        # batch 1 runs every row alone in every library (nothing to batch): a few prompts suffice
        n = min(n_prompts, 4) if batch_size == 1 else n_prompts
        prompts = all_prompts[:n]
        _, deltas = condition_deltas(vector.direction, n, ALPHA, names=names)
        row_prompts = [p for _ in names for p in prompts]
        log(f"peers: E1 conditions, batch {batch_size}")
        times = {k: [] for k in ("steerid", "steering-vectors", "repeng")}
        tokens = {}
        order = ["steerid", "steering-vectors", "repeng"]
        for r in range(repeats):
            for arm in order[r % 3:] + order[: r % 3]:  # order rotated each repeat
                if arm == "steerid":
                    seconds, tokens["steerid"] = _steerid_time(lm, row_prompts, deltas, new_tokens, batch_size)
                    times["steerid"].append(seconds)
                    continue
                total, toks = 0.0, []
                for name in names:
                    if name == "none":
                        seconds, part = _peer_time(lm, worker, "plain", prompts, new_tokens, batch_size)
                    else:
                        seconds, part = _peer_time(lm, worker, arm, prompts, new_tokens, batch_size, files[name])
                    total += seconds
                    toks.extend(part)
                times[arm].append(total)
                tokens[arm] = toks
        identical = {arm: sum(a == b for a, b in zip(tokens["steerid"], tokens[arm])) for arm in ("steering-vectors", "repeng")}
        detail[f"batch{batch_size}"] = {"rows": len(row_prompts), "times_s": times, "identical_rows": identical}
        for arm in ("steering-vectors", "repeng"):
            stats = summary([p / s for p, s in zip(times[arm], times["steerid"])])
            rows.append(ratio_row(
                NAME, f"E1 {n} prompts × 4 cond, batch {batch_size}: {arm} time / steerid time", stats,
                goal="≥ 1.5", met=stats["median"] >= 1.5,
                note=f"tokens identical {identical[arm]}/{len(row_prompts)}; peers: one condition per call"))
    return rows, detail


def run(quick: bool = False) -> dict:
    reason = unavailable_reason()
    if reason is not None:
        return {"rows": [Row(bench=NAME, metric="skipped", value=float("nan"), unit="", note=reason).to_dict()],
                "skipped": reason}
    lm = model()
    vector = trait_vector()
    worker = PeerWorker(lm.info.source)
    try:
        with tempfile.TemporaryDirectory(prefix="steerid-peers-") as folder:
            tmp = Path(folder)
            check = _check_model(lm, worker, tmp)
            theta = check["peer_info"].get("rope_theta_used")
            theta_ok = theta is not None and abs(theta - 100000.0) / 100000.0 < 1e-3
            rows = [Row(bench=NAME, metric="max |logit diff| transformers 4.57 vs 5.24, same weights", value=check["max_abs_logit_diff"],
                        unit="", goal=f"< {LOGIT_TOLERANCE:g}", met=check["max_abs_logit_diff"] < LOGIT_TOLERANCE and theta_ok,
                        note=f"rope θ used by the peer model {theta:.0f}; argmax equal: {check['argmax_equal']} "
                             f"over {check['positions_compared']} positions")]
            detail: dict = {"model_check": check}
            if not rows[0].met:
                detail["stopped"] = "models differ across environments; no comparison made"
                return {"rows": [r.to_dict() for r in rows], "detail": detail}
            alpha_vector = SteeringVector(direction=vector.direction, norm=ALPHA, provenance=vector.provenance)
            sv_file = save_steering_vectors_file(tmp / "v.safetensors", alpha_vector)
            gguf_file = export_gguf(tmp / "v.gguf", alpha_vector, model_hint=lm.info.family)
            layer = peer_layer(SITE)
            imported = worker.ask(op="check_gguf", path=str(gguf_file), layer=layer)
            gguf_diff = float(np.abs(np.asarray(imported["direction"]) - ALPHA * vector.direction).max())
            detail["repeng_import_gguf"] = {"layers": imported["layers"], "model_type": imported["model_type"],
                                            "max_abs_diff": gguf_diff}
            rows.append(Row(bench=NAME, metric="repeng.ControlVector.import_gguf(steerid export): max |Δ|", value=gguf_diff,
                            unit="", goal="< 1e-6", met=gguf_diff < 1e-6 and imported["layers"] == [layer],
                            note=f"layers {imported['layers']} (= in:{layer + 1}), model_type {imported['model_type']}"))
            r1, d1 = one_vector(lm, worker, vector, sv_file, quick)
            r2, d2 = e1_conditions(lm, worker, vector, tmp, quick)
            detail.update({"one_vector": d1, "e1_conditions": d2})
            return {"rows": [r.to_dict() for r in rows + r1 + r2], "detail": detail}
    finally:
        worker.close()


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2, default=str))
