"""The report's line per custom trait: where it was read from, what was derived, how it was scored."""

from __future__ import annotations

from typing import Any


def trait_lines(traits: dict[str, Any]) -> list[str]:
    """One line per custom trait (or custom scorer): where it came from, what was derived, how it was scored."""
    lines = []
    for name, record in sorted((traits or {}).items()):
        if record.get("builtin") and "scorer" not in record:
            continue
        if record.get("trait_free"):
            lines.append(f"no trait: the vector records none, so only trait-free experiments ran, on "
                         f"{record.get('source')}; pass --trait to run the others")
            continue
        parts = []
        if not record.get("builtin"):
            derived = record.get("derived") or {}
            parts.append(f"trait '{name}' read from {record.get('source')} (content hash "
                         f"{str(record.get('content_hash'))[:12]})")
            if derived.get("likelihood_items"):
                parts.append(f"likelihood items derived {derived['likelihood_items']}")
            if derived.get("eval_prompts"):
                parts.append(f"eval prompts derived {derived['eval_prompts']}")
        else:
            parts.append(f"trait '{name}' (built-in) scored with a chosen scorer")
        scorer = record.get("scorer")
        if scorer:
            how = "auto-trained on the trait's pairs" if scorer.get("kind") == "embedding_head_auto" else "given"
            acc = scorer.get("accuracy")
            acc_text = f"{acc:.2f}" if isinstance(acc, (int, float)) else "—"
            where = "CV accuracy" if scorer.get("split") == "cross-validation" else "accuracy on the trait's pairs"
            parts.append(f"scorer {scorer.get('name')} {how}, {where} {acc_text} (target {scorer.get('target')}"
                         f"{'' if scorer.get('meets_target') else ', below target'})")
        elif "scorer" in record:
            parts.append("no experiment scored text, so no scorer was built")
        lines.append("; ".join(parts))
    return lines
