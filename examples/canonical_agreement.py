"""How far do canonical vectors agree where raw steering vectors do not? (SmolLM2, one site)

For each trait, at ``Site(layer)``:

* ``v``           — the mean-difference vector of the trait's pairs (unit norm);
* ``v + v⊥``      — ``n_draws`` perturbations with v⊥ uniform in v's orthogonal complement,
                    ‖v⊥‖ = ρ‖v‖ (E1's construction), each renormalised;
* methods         — mean_diff, pca, probe, lda from the same pairs;
* environments    — mean-difference vectors of the pairs in three formats (chat turn, reply
                    alone, base-model Q/A; :func:`steerid.recover.pipeline.pair_formats`).

Each vector family is mapped by a canonicaliser and we report cosines within the family:

* ``raw``                 — no constraint;
* ``gauge/covariance@q``  — projection onto the token-covariance eigenspace holding q of the variance;
* ``gauge/fisher@q``      — projection onto the top output-Fisher eigenspace holding q of the top-k sum.

The data-driven constraints (multienv, crosslayer, ica, sparse) do not read the input vector
beyond its sign, so their agreement across v⊥ draws is 1 by construction; their cosine to v is
reported instead.

    python examples/canonical_agreement.py --traits sentiment,formality --out agreement.json
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import combinations

import numpy as np

from steerid.recover.pipeline import fisher_eigenpairs, pair_formats, recover_vector
from steerid.capture import token_moments
from steerid.experiments.directions import orthogonal_perturbation
from steerid.extract.pipeline import extract_vector, pair_activations
from steerid.extract.registry import make_extractor
from steerid.io import atomic_write_text
from steerid.models import Site, load_model
from steerid.recover.gauge import GaugeFix
from steerid.traits import format_chat, load_trait


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x)


def _pairwise(vectors: list[np.ndarray]) -> dict[str, float]:
    cos = [float(abs(_unit(a) @ _unit(b))) for a, b in combinations(vectors, 2)]
    return {"mean": float(np.mean(cos)), "min": float(np.min(cos))}


def _to_reference(reference: np.ndarray, vectors: list[np.ndarray]) -> dict[str, float]:
    cos = [float(abs(_unit(reference) @ _unit(b))) for b in vectors]
    return {"mean": float(np.mean(cos)), "min": float(np.min(cos))}


def trait_agreement(lm, trait: str, site: Site, *, rho: float, n_draws: int, seed: int,
                    fisher_prompts: int, fisher_k: int) -> dict:
    data = load_trait(trait)
    pairs = list(data.pairs)
    start = time.perf_counter()
    pos, neg = pair_activations(lm, pairs, [site])[site]
    methods = {m: make_extractor(m).fit(pos, neg).direction_ for m in ("mean_diff", "pca", "probe", "lda")}
    v = _unit(methods["mean_diff"])
    rng = np.random.default_rng(seed)
    draws = [_unit(v + orthogonal_perturbation(v, rho, rng)) for _ in range(n_draws)]
    formats = {name: _unit(make_extractor("mean_diff").fit(*pair_activations(lm, ps, [site])[site]).direction_)
               for name, ps in pair_formats(lm, pairs).items()}

    prompts = [format_chat(lm.tokenizer, p.prompt) for p in data.eval_prompts()]
    moments, _ = token_moments(lm, prompts, site)
    covariance = moments.covariance()
    fisher, fisher_info = fisher_eigenpairs(lm, site, prompts, batch_size=16, fisher_prompts=fisher_prompts,
                                             fisher_k=fisher_k)
    canonicalisers = {"raw": None}
    for q in (0.95, 0.99):
        canonicalisers[f"gauge/covariance@{q:g}"] = GaugeFix("covariance", variance=q).fit(covariance)
        canonicalisers[f"gauge/fisher@{q:g}"] = GaugeFix("fisher", variance=q).fit(fisher)

    rows = {}
    for name, gauge in canonicalisers.items():
        c = (lambda x: x) if gauge is None else (lambda x, g=gauge: g.transform(x).direction)
        rows[name] = {
            "rank_kept": None if gauge is None else gauge.rank_,
            "removed_fraction_of_v": 0.0 if gauge is None else float(gauge.transform(v).removed_fraction),
            "v_vs_v_plus_perp": _to_reference(c(v), [c(x) for x in draws]),
            "across_methods": _pairwise([c(x) for x in methods.values()]),
            "across_environments": _pairwise([c(x) for x in formats.values()]),
        }
    vector = extract_vector(lm, pairs, site, trait=trait, activations=(pos, neg))  # v with its provenance
    structural = {}
    for constraint, params in (("multienv", None), ("crosslayer", None), ("ica", None), ("sparse", {"n_resamples": 20})):
        new, report = recover_vector(lm, vector, constraint, params=params)
        structural[constraint] = {"cosine_to_v": float(new.direction @ v),
                                  **{k: report[k] for k in ("shared", "consistent", "identifiable", "reliable", "best_layer")
                                     if k in report}}
    return {"trait": trait, "site": str(site), "rho": rho, "n_draws": n_draws, "n_pairs": len(pairs),
            "n_cov_tokens": moments.n, "fisher": fisher_info, "canonicalisers": rows, "structural": structural,
            "method_names": list(methods), "environment_names": list(formats),
            "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--traits", default="sentiment,formality,politeness,truthfulness,agreeableness")
    parser.add_argument("--layer", type=int, default=15)
    parser.add_argument("--rho", type=float, default=1.0)
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--fisher-prompts", type=int, default=16)
    parser.add_argument("--fisher-k", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="agreement.json")
    args = parser.parse_args()
    lm = load_model(args.model)
    results = []
    for trait in args.traits.split(","):
        results.append(trait_agreement(lm, trait, Site(args.layer), rho=args.rho, n_draws=args.draws, seed=args.seed,
                                       fisher_prompts=args.fisher_prompts, fisher_k=args.fisher_k))
        atomic_write_text(args.out, json.dumps({"model": lm.info.name, "results": results}, indent=2))
        r = results[-1]
        print(f"{trait} ({r['seconds']:.0f} s)")
        for name, row in r["canonicalisers"].items():
            print(f"  {name:22s} kept {str(row['rank_kept']):>4s}  removed {row['removed_fraction_of_v']:.2f}  "
                  f"v~v+v⊥ {row['v_vs_v_plus_perp']['mean']:.3f} (min {row['v_vs_v_plus_perp']['min']:.3f})  "
                  f"methods {row['across_methods']['mean']:.3f} (min {row['across_methods']['min']:.3f})  "
                  f"formats {row['across_environments']['mean']:.3f} (min {row['across_environments']['min']:.3f})")
        for name, row in r["structural"].items():
            print(f"  {name:22s} cos to v {row['cosine_to_v']:+.3f}")


if __name__ == "__main__":
    main()
