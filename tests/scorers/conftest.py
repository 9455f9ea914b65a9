"""Fixtures for scorer tests: one shared embedding model per session, offline."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest

from steerid.scorers.base import CARDS_DIR, HEADS_DIR


@pytest.fixture(scope="session")
def backend():
    """The packaged MiniLM, loaded once for the whole session."""
    from steerid.scorers.embedding import get_backend

    return get_backend()


def shipped_heads() -> list[str]:
    """Traits with a head file in the package."""
    return sorted(p.stem for p in HEADS_DIR.glob("*.json"))


def shipped_cards() -> list[str]:
    """Scorer names with a card in the package."""
    return sorted(p.stem for p in CARDS_DIR.glob("*.json"))
