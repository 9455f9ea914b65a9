"""Command-line interface: ``steerid info / traits / extract / steer / identify / audit / report ...``.

Every user mistake surfaces as a :class:`~steerid.errors.SteerIdError` (or a usage error) and is
printed as ONE line on stderr — the problem and its fix — with exit code 2 and no traceback.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer import exceptions as typer_exceptions
from rich.console import Console
from rich.table import Table

from steerid.errors import DataError, SteerIdError, VectorError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Extract, apply and audit the identifiability of activation steering vectors.")
console = Console()
err_console = Console(stderr=True)

ModelArg = Annotated[str, typer.Argument(help="smollm2-135m (default), gemma3-270m, tiny:<family>, a local HF dir or a hub id")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="float32 or bfloat16")]
TrustOpt = Annotated[bool, typer.Option("--trust-remote-code", help="allow model code from the checkpoint (off by default)")]


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def _load(model: str, dtype: str = "float32", trust_remote_code: bool = False):
    _quiet_libraries()
    from steerid.models import load_model

    with err_console.status(f"loading {model}…"):
        return load_model(model, dtype=dtype, trust_remote_code=trust_remote_code)


def check_alpha(alpha: float) -> float:
    if not math.isfinite(alpha):
        raise VectorError(f"alpha must be a finite number, got {alpha}", "pass e.g. --alpha 8")
    if alpha < 0:
        raise VectorError(f"alpha must be ≥ 0, got {alpha}", "use --compare to see the −v condition")
    return alpha


@app.command()
def info(model: ModelArg = "smollm2-135m", as_json: Annotated[bool, typer.Option("--json")] = False,
         dtype: DtypeOpt = "float32") -> None:
    """Family, layers, hidden size, sites and the median residual norm per layer."""
    from steerid.capture import capture
    from steerid.models import Site

    lm = _load(model, dtype)
    probe_texts = ["The weather today is mild and the streets are quiet.",
                   "Please describe how a bicycle works in a few sentences.",
                   "My favourite meal is a simple bowl of soup with fresh bread."]
    sites = [Site(layer) for layer in range(lm.info.n_layers)]
    acts = capture(lm, probe_texts, sites, pooling="all")
    import numpy as np

    first = {len(lm.tokenizer(t)["input_ids"]) for t in probe_texts}
    lengths = [len(lm.tokenizer(t)["input_ids"]) for t in probe_texts]
    keep = np.concatenate([np.arange(n) > 0 for n in lengths])
    norms = {s.layer: float(np.median(np.linalg.norm(acts[s][keep], axis=1))) for s in sites}
    first_norms = {s.layer: float(np.median(np.linalg.norm(acts[s][~keep], axis=1))) for s in sites}
    del first
    data = {**lm.info.to_dict(), "sites": [str(s) for s in sites],
            "median_token_norm": norms, "median_first_token_norm": first_norms}
    if as_json:
        print(json.dumps(data, indent=2))
        return
    table = Table(title=f"{lm.info.name} ({lm.info.family}, {lm.info.n_layers} layers, d={lm.info.hidden_size})")
    table.add_column("site")
    table.add_column("median token norm", justify="right")
    table.add_column("first-token norm", justify="right")
    for s in sites:
        table.add_row(str(s), f"{norms[s.layer]:.1f}", f"{first_norms[s.layer]:.1f}")
    console.print(table)
    console.print(f"chat template: {lm.info.has_chat_template}   weights sha256: {lm.info.weights_hash[:16]}…")


@app.command()
def traits() -> None:
    """List the built-in traits with their counts of pairs and prompts."""
    from steerid.traits import list_traits, load_trait

    table = Table(title="built-in traits")
    for col in ("trait", "pairs", "likelihood", "in_distribution", "topic_shift", "genre_shift"):
        table.add_column(col, justify="right" if col != "trait" else "left")
    for name in list_traits():
        counts = load_trait(name).counts()
        table.add_row(name, str(counts.get("pairs")), str(counts.get("likelihood")),
                      *(str(counts.get(f"eval_{env}", 0)) for env in ("in_distribution", "topic_shift", "genre_shift")))
    console.print(table)


@app.command()
def extract(
    model: ModelArg = "smollm2-135m",
    out: Annotated[Path, typer.Option("--out", help="output .safetensors path")] = Path("vector.safetensors"),
    layer: Annotated[int, typer.Option("--layer", help="block index L of Site(L, point)")] = 15,
    point: Annotated[str, typer.Option("--point", help="in (entering block L) or out")] = "in",
    pairs: Annotated[Optional[Path], typer.Option("--pairs", help="JSONL of {positive, negative[, prompt]}")] = None,
    trait: Annotated[Optional[str], typer.Option("--trait", help="built-in trait or trait directory")] = None,
    method: Annotated[str, typer.Option("--method", help="mean_diff, pca, probe or lda")] = "mean_diff",
    pooling: Annotated[str, typer.Option("--pooling", help="last, mean")] = "last",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    dtype: DtypeOpt = "float32",
    trust_remote_code: TrustOpt = False,
) -> None:
    """Extract a steering vector from contrastive pairs and save it as safetensors."""
    from steerid.extract.pipeline import extract_vector
    from steerid.extract.registry import EXTRACTORS
    from steerid.models import Site
    from steerid.traits import load_pairs_file, load_trait

    if (pairs is None) == (trait is None):
        raise DataError("give exactly one of --pairs FILE or --trait NAME", "e.g. --trait sentiment")
    if method not in EXTRACTORS:
        raise DataError(f"unknown extraction method '{method}'", f"use one of: {', '.join(EXTRACTORS)}")
    if pooling not in ("last", "mean"):
        raise DataError(f"unknown pooling '{pooling}'", "use last or mean")
    if out.suffix != ".safetensors":
        raise DataError(f"output '{out}' must end in .safetensors", "e.g. --out vector.safetensors")
    pair_list = load_pairs_file(pairs) if pairs is not None else load_trait(trait).pairs  # type: ignore[arg-type]
    trait_name = trait if trait is not None else "custom"
    lm = _load(model, dtype, trust_remote_code)
    site = Site(layer, point)  # type: ignore[arg-type]
    site.check(lm.info.n_layers)
    with err_console.status(f"extracting {method} at {site} from {len(pair_list)} pairs…"):
        vector = extract_vector(lm, pair_list, site, method=method, pooling=pooling, trait=trait_name, seed=seed)  # type: ignore[arg-type]
    vector.save(out)
    console.print(f"wrote {out}  (site {site}, method {method}, raw norm {vector.norm:.2f}, {len(pair_list)} pairs)")


@app.command()
def steer(
    model: ModelArg = "smollm2-135m",
    vector: Annotated[Path, typer.Option("--vector", help="a steerid .safetensors vector")] = Path("vector.safetensors"),
    alpha: Annotated[float, typer.Option("--alpha", help="strength: absolute norm of the added displacement")] = 8.0,
    relative: Annotated[bool, typer.Option("--relative", help="alpha is a multiple of the median token norm at the site")] = False,
    prompt: Annotated[Optional[list[str]], typer.Option("--prompt", help="user prompt (repeatable)")] = None,
    greedy: Annotated[bool, typer.Option("--greedy/--sample")] = True,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens")] = 40,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    compare: Annotated[bool, typer.Option("--compare", help="also show the unsteered and −v continuations")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="refuse vectors from other weights")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="do not apply the chat template")] = False,
    dtype: DtypeOpt = "float32",
    trust_remote_code: TrustOpt = False,
) -> None:
    """Generate with a steering vector added at its own site."""
    from steerid.capture import median_token_norm
    from steerid.generate import generate
    from steerid.traits.formatting import format_chat
    from steerid.vector import SteeringVector

    check_alpha(alpha)
    prompts = list(prompt or [])
    if not prompts:
        raise DataError("no --prompt given", 'pass --prompt "Tell me about your day."')
    if any(not p.strip() for p in prompts):
        raise DataError("a --prompt is empty", "remove empty prompts")
    steering_vector = SteeringVector.load(vector)
    lm = _load(model, dtype, trust_remote_code)
    steering_vector.check_compatible(lm.info, strict=strict)
    site = steering_vector.site
    site.check(lm.info.n_layers)
    texts = prompts if raw else [format_chat(lm.tokenizer, p) for p in prompts]
    scale = alpha * median_token_norm(lm, texts, site) if relative else alpha
    conditions = {"+v": 1.0}
    if compare:
        conditions = {"none": 0.0, "+v": 1.0, "-v": -1.0}
    import numpy as np

    rows = [texts[i] for _ in conditions for i in range(len(texts))]
    deltas = np.stack([sign * scale * steering_vector.direction for sign in conditions.values() for _ in texts])
    seeds = [seed + i for _ in conditions for i in range(len(texts))]
    out = generate(lm, rows, site=site, deltas=deltas, greedy=greedy, seeds=seeds, max_new_tokens=max_new_tokens)
    for c_index, name in enumerate(conditions):
        for p_index, user in enumerate(prompts):
            text = out.texts[c_index * len(texts) + p_index]
            console.print(f"[bold]{name}[/bold] ‖Δ‖={scale:.2f}  [dim]{user}[/dim]\n  {text}", markup=True, highlight=False)


@app.command()
def layers(
    model: ModelArg = "smollm2-135m",
    trait: Annotated[str, typer.Option("--trait", help="built-in trait or trait directory")] = "sentiment",
    alpha: Annotated[float, typer.Option("--alpha", help="relative strength α_rel used for the likelihood shift")] = 0.1,
    layer_list: Annotated[Optional[str], typer.Option("--layers", help="comma-separated layers (default: all but 0)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    dtype: DtypeOpt = "float32",
) -> None:
    """Per layer: probe accuracy of the trait and likelihood shift under its mean-diff vector."""
    from steerid.layers import scan_layers
    from steerid.traits import load_trait

    check_alpha(alpha)
    trait_data = load_trait(trait)
    try:
        chosen = [int(x) for x in layer_list.split(",")] if layer_list else None
    except ValueError as exc:
        raise DataError(f"cannot parse --layers '{layer_list}'", "write e.g. --layers 5,10,15") from exc
    lm = _load(model, dtype)
    with err_console.status(f"scanning layers for {trait_data.name}…"):
        scan = scan_layers(lm, trait_data, layers=chosen, alpha_rel=alpha)
    if as_json:
        print(json.dumps(scan.to_dict(), indent=2))
        return
    table = Table(title=f"{trait_data.name} on {lm.info.name}: α_rel = {alpha:g}")
    for col in ("layer", "probe CV accuracy", "likelihood shift L(+v)−L(−v)", "± s.e."):
        table.add_column(col, justify="right")
    for r in scan.rows:
        mark = " ★" if r["layer"] == scan.best_layer else (" (L//2)" if r["layer"] == scan.middle_layer else "")
        table.add_row(f"{r['layer']}{mark}", f"{r['probe_cv_accuracy']:.3f}", f"{r['likelihood_shift']:+.3f}",
                      f"{r['likelihood_shift_se']:.3f}")
    console.print(table)
    console.print(f"best layer by likelihood shift: {scan.best_layer}; middle layer L//2 = {scan.middle_layer}")


scorers_app = typer.Typer(help="Train and validate the trait scorers.", no_args_is_help=True)
app.add_typer(scorers_app, name="scorers")


@scorers_app.command("train")
def scorers_train(
    trait: Annotated[Optional[str], typer.Option("--trait", help="one trait (default: all heads)")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    out: Annotated[Optional[Path], typer.Option("--out", help="write heads/cards here instead of the package")] = None,
) -> None:
    """Retrain the embedding heads reproducibly (same data + seed → identical coefficients)."""
    _quiet_libraries()
    from steerid.scorers.specs import HEAD_TRAITS
    from steerid.scorers.train import train_head

    traits_to_train = [trait] if trait else list(HEAD_TRAITS)
    for name in traits_to_train:
        if name not in HEAD_TRAITS:
            raise DataError(f"no trainable head for '{name}'", f"use one of: {', '.join(HEAD_TRAITS)}")
    for name in traits_to_train:
        with err_console.status(f"training {name}…"):
            card = train_head(name, seed, out_dir=out)
        console.print(f"{name}: held-out accuracy {card['metrics']['accuracy']:.3f}" if "metrics" in card else f"{name}: trained")


@scorers_app.command("validate")
def scorers_validate(
    name: Annotated[Optional[str], typer.Option("--name", help="one scorer (default: all)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recompute every scorer's held-out accuracy, AUC and calibration (test split only)."""
    _quiet_libraries()
    from steerid.scorers.registry import list_scorers
    from steerid.scorers.train import validate

    names = [name] if name else list_scorers()
    results = {n: validate(n) for n in names}
    if as_json:
        print(json.dumps(results, indent=2, default=str))
        return
    table = Table(title="scorer validation (held-out test split)")
    for col in ("scorer", "n", "accuracy", "ROC AUC", "Brier", "ECE"):
        table.add_column(col, justify="right" if col != "scorer" else "left")
    for n, m in results.items():
        fmt = lambda key: f"{m[key]:.3f}" if isinstance(m.get(key), (int, float)) else "—"  # noqa: E731
        table.add_row(n, str(m.get("n", "—")), fmt("accuracy"), fmt("roc_auc"), fmt("brier"), fmt("ece"))
    console.print(table)


