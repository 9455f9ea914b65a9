"""One loader for every model spec steerid accepts.

Specs:
    ``smollm2-135m`` (default) / ``gemma3-270m``: packaged GGUF, cached as safetensors;
    ``tiny:<family>``: random tiny model for tests (see :mod:`steerid.models.tiny`);
    a local directory in Hugging Face format;
    a hub id (``org/name``): loaded from the local HF cache or the hub when reachable.

Device and dtype: ``device="auto"`` is CUDA when ``torch.cuda.is_available()``, else the CPU;
``dtype="auto"`` is bfloat16 on CUDA and float32 on the CPU (steerid's CPU default: bf16 matmuls
on CPUs without native bf16 are slower and less precise). Both resolved values are recorded in
:class:`~steerid.models.info.ModelInfo` (``device``, ``dtype``) and from there in provenance.
An already loaded Hugging Face model and tokenizer become a :class:`LoadedModel` with
:func:`wrap_model`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from pickle import UnpicklingError  # exception type only: what a refused weights_only torch.load raises
from urllib.parse import urlsplit

import torch
from safetensors import SafetensorError
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from steerid.errors import ModelError
from steerid.models.families import find_blocks
from steerid.models.info import ModelInfo
from steerid.models.packaged import PACKAGED, ensure_cached, packaged_key
from steerid.models.tiny import TINY_CONFIGS, tiny_model

DEFAULT_MODEL = "smollm2-135m"
DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16}
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class LoadedModel:
    """A model ready for steerid: the HF model, its tokenizer, its blocks and a description."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    info: ModelInfo
    blocks: nn.ModuleList

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def parse_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ModelError(f"unknown dtype '{dtype}'", "use float32 or bfloat16")
    return DTYPES[dtype]


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """``auto`` → ``cuda`` when CUDA is available, else ``cpu``; ``cuda`` without CUDA is a ModelError."""
    if isinstance(device, torch.device):
        return device
    name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ModelError(f"--device {name} was asked for but CUDA is not available on this machine",
                             "use --device auto (CUDA when available) or --device cpu")
        try:
            resolved = torch.device(name)
        except RuntimeError as exc:
            raise ModelError(f"invalid device '{device}'", "use --device cuda or cuda:<index>") from exc
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ModelError(f"there is no CUDA device {resolved.index} (this machine has {torch.cuda.device_count()})",
                             "use --device cuda")
        return resolved
    raise ModelError(f"unknown device '{device}'", "use --device auto, cpu or cuda")


def resolve_dtype(dtype: str | torch.dtype, device: str | torch.device = "cpu") -> torch.dtype:
    """``auto`` → bfloat16 on CUDA, float32 on the CPU; anything else as :func:`parse_dtype`."""
    if isinstance(dtype, str) and dtype.strip().lower() == "auto":
        return torch.bfloat16 if resolve_device(device).type == "cuda" else torch.float32
    return parse_dtype(dtype)


