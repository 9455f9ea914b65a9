"""``steerid extract``, ``steer``, ``recover`` and ``recover-bench``: make, apply and canonicalise vectors.

Model code is imported inside each command (the model stack costs ~5 s to import; ``--help`` and
the error paths must not pay for it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from steerid.cli.common import (CONSTRAINTS, EXTRACT_METHODS, POINTS, POOLINGS, DeviceOpt, DtypeOpt, ModelArg,
                                TrustOpt, app, check_alpha, choice_option, console, err_console, load,
                                quiet_libraries)
from steerid.errors import DataError


@app.command()
def extract(
    model: ModelArg = "smollm2-135m",
    out: Annotated[Path, typer.Option("--out", help="output .safetensors path")] = Path("vector.safetensors"),
    layer: Annotated[int, typer.Option("--layer", help="block index L of Site(L, point)")] = 15,
    point: Annotated[str, choice_option("--point", "site point", POINTS, "in (entering block L) or out",
                                        fix="use --point in or --point out")] = "in",
    pairs: Annotated[Optional[Path], typer.Option("--pairs", help="JSONL of {positive, negative[, prompt]}")] = None,
    trait: Annotated[Optional[str], typer.Option("--trait", help="built-in trait or trait directory")] = None,
    method: Annotated[str, choice_option("--method", "extraction method", EXTRACT_METHODS, "how to fit v")] = "mean_diff",
    pooling: Annotated[str, choice_option("--pooling", "pooling", POOLINGS, "token pooling of the activations",
                                          fix="use last or mean")] = "last",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    dtype: DtypeOpt = "auto",
    device: DeviceOpt = "auto",
    trust_remote_code: TrustOpt = False,
    force: Annotated[bool, typer.Option("--force", help="overwrite --out even when it is not a steering vector")] = False,
) -> None:
    """Extract a steering vector from contrastive pairs and save it as safetensors."""
    from steerid.extract.pipeline import extract_vector
    from steerid.models import Site
    from steerid.traits import load_pairs_file, resolve_trait

    if (pairs is None) == (trait is None):
        raise DataError("give exactly one of --pairs FILE or --trait NAME", "e.g. --trait sentiment")
    if out.suffix != ".safetensors":
        raise DataError(f"output '{out}' must end in .safetensors", "e.g. --out vector.safetensors")
    check_overwrite(out, force)
    trait_data = resolve_trait(trait, seed=seed) if trait is not None else None
    # a trait directory without likelihood/eval files holds pairs out (under --seed): only the rest extract
    pair_list = load_pairs_file(pairs) if trait_data is None else list(trait_data.pairs)  # type: ignore[arg-type]
    trait_name = trait_data.name if trait_data is not None else "custom"
    lm = load(model, dtype, trust_remote_code, device)
    site = Site(layer, point)  # type: ignore[arg-type]
    site.check(lm.info.n_layers)
    with err_console.status(f"extracting {method} at {site} from {len(pair_list)} pairs…"):
        vector = extract_vector(lm, pair_list, site, method=method, pooling=pooling, trait=trait_name, seed=seed)  # type: ignore[arg-type]
    if trait_data is not None:
        vector.provenance.extra["trait"] = trait_data.provenance()
    vector.save(out)
    console.print(f"wrote {out}  (site {site}, method {method}, raw norm {vector.norm:.3g}, {len(pair_list)} pairs)")


def check_overwrite(out: Path, force: bool) -> None:
    """Refuse to replace anything at ``out`` but a steering vector (unless ``force``), before any work.

    Raises:
        OutputError: ``out`` is a directory, or an existing file that is not a readable steerid
            vector (a previous vector there is replaced, as rerunning a command should).
    """
    from steerid.errors import OutputError, VectorError
    from steerid.vector import SteeringVector

    if out.is_dir():
        raise OutputError(f"--out '{out}' is a directory", "give a file path such as --out vector.safetensors")
    if force or not out.exists():
        return
    try:
        SteeringVector.load(out)
    except VectorError as exc:
        raise OutputError(f"--out '{out}' exists and is not a steering vector ({exc.problem})",
                          "choose another --out, or pass --force to overwrite it") from exc


@app.command()
def steer(
    model: ModelArg = "smollm2-135m",
    vector: Annotated[Path, typer.Option("--vector", help="a steerid .safetensors vector")] = Path("vector.safetensors"),
    alpha: Annotated[str, typer.Option("--alpha", help="strength: absolute norm of the added displacement, or kl:B "
                                       "(per sign the α whose mean next-token KL to the unsteered model is B nats)")] = "8.0",
    relative: Annotated[bool, typer.Option("--relative", help="alpha is a multiple of the median token norm at the site")] = False,
    prompt: Annotated[Optional[list[str]], typer.Option("--prompt", help="user prompt (repeatable)")] = None,
    greedy: Annotated[bool, typer.Option("--greedy/--sample")] = True,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens")] = 40,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    compare: Annotated[bool, typer.Option("--compare", help="also show the unsteered and −v continuations")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="refuse vectors from other weights")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="do not apply the chat template")] = False,
    dtype: DtypeOpt = "auto",
    device: DeviceOpt = "auto",
    trust_remote_code: TrustOpt = False,
) -> None:
    """Generate with a steering vector added at its own site."""
    import numpy as np

    from steerid.capture import median_token_norm
    from steerid.engine.generation import generate
    from steerid.traits.formatting import format_chat
    from steerid.vector import SteeringVector

    from steerid.experiments.kl_budget import KLBudget, parse_strength

    strength = parse_strength(alpha)
    if not isinstance(strength, KLBudget):
        check_alpha(strength)
    prompts = list(prompt or [])
    if not prompts:
        raise DataError("no --prompt given", 'pass --prompt "Tell me about your day."')
    if any(not p.strip() for p in prompts):
        raise DataError("a --prompt is empty", "remove empty prompts")
    steering_vector = SteeringVector.load(vector)
    lm = load(model, dtype, trust_remote_code, device)
    steering_vector.check_compatible(lm.info, strict=strict)
    site = steering_vector.site
    site.check(lm.info.n_layers)
    texts = prompts if raw else [format_chat(lm.tokenizer, p) for p in prompts]
    conditions = {"none": 0.0, "+v": 1.0, "-v": -1.0} if compare else {"+v": 1.0}
    if isinstance(strength, KLBudget):
        scales = _kl_scales(lm, steering_vector, texts, strength.budget, [int(s) for s in conditions.values() if s])
    else:
        scale = float(strength) * median_token_norm(lm, texts, site) if relative else float(strength)
        scales = {1: scale, -1: scale}
    rows = [texts[i] for _ in conditions for i in range(len(texts))]
    deltas = np.stack([sign * scales.get(int(sign), 0.0) * steering_vector.direction
                       for sign in conditions.values() for _ in texts])
    seeds = [seed + i for _ in conditions for i in range(len(texts))]
    out = generate(lm, rows, site=site, deltas=deltas, greedy=greedy, seeds=seeds, max_new_tokens=max_new_tokens)
    for c_index, name in enumerate(conditions):
        for p_index, user in enumerate(prompts):
            text = out.texts[c_index * len(texts) + p_index]
            norm = scales.get(int(conditions[name]), 0.0)
            label = "unsteered" if name == "none" else f"{name} ‖Δ‖={norm:.3g}"
            console.print(f"[bold]{label}[/bold]  [dim]{user}[/dim]\n  {text}", markup=True, highlight=False)


def _kl_scales(lm, vector, texts: list[str], budget: float, signs: list[int]) -> dict[int, float]:
    """Per sign, the displacement norm whose mean next-token KL to the unsteered model is ``budget``
    (steerid.experiments.kl_budget), measured on the evaluation prompts of the vector's trait when it
    names one steerid can load, else on the given prompts; prints the α found and its KL."""
    from steerid.capture import median_token_norm
    from steerid.experiments.kl_budget import DEFAULT_PROMPTS, KLMeter, alpha_for_kl
    from steerid.traits import resolve_trait
    from steerid.traits.formatting import format_chat

    source, kl_texts = "the given prompts", texts
    trait_name = vector.provenance.trait
    if trait_name:
        try:
            trait = resolve_trait(trait_name, seed=vector.provenance.seed or 0)
        except DataError:
            trait = None
        if trait is not None and trait.eval:
            kl_texts = [format_chat(lm.tokenizer, item.prompt) for item in list(trait.eval)[:DEFAULT_PROMPTS]]
            source = f"{len(kl_texts)} evaluation prompts of {trait.name}"
    norm = median_token_norm(lm, kl_texts, vector.site)
    meter = KLMeter(lm, vector.site, vector.direction, kl_texts, token_norm=norm)
    scales = {}
    for sign in signs:
        found = alpha_for_kl(meter, budget, sign)
        scales[sign] = found.displacement_norm
        err_console.print(f"kl:{budget:g} {'+' if sign > 0 else '-'}v: α_rel = {found.alpha_rel:.4g} (‖Δ‖ = "
                          f"{found.displacement_norm:.3g}), mean KL {found.kl:.4g} nats over {found.n_positions} "
                          f"positions of {source}" + ("" if found.reached else " — budget not reached"))
    return scales


@app.command()
def recover(
    model: ModelArg = "smollm2-135m",
    vector: Annotated[Path, typer.Option("--vector", help="a steerid .safetensors vector")] = Path("vector.safetensors"),
    constraint: Annotated[str, choice_option("--constraint", "constraint", CONSTRAINTS,
                                             "structural constraint that restores identifiability")] = "gauge",
    trait: Annotated[Optional[str], typer.Option("--trait", help="built-in trait or trait directory whose data feed the constraint (default: the vector's)")] = None,
    variance: Annotated[float, typer.Option("--variance", help="gauge: fraction of the basis' variance kept")] = 0.95,
    basis: Annotated[str, choice_option("--basis", "gauge basis", ("covariance", "fisher"),
                                        "gauge: covariance (activation row space) or fisher (output-Fisher row space)",
                                        fix="use --basis covariance or --basis fisher")] = "covariance",
    out: Annotated[Path, typer.Option("--out", help="output .safetensors path")] = Path("canonical.safetensors"),
    strict: Annotated[bool, typer.Option("--strict")] = False,
    dtype: DtypeOpt = "auto",
    device: DeviceOpt = "auto",
) -> None:
    """Recover a canonical vector under a structural constraint (provenance records it)."""
    from steerid.recover.pipeline import recover_vector
    from steerid.vector import SteeringVector

    if out.suffix != ".safetensors":
        raise DataError(f"output '{out}' must end in .safetensors", "e.g. --out canonical.safetensors")
    if not (0.0 < variance <= 1.0):
        raise DataError(f"--variance must be in (0, 1], got {variance}", "e.g. --variance 0.95")
    source = SteeringVector.load(vector)
    lm = load(model, dtype, device=device)
    source.check_compatible(lm.info, strict=strict)
    params = {"variance": variance, "basis": basis} if constraint == "gauge" else None
    with err_console.status(f"recovering under {constraint}…"):
        new, report = recover_vector(lm, source, constraint, trait=trait, params=params)
    new.save(out)
    console.print_json(data=report)
    console.print(f"wrote {out}  (cosine to the input {report['cosine_to_input']:.3f})")


@app.command("recover-bench")
def recover_bench(
    size: Annotated[str, choice_option("--size", "benchmark size", ("small", "full"), "small (CI) or full")] = "small",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Planted-direction benchmark of every constraint: recovery cosine and drift under v⊥."""
    quiet_libraries()
    from steerid.recover.benchmark import run_benchmark

    with err_console.status("running the planted-direction benchmark…"):
        result = run_benchmark(size, seed)  # type: ignore[arg-type]
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        console.print(result.table(), markup=False, highlight=False)
