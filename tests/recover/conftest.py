"""Shared set-up for the recovery tests."""

from __future__ import annotations

import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _single_thread():
    """Run BLAS and torch single-threaded: the many small eigen-decompositions, lasso fits and
    tiny-model forwards here slow down by 10–40× when two threads compete for the two shared
    cores with other processes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(threads)
