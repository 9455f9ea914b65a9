"""Run the planted-direction benchmark: synthetic worlds, then the tiny transformer."""

from __future__ import annotations

import time

import torch
from threadpoolctl import threadpool_limits

from steerid.errors import ConfigError
from steerid.models.loader import LoadedModel
from steerid.recover.benchmark.config import CONFIGS, Size
from steerid.recover.benchmark.result import BenchmarkResult
from steerid.recover.benchmark.synthetic import _synthetic_rows
from steerid.recover.benchmark.tiny import _tiny_rows
from steerid.validation import check_seed


def run_benchmark(size: Size = "small", seed: int = 0, *, lm: LoadedModel | None = None) -> BenchmarkResult:
    """Run the planted-direction benchmark.

    Args:
        size: ``"small"`` (CI, under a minute on two cores) or ``"full"``.
        seed: Base seed; every world and draw derives from it.
        lm: An already loaded ``tiny:llama`` to reuse (loaded when None).

    Returns:
        :class:`BenchmarkResult`; ``table()`` renders it, ``headline()`` says per constraint
        whether the constrained estimate ignored v⊥ while the mean difference drifted.

    Raises:
        ConfigError: Unknown size.
        DataError: Invalid seed.

    Example:
        >>> result = run_benchmark("small")  # doctest: +SKIP
        >>> print(result.table())  # doctest: +SKIP
    """
    if size not in CONFIGS:
        raise ConfigError(f"unknown benchmark size {size!r}", f"use one of: {', '.join(CONFIGS)}")
    seed = check_seed(seed)
    cfg = CONFIGS[size]
    start = time.perf_counter()
    # Small matrices and a tiny model: extra BLAS / torch threads only add contention (10–40×
    # slower on two shared cores), so both run single-threaded here and torch's setting is restored.
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            rows = _synthetic_rows(cfg, seed)
            tiny, behaviour = _tiny_rows(cfg, seed, lm)
    finally:
        torch.set_num_threads(torch_threads)
    rows.extend(tiny)
    return BenchmarkResult(size=size, seed=seed, seconds=time.perf_counter() - start, rows=rows, behaviour=behaviour)
