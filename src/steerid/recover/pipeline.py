"""Recover a canonical vector on a real model: gather what each constraint needs, then apply it.

Inputs are built from the model and the vector's trait, at the vector's own site:

* ``gauge``      — ``basis=covariance`` (default): token covariance of the trait's evaluation
                   prompts (first tokens skipped), projection onto the eigenspace holding
                   ``variance`` of it; ``basis=fisher``: the top ``fisher_k`` eigenpairs (Lanczos)
                   of the output Fisher F̄ = Jᵀ(diag p − ppᵀ)J averaged over the last
                   ``fisher_positions`` positions of ``fisher_prompts`` evaluation prompts,
                   projection onto the eigenspace holding ``variance`` of their sum;
* ``sparse``     — pooled activations of the trait's contrastive pairs (stability selection);
* ``multienv``   — the same pairs in three *formats* (chat turn, reply alone, base-model
                   "Question/Answer" framing), each an environment; the shared direction;
* ``crosslayer`` — mean-difference vectors at layers L−2 … L+2, the most consistent one;
* ``ica``        — differences of the pairs of *all* built-in traits, unmixed by FastICA; the
                   component closest to the vector.

Each returns a new :class:`SteeringVector` whose provenance records the constraint, its
parameters and its diagnostics, and a JSON-safe report.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from steerid.capture import token_moments
from steerid.errors import DataError
from steerid.experiments.fisher import fisher_spectrum
from steerid.extract.mean_diff import MeanDiff
from steerid.extract.pipeline import pair_activations
from steerid.models.loader import LoadedModel
from steerid.models.site import Site
from steerid.recover import make_constraint
from steerid.results import jsonable
from steerid.traits import format_chat, list_traits, load_trait, resolve_trait
from steerid.traits.schema import ContrastivePair
from steerid.vector import SteeringVector

CONSTRAINT_NAMES = ("gauge", "sparse", "multienv", "crosslayer", "ica")


def _with(vector: SteeringVector, direction: np.ndarray, constraint: str, params: dict[str, Any],
          site: Site | None = None) -> SteeringVector:
    direction = np.asarray(direction, dtype=np.float64)
    direction = direction / np.linalg.norm(direction)
    if float(direction @ vector.direction) < 0:
        direction = -direction
    provenance = replace(vector.provenance, method=f"{vector.provenance.method}+{constraint}",
                         site=str(site or vector.site),
                         method_params={**vector.provenance.method_params, constraint: jsonable(params)})
    return SteeringVector(direction=direction, norm=vector.norm, provenance=provenance)


def pair_formats(lm: LoadedModel, pairs: list[ContrastivePair]) -> dict[str, list[ContrastivePair]]:
    """The pairs in three formats (chat turn, reply alone, base-model Q/A): the multienv environments."""
    bare = [ContrastivePair(id=p.id, prompt=None, positive=p.positive, negative=p.negative) for p in pairs]
    base = [ContrastivePair(id=p.id, prompt=None, positive=f"Question: {p.prompt}\nAnswer: {p.positive}",
                            negative=f"Question: {p.prompt}\nAnswer: {p.negative}") for p in pairs if p.prompt]
    return {"chat": pairs, "bare": bare, "base": base}


def fisher_eigenpairs(lm: LoadedModel, site: Site, prompts: list[str], *, batch_size: int, fisher_prompts: int = 16,
                      fisher_positions: int = 4, fisher_k: int = 64) -> tuple[tuple[np.ndarray, np.ndarray], dict[str, Any]]:
    """Top eigenpairs of the output Fisher at ``site`` over the first ``fisher_prompts`` prompts."""
    k = min(int(fisher_k), lm.info.hidden_size - 1)
    spec = fisher_spectrum(lm, site, prompts[: int(fisher_prompts)], positions=int(fisher_positions),
                           batch_size=batch_size, method="lanczos" if k < lm.info.hidden_size - 1 else "auto", k=k)
    return (spec.eigenvalues, spec.eigenvectors), {"fisher_prompts": spec.n_prompts, "fisher_points": spec.n_positions,
                                                   "fisher_k": spec.k}


def recover_vector(lm: LoadedModel, vector: SteeringVector, constraint: str, *, trait: str | None = None,
                   params: dict[str, Any] | None = None, batch_size: int = 16) -> tuple[SteeringVector, dict[str, Any]]:
    """Apply ``constraint`` to ``vector`` (see module docstring); returns the new vector and a report."""
    if constraint not in CONSTRAINT_NAMES:
        raise DataError(f"unknown constraint '{constraint}'", f"use one of: {', '.join(CONSTRAINT_NAMES)}")
    trait_name = trait or vector.provenance.trait
    if trait_name in (None, "", "custom"):
        raise DataError("the vector records no trait", "pass --trait NAME or --trait PATH/TO/TRAIT_DIR")
    if trait is None and trait_name not in list_traits():  # a vector of a trait directory: the name alone is not enough
        recorded = (vector.provenance.extra.get("trait") or {}).get("source") if isinstance(
            vector.provenance.extra.get("trait"), dict) else None
        where = f"--trait {recorded}" if recorded else "--trait PATH/TO/TRAIT_DIR"
        raise DataError(f"the vector's trait '{trait_name}' is not a built-in trait, so steerid has no pairs or "
                        "prompts for it", f"pass {where}, or --trait with one of: {', '.join(list_traits())}")
    data = resolve_trait(trait_name, seed=vector.provenance.seed)
    site = vector.site
    site.check(lm.info.n_layers)
    pairs = list(data.pairs)
    params = dict(params or {})
    fisher_settings = {key: params.pop(key) for key in ("fisher_prompts", "fisher_positions", "fisher_k") if key in params}
    if fisher_settings and params.get("basis") != "fisher":
        raise DataError(f"{', '.join(fisher_settings)} only apply to the gauge constraint with basis=fisher",
                        "add --param basis=fisher or drop them")
    model = make_constraint(constraint, **params)
    report: dict[str, Any] = {"constraint": constraint, "trait": data.name, "site": str(site)}
    if constraint == "gauge":
        prompts = [format_chat(lm.tokenizer, p.prompt) for p in data.eval_prompts()]
        if params.get("basis") == "fisher":
            source, basis_report = fisher_eigenpairs(lm, site, prompts, batch_size=batch_size, **fisher_settings)
        else:
            moments, _ = token_moments(lm, prompts, site, batch_size=batch_size)
            source, basis_report = moments.covariance(), {"n_tokens": moments.n}
        result = model.fit(source).transform(vector.direction)
        new = _with(vector, result.direction, constraint, {**model.params(), **basis_report,
                                                           "removed_fraction": result.removed_fraction})
        report.update({**model.params(), **basis_report}, removed_fraction=result.removed_fraction)
    elif constraint == "sparse":
        pos, neg = pair_activations(lm, pairs, [site], batch_size=batch_size)[site]
        model.fit(pos, neg)
        new = _with(vector, model.direction_, constraint, {"stability": model.stability_, "reliable": model.reliable_})
        report.update(stability=model.stability_, support=int(len(model.support_)), reliable=model.reliable_,
                      diagnosis=model.diagnosis_)
    elif constraint == "multienv":
        envs = {name: pair_activations(lm, ps, [site], batch_size=batch_size)[site]
                for name, ps in pair_formats(lm, pairs).items()}
        model.fit(envs)
        new = _with(vector, model.direction_, constraint, {"shared": model.shared_})
        report.update(environments=model.names_, cosines=model.cosines_, shared=model.shared_,
                      p_adjusted=model.p_adjusted_)
    elif constraint == "crosslayer":
        layers = [layer for layer in range(site.layer - 2, site.layer + 3) if 1 <= layer < lm.info.n_layers]
        acts = pair_activations(lm, pairs, [Site(layer) for layer in layers], batch_size=batch_size)
        vectors = {layer: MeanDiff().fit(*acts[Site(layer)]).direction_ for layer in layers}
        model.fit(vectors)
        new = _with(vector, model.direction_, constraint, {"best_layer": model.best_, "consistent": model.consistent_},
                    site=Site(int(model.best_)))
        report.update(layers=layers, mean_cosine=model.mean_cosine_, best_layer=model.best_,
                      consistent=model.consistent_)
    else:  # ica
        names = list_traits()
        diffs = []
        for name in names:
            pos, neg = pair_activations(lm, list(load_trait(name).pairs), [site], batch_size=batch_size)[site]
            diffs.append(pos - neg)
        if "n_components" not in (params or {}):
            model = make_constraint("ica", n_components=len(names), **(params or {}))
        model.fit(np.concatenate(diffs))
        similarity = np.abs(model.directions_ @ vector.direction)
        best = int(np.argmax(similarity))
        new = _with(vector, model.directions_[best], constraint, {"component": best, "identifiable": model.identifiable_})
        report.update(component=best, abs_cosine=float(similarity[best]), identifiable=model.identifiable_,
                      excess_kurtosis=model.excess_kurtosis_)
    report["cosine_to_input"] = float(new.direction @ vector.direction)
    return new, jsonable(report)