@app.command()
def score(
    trait: Annotated[str, typer.Option("--trait", help="trait or scorer name (e.g. sentiment, sentiment_vader)")] = "sentiment",
    file: Annotated[Path, typer.Option("--file", help="text file, one text per line")] = Path("texts.txt"),
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Score one text per line with the trait's primary scorer."""
    _quiet_libraries()
    from steerid.scorers.registry import get_scorer, list_scorers, scorers_for_trait

    name = trait if trait in list_scorers() else scorers_for_trait(trait)[0]
    if name == "truthfulness_answer":
        raise DataError("the truthfulness judge needs known answers, not free text", "use --trait sentiment|formality|politeness|agreeableness")
    if not file.is_file():
        raise DataError(f"text file '{file}' does not exist", "check the path")
    try:
        lines = [line.rstrip("\n") for line in file.read_text(encoding="utf-8").splitlines()]
    except UnicodeDecodeError as exc:
        raise DataError(f"'{file}' is not UTF-8 text", "re-save it as UTF-8") from exc
    texts = [line for line in lines if line.strip()]
    if not texts:
        raise DataError(f"'{file}' has no non-empty lines", "put one text per line")
    scorer = get_scorer(name)
    values = scorer.score(texts)
    threshold = 0.0 if name == "sentiment_vader" else 0.5
    positive = {"sentiment": "positive", "sentiment_vader": "positive", "formality": "formal", "politeness": "polite",
                "agreeableness": "agreeing"}.get(name, "positive")
    for text, value in zip(texts, values):
        label = "positive" if value >= threshold else "negative"
        if as_json:
            print(json.dumps({"text": text, "scorer": name, "score": float(value), "label": label,
                              "positive_means": positive}))
        else:
            shown = positive if label == "positive" else f"not {positive}"
            console.print(f"{float(value):+.3f}  {shown:<14} {text}", highlight=False, markup=False)


ExecutorOpt = Annotated[str, typer.Option("--executor", help="local (this process) or ray (units as Ray tasks)")]
RayAddressOpt = Annotated[Optional[str], typer.Option("--ray-address", help="join this Ray cluster (e.g. auto or ray://host:10001) instead of starting a local one")]


def _print_answers(results_path: Path) -> None:
    """The report's answer-first sentences, one per trait and route."""
    try:
        answers = json.loads(Path(results_path).read_text(encoding="utf-8")).get("answers") or []
    except (OSError, json.JSONDecodeError) as exc:
        print(f"steerid: could not read the answers from {results_path}: {exc}", file=sys.stderr)
        return
    for answer in answers:
        print(f"[{answer['kind']}] {answer['text']}")


def _print_outcome(outcome, quiet: bool) -> None:
    from steerid.audit import SUMMARY_HEADER, summary_table_rows

    if not quiet and outcome.summary:
        from rich import box

        table = Table(title="summary (TOST of v+v⊥ vs v; p Holm-adjusted across the audit)", box=box.SIMPLE_HEAD)
        for col in SUMMARY_HEADER:
            table.add_column(col, justify="left" if col in ("trait", "cell", "verdict (d_z)", "verdict ±ε of v (p Holm)", "sign") else "right")
        for row in summary_table_rows(outcome.summary):
            table.add_row(*row)
        # piped (e.g. `make demo | tee`): rich would assume 80 columns and fold every cell
        (console if console.is_terminal else Console(width=200)).print(table)
    if not quiet:
        _print_answers(outcome.results_path)
    extra = f", {outcome.n_unavailable} unavailable" if outcome.n_unavailable else ""
    print(f"steerid: {outcome.n_run} unit(s) run, {outcome.n_skipped} already done{extra}, "
          f"{outcome.wall_seconds:.0f} s", file=sys.stderr)
    print(f"report: {outcome.report_path}")


@app.command()
def audit(
    model: ModelArg = "smollm2-135m",
    traits: Annotated[Optional[str], typer.Option("--traits", help="all, or a comma-separated list (default: the profile's)")] = None,
    profile: Annotated[str, typer.Option("--profile", help="smoke, quick or paper")] = "quick",
    config: Annotated[Optional[Path], typer.Option("--config", help="YAML file overriding fields of the profile")] = None,
    out: Annotated[Path, typer.Option("--out", help="run directory (created; rerun the same command to resume)")] = Path("runs/audit"),
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    force: Annotated[bool, typer.Option("--force", help="discard a previous run with a different config in --out")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="log lines instead of progress bars and tables")] = False,
) -> None:
    """Audit the identifiability of a model's steering vectors; resumable; writes an HTML report."""
    from steerid.audit import run_audit
    from steerid.audit_config import build_config, parse_traits

    _quiet_libraries()
    cfg = build_config(profile, config, {"model": model, "traits": parse_traits(traits)})
    outcome = run_audit(cfg, out, executor=executor, ray_address=ray_address, force=force, quiet=quiet,
                        console=err_console)
    _print_outcome(outcome, quiet)


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="an audit's --out directory")]) -> None:
    """Re-render RUN_DIR/report.html from RUN_DIR/results.json."""
    from steerid.report import render_report

    print(f"report: {render_report(run_dir)}")


