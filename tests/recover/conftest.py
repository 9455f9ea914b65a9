"""Shared set-up for the recovery tests."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _single_blas_thread():
    """Run BLAS single-threaded: the many small eigen-decompositions and lasso fits here slow
    down by up to 40× when OpenBLAS threads compete for the two shared cores."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield
