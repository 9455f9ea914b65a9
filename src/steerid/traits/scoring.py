"""The scorer that measures a trait — built-in, a user's classifier, or one trained on its pairs.

:func:`scorer_for_trait` picks, in this order:

1. ``scorer_spec`` given: ``"hf:PATH"`` — a local Hugging Face text-classification model
   (:class:`~steerid.scorers.hf_pipeline.HFPipelineScorer`) with ``label_map`` saying which of
   its labels is the trait's positive pole (``"pos=LABEL_1,neg=LABEL_0"``, :func:`parse_label_map`)
   — or the name of a registered scorer (``"sentiment_vader"``);
2. a built-in trait with its packaged content: its primary registered scorer;
3. otherwise an embedding head trained on the trait's own pair texts (:func:`train_trait_head`).

Trained head (custom traits): see :mod:`steerid.traits.trait_head`. A classifier given with
``hf:`` gets a card too, measured on the trait's pair texts (not an independent set either);
accuracy below 0.5 there usually means the label map is reversed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from steerid.errors import ScorerError
from steerid.io import atomic_write_json
from steerid.traits.schema import Trait, normalize_text
from steerid.traits.trait_head import (AUTO_TARGET_ACCURACY, MIN_TRAIN_PAIRS, N_FOLDS, TRAINER, card_metrics,
                                       default_cache_dir, pair_texts, train_trait_head)

HF_PREFIX = "hf:"
HF_TARGET_ACCURACY = 0.85
"""Accuracy on the trait's pairs a user classifier must reach for ``meets_target``."""
_POS_SIDES = ("pos", "positive", "1")
_NEG_SIDES = ("neg", "negative", "0")
_MAP_FIX = "write --label-map pos=LABEL,neg=LABEL with the model's label names (e.g. pos=LABEL_1,neg=LABEL_0)"


def parse_scorer_spec(spec: str) -> tuple[str, str]:
    """Split a ``--scorer`` value into ``("hf", path)`` or ``("name", registered scorer name)``.

    Raises:
        ScorerError: empty spec, ``hf:`` without a path, or an unknown scorer name.
    """
    from steerid.scorers.registry import list_scorers

    text = str(spec).strip()
    if not text:
        raise ScorerError("--scorer is empty", f"give hf:PATH or one of: {', '.join(list_scorers())}")
    if text.lower().startswith(HF_PREFIX):
        path = text[len(HF_PREFIX):].strip()
        if not path:
            raise ScorerError("--scorer hf: names no directory", "write --scorer hf:PATH/TO/MODEL_DIR")
        return "hf", path
    if text not in list_scorers():
        raise ScorerError(
            f"unknown scorer '{text}'", f"give hf:PATH (a local classifier) or one of: {', '.join(list_scorers())}"
        )
    return "name", text


def parse_label_map(label_map: str | Mapping[str, int] | None) -> dict[str, int]:
    """Read ``"pos=LABEL_1,neg=LABEL_0"`` (or a ``{label: 1 | 0}`` mapping) into ``{label: 1 | 0}``.

    Sides are ``pos``/``positive``/``1`` and ``neg``/``negative``/``0``; a side may repeat to map
    several labels (``pos=joy,pos=love,neg=anger``). Whether the labels exist is checked against
    the model (:func:`build_hf_scorer`).

    Raises:
        ScorerError: missing map, an entry without ``=``, an unknown side, an empty or repeated label.
    """
    if label_map is None:
        raise ScorerError("an hf: scorer needs a label map", _MAP_FIX)
    if isinstance(label_map, Mapping):
        return {str(k): v for k, v in label_map.items()}
    out: dict[str, int] = {}
    entries = [part.strip() for part in str(label_map).split(",") if part.strip()]
    if not entries:
        raise ScorerError("--label-map is empty", _MAP_FIX)
    for entry in entries:
        side, sep, label = (part.strip() for part in entry.partition("="))
        if not sep or not label:
            raise ScorerError(f"--label-map entry '{entry}' is not SIDE=LABEL", _MAP_FIX)
        if side.lower() not in _POS_SIDES + _NEG_SIDES:
            raise ScorerError(f"--label-map side '{side}' is neither pos nor neg", _MAP_FIX)
        if label in out:
            raise ScorerError(f"--label-map names label '{label}' twice", "map each label once")
        out[label] = 1 if side.lower() in _POS_SIDES else 0
    return out