@app.command()
def identify(
    model: ModelArg = "smollm2-135m",
    vector: Annotated[Path, typer.Option("--vector", help="your steerid .safetensors vector")] = Path("vector.safetensors"),
    experiments: Annotated[str, typer.Option("--experiments", help="comma-separated: e1, likelihood, e4, e6, e7, recovery")] = "likelihood,e1,e4,e6",
    trait: Annotated[Optional[str], typer.Option("--trait", help="built-in trait whose prompts and scorers to use (default: the vector's)")] = None,
    profile: Annotated[str, typer.Option("--profile", help="sizes from this profile (smoke, quick, paper)")] = "quick",
    config: Annotated[Optional[Path], typer.Option("--config", help="YAML file overriding fields of the profile")] = None,
    alpha: Annotated[Optional[float], typer.Option("--alpha", help="relative strength α (default: the profile's)")] = None,
    out: Annotated[Path, typer.Option("--out", help="output directory (results.json, report.html)")] = Path("runs/identify"),
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    force: Annotated[bool, typer.Option("--force")] = False,
    quiet: Annotated[bool, typer.Option("--quiet")] = False,
) -> None:
    """Audit your own vector: equivalence under orthogonal perturbations, logit distance, null space."""
    from steerid.audit import run_audit
    from steerid.audit_config import build_config
    from steerid.errors import ConfigError

    _quiet_libraries()
    names = [e.strip() for e in experiments.split(",") if e.strip()]
    allowed = ("e1", "likelihood", "e4", "e6", "e7", "recovery")
    bad = [e for e in names if e not in allowed]
    if bad or not names:
        raise ConfigError(f"unknown or unusable experiment(s) {bad or names} for identify",
                          f"use some of: {', '.join(allowed)} (e5 compares extraction methods)")
    if not vector.is_file():
        raise VectorError(f"vector file '{vector}' does not exist", "check the --vector path")
    overrides = {"model": model, "experiments": names, "vector": str(vector), "vector_trait": trait,
                 "alphas_rel": [alpha] if alpha is not None else None}
    if alpha is not None:
        check_alpha(alpha)
    cfg = build_config(profile, config, overrides)
    outcome = run_audit(cfg, out, executor=executor, ray_address=ray_address, force=force, quiet=quiet,
                        console=err_console)
    _print_outcome(outcome, quiet)
    print(f"results: {outcome.results_path}")


