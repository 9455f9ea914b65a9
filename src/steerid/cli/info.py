"""``steerid info``, ``steerid traits`` and ``steerid layers``: what a model and the trait library hold.

Model code is imported inside each command (the model stack costs ~5 s to import; ``--help`` and
the error paths must not pay for it).
"""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from steerid.cli.common import (DeviceOpt, DtypeOpt, ModelArg, app, check_alpha, console, err_console, load,
                                new_table)
from steerid.errors import DataError

PROBE_TEXTS = ("The weather today is mild and the streets are quiet.",
               "Please describe how a bicycle works in a few sentences.",
               "My favourite meal is a simple bowl of soup with fresh bread.")
"""Texts whose residual norms ``steerid info`` reports."""


@app.command()
def info(model: ModelArg = "smollm2-135m", as_json: Annotated[bool, typer.Option("--json")] = False,
         dtype: DtypeOpt = "auto", device: DeviceOpt = "auto") -> None:
    """Family, layers, hidden size, sites and the median residual norm per layer."""
    import numpy as np

    from steerid.capture import capture, median_token_norm
    from steerid.models import Site

    lm = load(model, dtype, device=device)
    sites = [Site(layer) for layer in range(lm.info.n_layers)]
    # the relative-α scale (real, non-first tokens) and the attention sink's norm (each text's first token)
    norms = {s.layer: median_token_norm(lm, list(PROBE_TEXTS), s) for s in sites}
    first_rows = [capture(lm, [text], sites, pooling="all") for text in PROBE_TEXTS]
    first_norms = {s.layer: float(np.median([np.linalg.norm(rows[s][0]) for rows in first_rows])) for s in sites}
    data = {**lm.info.to_dict(), "sites": [str(s) for s in sites],
            "median_token_norm": norms, "median_first_token_norm": first_norms}
    if as_json:
        print(json.dumps(data, indent=2))
        return
    table = new_table(f"{lm.info.name} ({lm.info.family}, {lm.info.n_layers} layers, d={lm.info.hidden_size})",
                      ["site", "median token norm", "first-token norm"], names=[str(s) for s in sites])
    for s in sites:
        table.add_row(str(s), f"{norms[s.layer]:.1f}", f"{first_norms[s.layer]:.1f}")
    console.print(table)
    console.print(f"chat template: {lm.info.has_chat_template}   weights sha256: {lm.info.weights_hash[:16]}…   "
                  f"device: {lm.info.device}   dtype: {lm.info.dtype}")


@app.command()
def traits() -> None:
    """List the built-in traits with their counts of pairs and prompts."""
    from steerid.traits import list_traits, load_trait

    names = list_traits()
    table = new_table("built-in traits", ["trait", "pairs", "likelihood", "in_distribution", "topic_shift",
                                          "genre_shift"], names=names)
    for name in names:
        counts = load_trait(name).counts()
        table.add_row(name, str(counts.get("pairs")), str(counts.get("likelihood")),
                      *(str(counts.get(f"eval_{env}", 0)) for env in ("in_distribution", "topic_shift", "genre_shift")))
    console.print(table)


@app.command()
def layers(
    model: ModelArg = "smollm2-135m",
    trait: Annotated[str, typer.Option("--trait", help="built-in trait or trait directory")] = "sentiment",
    alpha: Annotated[str, typer.Option("--alpha", help="relative strength α_rel used for the likelihood shift, or "
                                       "kl:B: per layer and sign the α whose mean next-token KL is B nats")] = "0.1",
    layer_list: Annotated[Optional[str], typer.Option("--layers", help="comma-separated layers (default: all but 0)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    seed: Annotated[int, typer.Option("--seed", help="held-out split of a trait directory without likelihood.jsonl")] = 0,
    dtype: DtypeOpt = "auto",
    device: DeviceOpt = "auto",
) -> None:
    """Per layer: probe accuracy of the trait and likelihood shift under its mean-diff vector."""
    from steerid.experiments.layer_scan import scan_layers
    from steerid.traits import resolve_trait

    from steerid.experiments.kl_budget import KLBudget, parse_strength

    strength = parse_strength(alpha)
    budget = strength.budget if isinstance(strength, KLBudget) else None
    alpha_rel = 0.1 if isinstance(strength, KLBudget) else check_alpha(strength)
    trait_data = resolve_trait(trait, seed=seed)
    try:
        chosen = [int(x) for x in layer_list.split(",")] if layer_list else None
    except ValueError as exc:
        raise DataError(f"cannot parse --layers '{layer_list}'", "write e.g. --layers 5,10,15") from exc
    lm = load(model, dtype, device=device)
    with err_console.status(f"scanning layers for {trait_data.name}…"):
        scan = scan_layers(lm, trait_data, layers=chosen, alpha_rel=alpha_rel, kl_budget=budget)
    if as_json:
        print(json.dumps(scan.to_dict(), indent=2))
        return
    strength_text = f"α_rel = {alpha_rel:g}" if budget is None else f"KL budget {budget:g} nats/position"
    columns = ["layer", "probe CV accuracy", "likelihood shift L(+v)−L(−v)", "± s.e."]
    if budget is not None:
        columns += ["α_rel +v (KL)", "α_rel −v (KL)"]
    table = new_table(f"{trait_data.name} on {lm.info.name}: {strength_text}", columns)
    for r in scan.rows:
        mark = " ★" if r["layer"] == scan.best_layer else (" (L//2)" if r["layer"] == scan.middle_layer else "")
        cells = [f"{r['layer']}{mark}", f"{r['probe_cv_accuracy']:.3f}", f"{r['likelihood_shift']:+.3f}",
                 f"{r['likelihood_shift_se']:.3f}"]
        if budget is not None:
            cells += [f"{r['alpha_rel_pos']:.3g} ({r['kl_pos']:.3f})", f"{r['alpha_rel_neg']:.3g} ({r['kl_neg']:.3f})"]
        table.add_row(*cells)
    console.print(table)
    console.print(f"best layer by likelihood shift: {scan.best_layer}; middle layer L//2 = {scan.middle_layer}")
