"""The README's scorer figures are the cards' independent-validation figures (no drift)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CARDS = ROOT / "src" / "steerid" / "scorers" / "cards"
NAMES = {"sentiment head": "sentiment", "formality": "formality", "politeness": "politeness",
         "truthfulness answer judge": "truthfulness_answer", "agreeableness": "agreeableness",
         "VADER": "sentiment_vader"}


def scorer_bullet() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("* **Scorers**")
    end = text.index("\n\n", start)
    return " ".join(text[start:end].split())


@pytest.mark.parametrize("label", sorted(NAMES))
def test_readme_accuracy_and_auc_match_the_card(label: str) -> None:
    card = json.loads((CARDS / f"{NAMES[label]}.json").read_text(encoding="utf-8"))
    match = re.search(rf"{re.escape(label)} (\d\.\d+) / (\d\.\d+)", scorer_bullet())
    assert match, f"{label} missing from the README's scorer bullet"
    accuracy, auc = map(float, match.groups())
    assert accuracy == pytest.approx(card["metrics"]["accuracy"], abs=5e-4)
    assert auc == pytest.approx(card["metrics"]["roc_auc"], abs=5e-4)
    below = f"{label} {match.group(1)} / {match.group(2)} (target {card['target']['value']:g})"
    assert (below in scorer_bullet()) == (not card["meets_target"]), "a scorer below its target must say so with it"
