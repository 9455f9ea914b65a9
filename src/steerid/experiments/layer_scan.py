"""Layer choice: where is a trait linearly readable, and where does steering move it?

For each layer L (site ``in:L``):

* probe accuracy — a logistic probe (the ``probe`` extractor's cross-validated accuracy) on the
  pooled activations of the trait's contrastive pairs: how linearly readable the trait is;
* likelihood shift — with the mean-difference vector v̂_L extracted at L and a displacement of
  α_rel·m_L (m_L the median token norm at L), the mean over likelihood items of
  L(+v) − L(−v), where L = mean log p(y⁺|x) − mean log p(y⁻|x) per token: how much steering at L
  moves the model towards trait-positive continuations. Comparable across layers because α is
  relative to each layer's own residual scale.

With a KL budget B (``kl_budget``, the CLI's ``--alpha kl:B``) each layer and sign gets its own
α_rel, found by :func:`steerid.experiments.kl_budget.alpha_for_kl` so that the mean
KL(p_steered ‖ p_unsteered) over the unsteered greedy continuations of the trait's evaluation
prompts is within B; the row records the α per sign and its KL, and the likelihood shift is
measured at those strengths — strengths comparable across layers in units of the output.

The best layer maximises the likelihood shift (steering is the use case); the paper's default
(L // 2) is reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from steerid.capture import median_token_norm
from steerid.extract.mean_diff import MeanDiff
from steerid.extract.pipeline import pair_activations
from steerid.experiments.kl_budget import DEFAULT_PROMPTS, KLMeter, alpha_for_kl
from steerid.extract.probe import Probe
from steerid.engine.generation import continuation_logprobs
from steerid.models.loader import LoadedModel
from steerid.models.site import Site
from steerid.results import ResultMixin, Summary, Table
from steerid.traits.formatting import format_chat
from steerid.traits.schema import Trait


@dataclass(repr=False)
class LayerScan(ResultMixin):
    """Per layer: probe accuracy and likelihood shift (``rows``), the best layer and the paper's L // 2."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("trait", "alpha_rel", "best_layer", "middle_layer")

    trait: str
    alpha_rel: float | None
    rows: list[dict[str, Any]]
    best_layer: int
    middle_layer: int
    kl_budget: float | None = None

    def summary(self) -> Summary:
        """Per layer: probe accuracy and likelihood shift; the best and the middle layer."""
        keys = list(self.rows[0]) if self.rows else []
        strength = f"α_rel = {self.alpha_rel:g}" if self.kl_budget is None else f"KL budget {self.kl_budget:g}"
        return Summary(f"Layer scan ({self.trait}, {strength})", rows=[
            ("best layer", self.best_layer), ("middle layer", self.middle_layer),
        ], tables=[Table(tuple(keys), tuple(tuple(r.get(k) for k in keys) for r in self.rows))])


def scan_layers(lm: LoadedModel, trait: Trait, *, layers: list[int] | None = None, alpha_rel: float = 0.1,
                n_items: int = 24, batch_size: int = 32, seed: int = 0, kl_budget: float | None = None) -> LayerScan:
    """Probe accuracy and likelihood shift at every layer (see module docstring); with ``kl_budget``
    the strength of each layer and sign is the α that spends that KL budget (``alpha_rel`` unused)."""
    layers = list(range(1, lm.info.n_layers)) if layers is None else layers
    sites = [Site(layer) for layer in layers]
    for site in sites:
        site.check(lm.info.n_layers)
    acts = pair_activations(lm, trait.pairs, sites, batch_size=batch_size)
    items = list(trait.likelihood)[:n_items]
    prompts = [format_chat(lm.tokenizer, item.prompt) for item in items]
    kl_prompts = [format_chat(lm.tokenizer, item.prompt) for item in list(trait.eval)[:DEFAULT_PROMPTS]] or prompts
    rows = []
    for site in sites:
        pos, neg = acts[site]
        probe = Probe(cv=5, seed=seed).fit(pos, neg)
        direction = MeanDiff().fit(pos, neg).direction_
        norm = median_token_norm(lm, prompts, site, batch_size=batch_size)
        scales = {1: alpha_rel * norm, -1: alpha_rel * norm}
        kl_record: dict[str, Any] = {}
        if kl_budget is not None:
            meter = KLMeter(lm, site, direction, kl_prompts, token_norm=norm, batch_size=batch_size)
            found = {s: alpha_for_kl(meter, kl_budget, s) for s in (1, -1)}
            scales = {s: f.displacement_norm for s, f in found.items()}
            kl_record = {"alpha_rel_pos": found[1].alpha_rel, "alpha_rel_neg": found[-1].alpha_rel,
                         "kl_pos": found[1].kl, "kl_neg": found[-1].kl,
                         "kl_reached": bool(found[1].reached and found[-1].reached)}
        scale = scales[1]
        # both signs in one batch: rows are (item, +v) and (item, −v), each scoring y⁺ and y⁻
        deltas = np.stack([sign * scales[sign] * direction for _ in items for sign in (1, -1)])
        both = continuation_logprobs(lm, [p for p in prompts for _ in range(2)],
                                     [(i.positive, i.negative) for i in items for _ in range(2)],
                                     site=site, deltas=deltas, batch_size=batch_size, reduce="mean")
        shift = (both[:, 0] - both[:, 1]).reshape(len(items), 2)
        shifts = [shift[:, 0], shift[:, 1]]
        diff = shifts[0] - shifts[1]
        rows.append({"layer": site.layer, "probe_cv_accuracy": probe.params()["cv_accuracy"],
                     "likelihood_shift": float(diff.mean()),
                     "likelihood_shift_se": float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else float("nan"),
                     "displacement_norm": scale, **kl_record})
    best = max(rows, key=lambda r: r["likelihood_shift"])["layer"]
    return LayerScan(trait=trait.name, alpha_rel=None if kl_budget is not None else alpha_rel, rows=rows,
                     best_layer=best, middle_layer=lm.info.n_layers // 2, kl_budget=kl_budget)
