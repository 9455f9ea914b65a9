"""What a run records about its traits: provenance (source, content hash, what was derived) and custom scorers' cards.

``results.json["traits"][name]`` holds, for every audited trait, ``builtin``, ``source`` and
``content_hash``; for a trait directory also :meth:`steerid.traits.schema.Trait.provenance`
(``derived``, ``seed``, ``held_out_ids``, ``counts``) and ``scorer``: the name, kind and
validation facts of the scorer that measured it (an auto-trained head's cross-validated accuracy
or a user ``hf:`` classifier's accuracy on the trait's pairs), or ``None`` when no experiment of
the run scores text. :func:`steerid.report.context.trait_lines` turns a record into the one line
the report shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from steerid.audit.config import AuditConfig
from steerid.audit.custom_traits import NO_TRAIT, trait_source

SCORING_EXPERIMENTS = ("e1", "e5", "e7")
"""Experiments that score generated text with the trait scorer (``likelihood``, ``e4``, ``e6`` do not)."""


def card_entry(name: str, card: dict[str, Any] | None) -> dict[str, Any]:
    """A scorer's validation card as a row of ``results.json["scorers"]`` (``validated: False`` without a card)."""
    if card is None:
        return {"name": name, "validated": False, "accuracy": None, "target": None, "meets_target": False}
    metrics = card.get("metrics", {}) or {}
    target = card.get("target", {}) or {}
    return {
        "name": name, "trait": card.get("trait"), "validated": True,
        "accuracy": metrics.get("accuracy"), "n_test": metrics.get("n"),
        "target": target.get("value") if isinstance(target, dict) else target,
        "meets_target": bool(card.get("meets_target", False)),
        "undecided_rate": metrics.get("undecided_rate"),
        "higher_means": card.get("higher_means"),
    }


def _uses_scorer(config: AuditConfig) -> bool:
    wanted = set(config.experiments) & set(SCORING_EXPERIMENTS)
    return bool(wanted - {"e7"}) or ("e7" in wanted and config.e7.score)


def trait_records(config: AuditConfig, run_dir: Path | None) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``(traits record, {trait: scorer card})`` of a resolved config; cards only for non-built-in scorers.

    A custom scorer is rebuilt with :func:`steerid.traits.scorer_for_trait` from ``RUN/scorers/``
    (where the units left it; rebuilt the same way if missing). Deterministic: no times or run paths.
    """
    from steerid.traits import is_builtin, resolve_trait, scorer_for_trait

    records: dict[str, Any] = {}
    cards: dict[str, dict[str, Any]] = {}
    for name in config.traits if isinstance(config.traits, list) else []:
        trait = resolve_trait(trait_source(config, name), seed=config.seed)
        if name == NO_TRAIT and trait.name != NO_TRAIT:  # trait-free identify: prompts only, nothing scored
            records[name] = {"builtin": False, "trait_free": True, "content_hash": trait.content_hash, "derived": {},
                             "source": f"the evaluation prompts of the built-in {trait.name} trait"}
            continue
        builtin = is_builtin(trait)
        record: dict[str, Any] = {"builtin": builtin, "source": trait.source if not builtin else name,
                                  "content_hash": trait.content_hash}
        custom_scorer = not builtin or config.scorer is not None
        if not builtin:
            record.update(trait.provenance())
        if custom_scorer:
            record["scorer"] = None
            if _uses_scorer(config) and run_dir is not None:
                scorer = scorer_for_trait(trait, config.scorer, config.label_map, cache_dir=Path(run_dir) / "scorers",
                                          seed=config.seed)
                card = scorer.card()
                cards[name] = {**(card or {}), "name": scorer.name}
                entry = card_entry(scorer.name, card)
                target = (card or {}).get("target")
                record["scorer"] = {**{k: entry.get(k) for k in ("name", "accuracy", "n_test", "target", "meets_target")},
                                    "kind": (card or {}).get("kind"),
                                    "split": target.get("split") if isinstance(target, dict) else None}
        records[name] = record
    return records, cards
