"""Helpers shared by the scorer tests (what the package ships)."""

from __future__ import annotations

from steerid.scorers.base import CARDS_DIR, HEADS_DIR


def shipped_heads() -> list[str]:
    """Traits with a head file in the package."""
    return sorted(p.stem for p in HEADS_DIR.glob("*.json"))


def shipped_cards() -> list[str]:
    """Scorer names with a card in the package."""
    return sorted(p.stem for p in CARDS_DIR.glob("*.json"))