@app.command()
def recover(
    model: ModelArg = "smollm2-135m",
    vector: Annotated[Path, typer.Option("--vector", help="a steerid .safetensors vector")] = Path("vector.safetensors"),
    constraint: Annotated[str, typer.Option("--constraint", help="gauge, sparse, multienv, crosslayer or ica")] = "gauge",
    trait: Annotated[Optional[str], typer.Option("--trait", help="trait whose data feed the constraint (default: the vector's)")] = None,
    variance: Annotated[float, typer.Option("--variance", help="gauge: fraction of the basis' variance kept")] = 0.95,
    basis: Annotated[str, typer.Option("--basis", help="gauge: covariance (activation row space) or fisher (output-Fisher row space)")] = "covariance",
    out: Annotated[Path, typer.Option("--out", help="output .safetensors path")] = Path("canonical.safetensors"),
    strict: Annotated[bool, typer.Option("--strict")] = False,
    dtype: DtypeOpt = "float32",
) -> None:
    """Recover a canonical vector under a structural constraint (provenance records it)."""
    from steerid.canonicalize import CONSTRAINT_NAMES, recover_vector
    from steerid.vector import SteeringVector

    if constraint not in CONSTRAINT_NAMES:
        raise DataError(f"unknown constraint '{constraint}'", f"use one of: {', '.join(CONSTRAINT_NAMES)}")
    if out.suffix != ".safetensors":
        raise DataError(f"output '{out}' must end in .safetensors", "e.g. --out canonical.safetensors")
    if not (0.0 < variance <= 1.0):
        raise DataError(f"--variance must be in (0, 1], got {variance}", "e.g. --variance 0.95")
    if basis not in ("covariance", "fisher"):
        raise DataError(f"unknown gauge basis '{basis}'", "use --basis covariance or --basis fisher")
    source = SteeringVector.load(vector)
    lm = _load(model, dtype)
    source.check_compatible(lm.info, strict=strict)
    params = {"variance": variance, "basis": basis} if constraint == "gauge" else None
    with err_console.status(f"recovering under {constraint}…"):
        new, report = recover_vector(lm, source, constraint, trait=trait, params=params)
    new.save(out)
    console.print_json(data=report)
    console.print(f"wrote {out}  (cosine to the input {report['cosine_to_input']:.3f})")


