"""Fixtures for scorer tests: one shared embedding model per session, offline."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest


@pytest.fixture(scope="session")
def backend():
    """The packaged MiniLM, loaded once for the whole session."""
    from steerid.scorers.embedding import get_backend

    return get_backend()
