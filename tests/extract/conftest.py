"""Shared set-up for the extraction tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """Every extraction test runs single-threaded (see ``one_thread`` in ``tests/conftest.py``):
    the probe's many small L-BFGS fits slow down by up to 4× when OpenBLAS threads compete."""
