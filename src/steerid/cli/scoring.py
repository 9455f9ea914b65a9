"""``steerid scorers train / validate`` and ``steerid score``: the trait scorers.

Scorer code is imported inside each command (sentence-transformers and torch cost seconds to
import; ``--help`` and the error paths must not pay for it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from steerid.cli.common import app, console, err_console, quiet_libraries
from steerid.errors import DataError


scorers_app = typer.Typer(help="Train and validate the trait scorers.", no_args_is_help=True)
app.add_typer(scorers_app, name="scorers")


@scorers_app.command("train")
def scorers_train(
    trait: Annotated[Optional[str], typer.Option("--trait", help="one trait (default: all heads)")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    out: Annotated[Optional[Path], typer.Option("--out", help="write heads/cards here instead of the package")] = None,
) -> None:
    """Retrain the embedding heads reproducibly (same data + seed → identical coefficients)."""
    quiet_libraries()
    from steerid.scorers.specs import HEAD_TRAITS
    from steerid.scorers.train import train_head

    traits_to_train = [trait] if trait else list(HEAD_TRAITS)
    for name in traits_to_train:
        if name not in HEAD_TRAITS:
            raise DataError(f"no trainable head for '{name}'", f"use one of: {', '.join(HEAD_TRAITS)}")
    for name in traits_to_train:
        with err_console.status(f"training {name}…"):
            card = train_head(name, seed, out_dir=out)
        v, t = card["metrics"], card["test_metrics"]
        flag = "meets" if card["meets_target"] else "BELOW"
        console.print(f"{name}: test accuracy {t['accuracy']:.3f}, independent validation accuracy {v['accuracy']:.3f} "
                      f"({flag} target {card['target']['value']:.2f})")


@scorers_app.command("validate")
def scorers_validate(
    name: Annotated[Optional[str], typer.Option("--name", help="one scorer (default: all)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    speed: Annotated[bool, typer.Option("--speed/--no-speed", help="also time loading and scoring")] = True,
) -> None:
    """Recompute every scorer's accuracy, AUC and calibration on the test split and the independent validation set."""
    quiet_libraries()
    from steerid.scorers.registry import list_scorers
    from steerid.scorers.specs import SPECS
    from steerid.scorers.validate import validate

    names = [name] if name else list_scorers()
    if name and name not in SPECS:
        raise DataError(f"unknown scorer '{name}'", f"use one of: {', '.join(SPECS)}")
    results = {}
    for n in names:
        with err_console.status(f"validating {n}…"):
            results[n] = validate(n, speed=speed)
    if as_json:
        print(json.dumps(results, indent=2, default=str))
        return
    table = Table(title="scorer validation: project test split | independent validation set")
    cols = ("scorer", "test acc", "test AUC", "test ECE", "indep. n", "indep. acc", "indep. AUC", "indep. ECE",
            "target", "coverage", "texts/s", "load s")
    for col in cols:
        table.add_column(col, justify="right" if col != "scorer" else "left")
    for n, r in results.items():
        t, v, s = r["test"], r["validation"], r.get("speed") or {}
        fmt = lambda m, key: f"{m[key]:.3f}" if isinstance(m.get(key), (int, float)) else "—"  # noqa: E731
        target = SPECS[n].target_accuracy
        mark = "ok" if v["accuracy"] >= target else "BELOW"
        coverage = f"{fmt(t, 'coverage')}/{fmt(v, 'coverage')}" if "coverage" in v else "—"
        table.add_row(n, fmt(t, "accuracy"), fmt(t, "roc_auc"), fmt(t, "ece"), str(v.get("n", "—")), fmt(v, "accuracy"),
                      fmt(v, "roc_auc"), fmt(v, "ece"), f"{target:.2f} {mark}", coverage,
                      f"{s['texts_per_second']:.0f}" if s else "—", f"{s['load_seconds']:.1f}" if s else "—")
    console.print(table)