@app.command("recover-bench")
def recover_bench(
    size: Annotated[str, typer.Option("--size", help="small (CI) or full")] = "small",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Planted-direction benchmark of every constraint: recovery cosine and drift under v⊥."""
    _quiet_libraries()
    from steerid.recover.benchmark import run_benchmark

    if size not in ("small", "full"):
        raise DataError(f"unknown benchmark size '{size}'", "use small or full")
    with err_console.status("running the planted-direction benchmark…"):
        result = run_benchmark(size, seed)  # type: ignore[arg-type]
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        console.print(result.table(), markup=False, highlight=False)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning user errors into one line on stderr and exit code 2."""
    logging.basicConfig(level=logging.WARNING, format="steerid: warning: %(message)s", stream=sys.stderr)
    command = typer.main.get_command(app)
    try:
        # without standalone mode, typer turns Ctrl-C (KeyboardInterrupt) and typer.Exit(n) into a
        # *returned* exit code instead of raising: honour it, or an interrupted run would exit 0
        code = command.main(args=argv, prog_name="steerid", standalone_mode=False)
        if code == 130:
            print("steerid: interrupted", file=sys.stderr)
            sys.exit(130)
        if isinstance(code, int) and not isinstance(code, bool) and code != 0:
            sys.exit(code)
    except SteerIdError as exc:
        print(f"steerid: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("steerid: interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer_exceptions.TyperException as exc:  # usage errors: unknown option, bad value, missing argument
        context = getattr(exc, "ctx", None)
        path = getattr(context, "command_path", None) or "steerid"  # e.g. "steerid scorers train"
        hint = f"run '{path} --help'"
        formatter = getattr(exc, "format_message", None)
        message = " ".join((formatter() if callable(formatter) else str(exc)).split())
        if not message:  # bare `steerid`: help was printed
            sys.exit(0)
        print(f"steerid: error: {message} — fix: {hint}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