def state_dict_hash(model: nn.Module) -> str:
    """SHA-256 over parameter names and bytes (deterministic fingerprint of in-memory weights)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def directory_fingerprint(folder: Path) -> str:
    """SHA-256 over weight file names, sizes and their first and last MiB (cheap for large models)."""
    digest = hashlib.sha256()
    files = sorted(p for p in folder.iterdir() if p.suffix in {".safetensors", ".bin", ".json"})
    for path in files:
        size = path.stat().st_size
        digest.update(f"{path.name}:{size}".encode())
        with open(path, "rb") as handle:
            digest.update(handle.read(1 << 20))
            if size > 2 << 20:
                handle.seek(-(1 << 20), os.SEEK_END)
                digest.update(handle.read())
    return digest.hexdigest()


@contextmanager
def quiet_loading() -> Iterator[None]:
    """No "Loading weights" progress bars from transformers while inside (restored afterwards).

    In a notebook those bars are widgets (or, without ipywidgets, a ``TqdmWarning``) under every
    cell that loads a model or a scorer; steerid's own messages say what is being loaded.
    """
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def _from_dir(source: str, dtype: torch.dtype, trust_remote_code: bool, local_only: bool):
    try:
        with quiet_loading():
            return _load_pretrained(source, dtype, trust_remote_code, local_only)
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError, UnpicklingError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"could not load model from '{source}': {first[:200]}",
            "check the path holds a complete Hugging Face checkpoint (config.json, safetensors, tokenizer)",
        ) from exc


def _load_pretrained(source: str, dtype: torch.dtype, trust_remote_code: bool, local_only: bool):
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code, local_files_only=local_only)
    model = AutoModelForCausalLM.from_pretrained(
        source, dtype=dtype, trust_remote_code=trust_remote_code, local_files_only=local_only
    )
    return model, tokenizer


HUB_CONNECT_TIMEOUT = 3.0
"""Seconds to wait for a TCP connection to the hub before calling it unreachable."""
_TRUE = ("1", "on", "yes", "true")


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` is set to a true value (the hub's own offline switch)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def hub_reachable(timeout: float = HUB_CONNECT_TIMEOUT) -> bool:
    """Whether a TCP connection to the hub endpoint (``HF_ENDPOINT``, default huggingface.co) opens in ``timeout`` s."""
    url = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:  # DNS failure, refused, unreachable network or timeout: all mean "no hub"
        return False


def _from_hub(spec: str, dtype: torch.dtype, trust_remote_code: bool):
    """A hub model: from the local HF cache when it is there, else downloaded — failing within
    seconds and in one line (not after minutes of retry warnings) when the hub cannot be reached."""
    fix = "download it where the hub is reachable (it is then cached), or pass a local model directory"
    try:
        return _from_dir(spec, dtype, trust_remote_code, True)
    except ModelError as cached_error:
        if hub_offline():
            raise ModelError(f"hub model '{spec}' is not in the local cache and HF_HUB_OFFLINE is set", fix) from cached_error
    if not hub_reachable():
        raise ModelError(f"hub model '{spec}' is not in the local cache and the hub is unreachable "
                         f"(no connection in {HUB_CONNECT_TIMEOUT:g} s)", fix)
    hub_log = logging.getLogger("huggingface_hub")
    level = hub_log.level
    hub_log.setLevel(logging.ERROR)  # no retry warnings: the error below says it once
    try:
        return _from_dir(spec, dtype, trust_remote_code, False)
    except ModelError as exc:
        raise ModelError(f"hub model '{spec}' could not be downloaded: {exc.problem.split(': ', 1)[-1]}", fix) from exc
    finally:
        hub_log.setLevel(level)


def _describe(spec: str, name: str, model: PreTrainedModel, tokenizer, weights_hash: str, source: str,
              device: torch.device) -> ModelInfo:
    config = model.config
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    return ModelInfo(
        spec=spec,
        name=name,
        family=config.model_type,
        n_layers=int(text_config.num_hidden_layers),
        hidden_size=int(text_config.hidden_size),
        has_chat_template=bool(getattr(tokenizer, "chat_template", None)),
        weights_hash=weights_hash,
        dtype=str(model.dtype).removeprefix("torch."),
        source=source,
        max_positions=getattr(text_config, "max_position_embeddings", None),
        device=str(device),
    )


def load_model(spec: str = DEFAULT_MODEL, *, dtype: str | torch.dtype = "float32",
               trust_remote_code: bool = False, seed: int = 0, device: str | torch.device = "cpu") -> LoadedModel:
    """Load ``spec`` (see module docstring) in evaluation mode on ``device``.

    Args:
        spec: model spec.
        dtype: ``float32`` (default), ``bfloat16``, ``float16`` or ``auto`` (bf16 on CUDA, fp32 on the CPU).
        trust_remote_code: only when the user asks for it; never on by default.
        seed: initialisation seed for ``tiny:`` models.
        device: ``cpu`` (default), ``cuda`` or ``auto`` (CUDA when available).

    Raises:
        ModelError: unknown spec, missing package, corrupt checkpoint, hub unreachable, no CUDA.
    """
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    spec = spec.strip()
    if not spec:
        raise ModelError("empty model name", f"pass a model such as {DEFAULT_MODEL}")
    if spec.startswith("tiny:"):
        model, tokenizer = tiny_model(spec.removeprefix("tiny:"), seed=seed)
        model = model.to(torch_dtype)
        name, source, weights_hash = spec, "random-init", state_dict_hash(model)
    elif (key := packaged_key(spec)) is not None:
        folder, weights_hash, name = ensure_cached(key)
        model, tokenizer = _from_dir(str(folder), torch_dtype, False, True)
        spec, source = key, str(folder)
    elif Path(spec).expanduser().exists():
        folder = Path(spec).expanduser()
        if not (folder / "config.json").is_file():
            raise ModelError(f"'{spec}' has no config.json", "point to a Hugging Face model directory")
        model, tokenizer = _from_dir(str(folder), torch_dtype, trust_remote_code, True)
        name, source, weights_hash = folder.name, str(folder.resolve()), directory_fingerprint(folder)
    elif spec.count("/") == 1 and not spec.startswith((".", "/", "~")):
        model, tokenizer = _from_hub(spec, torch_dtype, trust_remote_code)
        name, source = spec, f"hub:{spec}"
        weights_hash = state_dict_hash(model)
    elif spec.startswith((".", "/", "~")) or spec.count("/") > 1 or os.sep in spec.replace("/", ""):
        raise ModelError(f"model directory '{spec}' does not exist",
                         "check the path, or name a packaged model such as " + DEFAULT_MODEL)
    else:
        known = ", ".join([*PACKAGED, *("tiny:" + f for f in TINY_CONFIGS)])
        raise ModelError(f"unknown model '{spec}'", f"use one of {known}, a local model directory or a hub id org/name")
    return _ready(spec, name, model.to(torch_device), tokenizer, weights_hash, source)


def _ready(spec: str, name: str, model: PreTrainedModel, tokenizer, weights_hash: str, source: str) -> LoadedModel:
    """Evaluation mode, a pad token, left padding; describe the model and find its blocks."""
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    info = _describe(spec, name, model, tokenizer, weights_hash, source, device)
    blocks = find_blocks(model, info.family, info.n_layers)
    return LoadedModel(model=model, tokenizer=tokenizer, info=info, blocks=blocks)


def wrap_model(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, *, spec: str | None = None) -> LoadedModel:
    """A :class:`LoadedModel` around an already loaded Hugging Face causal LM and its tokenizer.

    The model stays on its device and dtype; it is put in evaluation mode, and the tokenizer gets a
    pad token (its EOS token) when it has none and left padding — both changed in place, as
    :func:`load_model` does. ``spec`` (default ``hf:<name_or_path>``) names the model in results;
    the weights hash is computed from the in-memory weights (so two different models never share
    unit ids or vectors).
    """
    if not isinstance(model, nn.Module) or not hasattr(model, "config"):
        raise ModelError(f"expected a Hugging Face model, got {type(model).__name__}",
                         "pass a model spec string, or (model, tokenizer) from transformers' from_pretrained")
    if not callable(getattr(tokenizer, "__call__", None)) or not hasattr(tokenizer, "pad_token"):
        raise ModelError(f"expected a Hugging Face tokenizer, got {type(tokenizer).__name__}",
                         "pass the tokenizer from AutoTokenizer.from_pretrained beside the model")
    name = str(getattr(model.config, "name_or_path", "") or model.config.model_type)
    spec = spec or f"hf:{name}"
    return _ready(spec, Path(name).name or name, model, tokenizer, state_dict_hash(model), "in-memory")
