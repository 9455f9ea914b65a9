"""Worker that runs steering-vectors 0.12.2 and repeng 0.4.0 in their own environment.

Started by :mod:`benchmarks.bench_peers` as ``benchmarks/.venv-peers/bin/python -m
benchmarks.peer_worker MODEL_DIR`` (transformers < 5, numpy < 2; steerid is *not* importable
here). It loads the very safetensors directory steerid converted (``lm.info.source``) and then
answers one JSON request per stdin line with one JSON reply per stdout line, so the caller can
interleave its own timed arms with ours. Tensors travel as safetensors files, never pickles.

Requests (``op``):
- ``info``: versions, the rope θ the loaded model actually uses, dtype;
- ``logits``: ``{ids, mask, out}`` → writes ``logits`` (B, S, V) float32 to ``out``;
- ``generate``: ``{arm, ids, mask, max_new_tokens, eos, pad, vector_file?, layer?, coeff?}`` with
  ``arm`` in ``plain`` / ``steering-vectors`` / ``repeng``; the vector file is a steerid
  steering-vectors export (``layer.{L}`` tensors) — returns the continuation token ids (cut at
  EOS) and the wall seconds of the generate call alone;
- ``check_gguf``: ``{path, layer}`` → repeng ``ControlVector.import_gguf`` of a steerid export;
- ``quit``.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402


def _reply(channel, payload: dict) -> None:
    channel.write(json.dumps(payload) + "\n")
    channel.flush()


class Worker:
    def __init__(self, model_dir: str, threads: int) -> None:
        from transformers import AutoModelForCausalLM

        torch.set_num_threads(threads)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
        self.model_dir = model_dir

    def info(self, _request: dict) -> dict:
        import numpy
        import repeng  # noqa: F401
        import steering_vectors  # noqa: F401
        import transformers
        from importlib.metadata import version

        rotary = getattr(self.model.model, "rotary_emb", None)
        inv_freq = getattr(rotary, "inv_freq", None)
        # θ recovered from the rotary frequencies actually in use: inv_freq[1] = θ^(−2/head_dim)
        head_dim = self.model.config.hidden_size // self.model.config.num_attention_heads
        theta_used = float(inv_freq[1].double() ** (-head_dim / 2.0)) if inv_freq is not None else None
        return {
            "transformers": transformers.__version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "steering_vectors": version("steering-vectors"), "repeng": version("repeng"),
            "config_rope_theta": getattr(self.model.config, "rope_theta", None), "rope_theta_used": theta_used,
            "dtype": str(self.model.dtype), "n_layers": self.model.config.num_hidden_layers,
        }

    def logits(self, request: dict) -> dict:
        from safetensors.torch import save_file

        ids = torch.tensor(request["ids"], dtype=torch.long)
        mask = torch.tensor(request["mask"], dtype=torch.long)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            logits = self.model(input_ids=ids, attention_mask=mask, position_ids=position_ids, use_cache=False).logits
        save_file({"logits": logits.float().contiguous()}, request["out"])
        return {"shape": list(logits.shape)}

    def _vector(self, request: dict) -> tuple[int, torch.Tensor]:
        from safetensors import safe_open

        with safe_open(request["vector_file"], "pt") as handle:
            names = list(handle.keys())
            if len(names) != 1:
                raise ValueError(f"expected one layer in {request['vector_file']}, got {names}")
            layer = int(names[0].split(".")[1])
            return layer, handle.get_tensor(names[0])

    def generate(self, request: dict) -> dict:
        arm = request["arm"]
        ids = torch.tensor(request["ids"], dtype=torch.long)
        mask = torch.tensor(request["mask"], dtype=torch.long)
        eos = request["eos"]
        kwargs = dict(input_ids=ids, attention_mask=mask, max_new_tokens=request["max_new_tokens"], do_sample=False,
                      num_beams=1, pad_token_id=request["pad"], eos_token_id=eos)
        if arm == "plain":
            start = time.perf_counter()
            with torch.inference_mode():
                out = self.model.generate(**kwargs)
            seconds = time.perf_counter() - start
        elif arm == "steering-vectors":
            from steering_vectors import SteeringVector

            layer, vec = self._vector(request)
            sv = SteeringVector({layer: vec}, "decoder_block")
            start = time.perf_counter()
            with sv.apply(self.model, multiplier=float(request.get("coeff", 1.0))), torch.inference_mode():
                out = self.model.generate(**kwargs)
            seconds = time.perf_counter() - start
        elif arm == "repeng":
            from repeng import ControlModel, ControlVector

            layer, vec = self._vector(request)
            control = ControlVector(self.model.config.model_type, {layer: vec.numpy()})
            wrapped = ControlModel(self.model, [layer])
            try:
                start = time.perf_counter()
                wrapped.set_control(control, coeff=float(request.get("coeff", 1.0)))
                with torch.inference_mode():
                    out = wrapped.generate(**kwargs)
                seconds = time.perf_counter() - start
            finally:
                wrapped.reset()
                wrapped.unwrap()
        else:
            raise ValueError(f"unknown arm {arm}")
        tokens = []
        for row in out[:, ids.shape[1]:].tolist():
            cut = next((i for i, t in enumerate(row) if t in eos), len(row))
            tokens.append(row[:cut])
        return {"seconds": seconds, "tokens": tokens}

    def check_gguf(self, request: dict) -> dict:
        from repeng import ControlVector

        vector = ControlVector.import_gguf(request["path"])
        layer = int(request["layer"])
        return {"model_type": vector.model_type, "layers": sorted(int(k) for k in vector.directions),
                "direction": [float(x) for x in vector.directions[layer]]}


def main() -> int:
    model_dir = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    channel = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints goes to stderr, never into the reply stream
    try:
        worker = Worker(model_dir, threads)
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        _reply(channel, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    _reply(channel, {"ok": True, "ready": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        op = request.get("op")
        if op == "quit":
            _reply(channel, {"ok": True})
            return 0
        handler = getattr(worker, op, None) if op in {"info", "logits", "generate", "check_gguf"} else None
        if handler is None:
            _reply(channel, {"ok": False, "error": f"unknown op {op!r}"})
            continue
        try:
            _reply(channel, {"ok": True, **handler(request)})
        except (ValueError, RuntimeError, KeyError, OSError, ImportError, TypeError, IndexError) as exc:
            _reply(channel, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
