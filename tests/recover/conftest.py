"""Shared set-up for the recovery tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """Every recovery test runs single-threaded (see ``one_thread`` in ``tests/conftest.py``):
    the many small eigen-decompositions, lasso fits and tiny-model forwards slow down by
    10–40× when two threads compete for the two shared cores with other processes."""
