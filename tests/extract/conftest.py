"""Shared set-up for the extraction tests."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _single_blas_thread():
    """Run BLAS single-threaded: the probe's many small L-BFGS fits slow down by up to 4× when
    OpenBLAS threads compete for the two shared cores."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield
