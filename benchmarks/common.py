"""Shared set-up for the main-environment benchmarks: model, prompts, vector, result rows."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from steerid.models import LoadedModel, Site, load_model  # noqa: E402

def _threads() -> int:
    """Torch threads: ``STEERID_BENCH_THREADS``, else 2 (the machine's cores) — or 1 when the machine
    is already oversubscribed (load average > cores): there, OpenMP threads spin-wait for each
    other and a 2-thread generate measured 5× slower than a 1-thread one."""
    cores = max(1, min(2, os.cpu_count() or 1))
    forced = os.environ.get("STEERID_BENCH_THREADS")
    if forced:
        return max(1, int(forced))
    return 1 if os.getloadavg()[0] > (os.cpu_count() or 1) else cores


THREADS = _threads()
torch.set_num_threads(THREADS)

MODEL = "smollm2-135m"
LAYER = 15
SITE = Site(LAYER, "in")
"""The study's layer 15 = residual stream entering block 15 (= the peers' layer 14)."""
ALPHA = 8.0
"""Absolute strength ≈ 5 % of a typical token norm at in:15 (see DESIGN, measured facts)."""
TRAIT = "sentiment"


@dataclass
class Row:
    """One reported figure: a ratio against a same-run baseline, or a plain measurement."""

    bench: str
    metric: str
    value: float
    unit: str = "×"
    spread: dict[str, float] = field(default_factory=dict)
    goal: str = ""
    met: bool | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ratio_row(bench: str, metric: str, stats: dict[str, float], *, goal: str = "", met: bool | None = None,
              note: str = "", unit: str = "×") -> Row:
    return Row(bench=bench, metric=metric, value=float(stats["median"]), unit=unit,
               spread={k: float(stats[k]) for k in ("min", "max", "iqr", "n") if k in stats}, goal=goal, met=met,
               note=note)


def model(dtype: str = "float32", spec: str = MODEL) -> LoadedModel:
    """The loaded model, one instance per (spec, dtype) for the whole run."""
    return _model(spec, dtype)


@functools.lru_cache(maxsize=4)
def _model(spec: str, dtype: str) -> LoadedModel:
    return load_model(spec, dtype=dtype)


@functools.lru_cache(maxsize=4)
def eval_prompts(n: int, spec: str = MODEL) -> tuple[str, ...]:
    """``n`` neutral evaluation prompts of the trait, chat-formatted for the model."""
    from steerid.traits.formatting import format_chat
    from steerid.traits.loader import load_trait

    lm = model(spec=spec)
    items = load_trait(TRAIT).eval
    if n > len(items):
        raise ValueError(f"only {len(items)} evaluation prompts, asked for {n}")
    return tuple(format_chat(lm.tokenizer, item.prompt) for item in items[:n])


@functools.lru_cache(maxsize=2)
def trait_vector(spec: str = MODEL, layer: int = LAYER):
    """Mean-difference sentiment vector from 10 pairs at ``in:layer`` (as in the study)."""
    from steerid.extract.pipeline import extract_vector
    from steerid.traits.loader import load_trait

    lm = model(spec=spec)
    pairs = load_trait(TRAIT).pairs[:10]
    return extract_vector(lm, pairs, Site(layer, "in"), method="mean_diff", trait=TRAIT)


def condition_deltas(direction: np.ndarray, n_prompts: int, alpha: float = ALPHA, seed: int = 0,
                     names: Sequence[str] = ("none", "+v", "-v", "v+vperp")) -> tuple[list[str], np.ndarray]:
    """E1-style condition labels and per-row displacements, condition-major (c0 × n, c1 × n, …)."""
    from steerid.experiments.directions import orthogonal_perturbation

    rng = np.random.default_rng(seed)
    unit = direction / np.linalg.norm(direction)
    table = {
        "none": np.zeros_like(unit),
        "+v": alpha * unit,
        "-v": -alpha * unit,
        "v+vperp": alpha * unit + orthogonal_perturbation(alpha * unit, 1.0, rng),
        "vperp": orthogonal_perturbation(alpha * unit, 1.0, rng),
    }
    labels = [name for name in names for _ in range(n_prompts)]
    deltas = np.stack([table[name] for name in names for _ in range(n_prompts)])
    return labels, deltas


def generated_tokens(tokens: Sequence[Sequence[int]]) -> int:
    return sum(len(t) for t in tokens)