def _read_score_input(file: Path, context_field: str | None) -> tuple[list[str], list[str | None] | None]:
    """Texts (and their context, e.g. opinions) from a plain-text or JSONL file; user errors → DataError."""
    if not file.is_file():
        raise DataError(f"text file '{file}' does not exist", "check the path")
    try:
        content = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"'{file}' is not UTF-8 text", "re-save it as UTF-8") from exc
    lines = [line.rstrip("\r") for line in content.splitlines()]
    numbered = [(i, line) for i, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise DataError(f"'{file}' is empty (no non-blank lines)", 'put one text per line, or one {"text": ...} object per line')
    is_jsonl = file.suffix.lower() == ".jsonl" or numbered[0][1].lstrip().startswith("{")
    if not is_jsonl:
        return [line for _, line in numbered], None
    texts: list[str] = []
    contexts: list[str | None] = []
    for lineno, line in numbered:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{file.name}:{lineno} is not valid JSON ({exc.msg})",
                            'write one object per line, e.g. {"opinion": "...", "text": "..."}') from exc
        if not isinstance(obj, dict):
            raise DataError(f"{file.name}:{lineno} is not a JSON object", 'write {"text": "..."} (plus "opinion" for agreeableness)')
        text = obj.get("text")
        if not isinstance(text, str):
            raise DataError(f"{file.name}:{lineno} has no string field 'text'", 'add "text": "<the text to score>"')
        texts.append(text)
        if context_field is not None:
            if context_field not in obj:
                raise DataError(f"{file.name}:{lineno} has no field '{context_field}'",
                                f'add "{context_field}": "..." to every line (the stance is judged relative to it), '
                                "or pass plain text lines to score replies alone")
            value = obj[context_field]
            if value is not None and not isinstance(value, str):
                raise DataError(f"{file.name}:{lineno}: '{context_field}' must be a string or null", "fix that line")
            contexts.append(value)
    return texts, (contexts if context_field is not None else None)


def _custom_scorer(trait: str, scorer_spec: str | None, label_map: str | None, seed: int):
    """``(scorer, positive label)`` for a trait directory, or a chosen ``--scorer`` (see scorer_for_trait)."""
    from steerid.traits import resolve_trait, scorer_for_trait

    trait_data = resolve_trait(trait, seed=seed)
    if trait_data.source.startswith("ab:") and scorer_spec is None:
        raise DataError(f"the A/B trait '{trait_data.name}' is measured by the likelihood of its answer letters, "
                        "not by scoring text", "audit it on the likelihood route (--config with experiments: "
                        "[likelihood]), or pass --scorer hf:PATH --label-map ... to score text")
    with err_console.status(f"preparing the scorer for {trait_data.name}…"):
        scorer = scorer_for_trait(trait_data, scorer_spec, label_map, seed=seed)
    return scorer, trait_data.info.positive_label


@app.command()
def score(
    trait: Annotated[str, typer.Option("--trait", help="trait or scorer name (e.g. sentiment, sentiment_vader), or a "
                                                       "trait directory (scored by an auto-trained head)")] = "sentiment",
    file: Annotated[Path, typer.Option("--file", help='text file, one text per line; or JSONL of {"text": ...} '
                                                     '(with "opinion" for agreeableness)')] = Path("texts.txt"),
    scorer_spec: Annotated[Optional[str], typer.Option("--scorer", help="hf:PATH (a local HF text classifier, "
                                                       "with --label-map) or a registered scorer name")] = None,
    label_map: Annotated[Optional[str], typer.Option("--label-map", help="pos=LABEL,neg=LABEL for an hf: scorer")] = None,
    seed: Annotated[int, typer.Option("--seed", help="seed of an auto-trained head and its held-out split")] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Score one text per line (or one JSONL object per line) with the trait's primary scorer."""
    quiet_libraries()
    from steerid.audit.custom_traits import is_trait_path
    from steerid.scorers.registry import get_scorer, list_scorers, scorers_for_trait

    if scorer_spec is not None or label_map is not None or is_trait_path(trait):
        scorer, positive = _custom_scorer(trait, scorer_spec, label_map, seed)
        name, field, threshold = scorer.name, None, 0.5
        texts, contexts = _read_score_input(file, None)
    else:
        name = trait if trait in list_scorers() else scorers_for_trait(trait)[0]
        if name == "truthfulness_answer":
            raise DataError("the truthfulness judge needs known answers, not free text", "use --trait sentiment|formality|politeness|agreeableness")
        scorer = get_scorer(name)
        field = scorer.accepts[0] if getattr(scorer, "accepts", ()) else None
        texts, contexts = _read_score_input(file, field)
        threshold = 0.0 if name == "sentiment_vader" else 0.5
        positive = {"sentiment": "positive", "sentiment_vader": "positive", "formality": "formal", "politeness": "polite",
                    "agreeableness": "agreeing"}.get(name, "positive")
    if not any(t.strip() for t in texts):
        raise DataError(f"'{file}' has no non-blank texts", "give at least one text to score")
    values = scorer.score(texts, **({field: contexts} if contexts is not None else {}))
    for i, (text, value) in enumerate(zip(texts, values)):
        label = "positive" if value >= threshold else "negative"
        if as_json:
            row = {"text": text, "scorer": name, "score": float(value), "label": label, "positive_means": positive}
            if contexts is not None:
                row[field] = contexts[i]
            print(json.dumps(row))
        else:
            shown = positive if label == "positive" else f"not {positive}"
            console.print(f"{float(value):+.3f}  {shown:<14} {text}", highlight=False, markup=False)