def scorer_for_trait(
    trait: Trait,
    scorer_spec: str | None = None,
    label_map: str | Mapping[str, int] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    backend: Any = None,
    device: str = "cpu",
) -> Any:
    """The scorer for ``trait`` (see the module docstring for the order of preference).

    Args:
        trait: From :func:`~steerid.traits.loader.resolve_trait`.
        scorer_spec: ``"hf:PATH"`` or a registered scorer name; ``None`` chooses automatically.
        label_map: For ``hf:`` only: ``"pos=LABEL,neg=LABEL"`` or ``{label: 1 | 0}``.
        cache_dir: Where trained heads and cards go (a run directory, or
            :func:`default_cache_dir` when ``None``).
        seed: Training seed of an auto-trained head.
        backend: Embedding backend for an auto-trained head (the shared MiniLM by default).
        device: Torch device of an ``hf:`` classifier.

    Returns:
        A :class:`~steerid.scorers.base.Scorer`; ``card()`` gives its validation card
        (``meets_target`` etc.).

    Raises:
        ScorerError: bad spec or label map, missing or unusable classifier, too few pairs.
    """
    from steerid.scorers.registry import get_scorer, scorers_for_trait
    from steerid.traits.loader import is_builtin

    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if scorer_spec is not None:
        kind, value = parse_scorer_spec(scorer_spec)
        if kind == "hf":
            return build_hf_scorer(value, label_map, trait, cache_dir=cache, device=device)
        if label_map is not None:
            raise ScorerError(f"--label-map applies to hf: scorers, not '{value}'", "drop --label-map")
        return get_scorer(value)
    if label_map is not None:
        raise ScorerError("--label-map given without --scorer hf:PATH", "add --scorer hf:PATH or drop --label-map")
    if is_builtin(trait):
        return get_scorer(scorers_for_trait(trait.name)[0])
    return train_trait_head(trait, seed=seed, cache_dir=cache, backend=backend)


# --------------------------------------------------------------------------------------------
# a user's Hugging Face classifier


def _model_labels(path: Path) -> list[str]:
    """Label names in id order from ``config.json`` (``LABEL_<i>`` when it has no ``id2label``)."""
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ScorerError(f"hf:{path} has no config.json", "give the directory written by save_pretrained()")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScorerError(f"hf:{path}/config.json is not valid JSON ({exc})", "re-save the model") from exc
    id2label = config.get("id2label") if isinstance(config, dict) else None
    if isinstance(id2label, dict) and id2label:
        try:
            order = sorted(id2label, key=lambda k: int(k))
        except ValueError as exc:
            raise ScorerError(f"hf:{path}/config.json has non-integer id2label keys", "re-save the model") from exc
        return [str(id2label[k]) for k in order]
    n = int(config.get("num_labels", 2)) if isinstance(config, dict) else 2
    return [f"LABEL_{i}" for i in range(n)]


def build_hf_scorer(
    path: str | os.PathLike[str],
    label_map: str | Mapping[str, int] | None,
    trait: Trait,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    batch_size: int = 32,
) -> Any:
    """A local HF text-classification model as the trait's scorer, with a card on the trait's pairs.

    Only ``safetensors`` weights are loaded (a directory with only ``.bin`` files is refused)
    and remote code is never run.

    Raises:
        ScorerError: missing directory, no config or no safetensors weights, a label-map label
            the model's ``config.json`` does not have, or a model label the map leaves out.
    """
    from steerid.scorers.hf_pipeline import HFPipelineScorer

    where = Path(path).expanduser()
    if not where.is_dir():
        raise ScorerError(f"hf: classifier directory {where} does not exist", "check the path after hf:")
    labels = _model_labels(where)
    mapping = parse_label_map(label_map)
    unknown = [label for label in mapping if label not in labels]
    if unknown:
        raise ScorerError(
            f"label '{unknown[0]}' is not in {where}/config.json (its labels: {', '.join(labels)})", _MAP_FIX
        )
    unmapped = [label for label in labels if label not in mapping]
    if unmapped:
        raise ScorerError(
            f"--label-map leaves the model's label(s) {', '.join(unmapped)} unmapped", "map every label to pos or neg"
        )
    if not any(where.glob("*.safetensors")):
        raise ScorerError(
            f"hf:{where} has no .safetensors weights (steerid does not load pickle .bin files)",
            "re-save it with model.save_pretrained(dir, safe_serialization=True)",
        )
    name = "hf_" + (normalize_text(where.name).replace(" ", "-") or "model")
    cards = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = cards / f"{trait.name}-{trait.content_hash[:16]}" / "hf"
    scorer = HFPipelineScorer.from_pretrained(
        where, mapping, device=device, name=name, trait=trait.name,
        higher_means=f"more {trait.info.positive_label}", batch_size=batch_size, cards_dir=folder,
    )
    texts, y, _ = pair_texts(trait)
    metrics = card_metrics(scorer.score(texts), y)
    notes = ["Measured on the trait's own pair texts (positive → 1, negative → 0): not an independent set."]
    if metrics["accuracy"] < 0.5:
        notes.append("Accuracy below 0.5: the label map is probably reversed (swap pos and neg).")
    card = {
        "name": name, "trait": trait.name, "kind": "hf_classifier", "higher_means": scorer.higher_means,
        "target": {"metric": "accuracy", "split": "trait pairs", "value": HF_TARGET_ACCURACY},
        "meets_target": bool(metrics["accuracy"] >= HF_TARGET_ACCURACY), "metrics": metrics,
        "model": {"path": str(where.resolve()), "labels": labels, "label_map": mapping},
        "data": {"trait_source": trait.source, "trait_content_hash": trait.content_hash, "n_texts": len(texts)},
        "notes": notes,
    }
    atomic_write_json(folder / f"{name}.json", card)
    return scorer


__all__ = ["AUTO_TARGET_ACCURACY", "HF_TARGET_ACCURACY", "MIN_TRAIN_PAIRS", "N_FOLDS", "TRAINER", "build_hf_scorer",
           "default_cache_dir", "pair_texts", "parse_label_map", "parse_scorer_spec", "scorer_for_trait",
           "train_trait_head"]
