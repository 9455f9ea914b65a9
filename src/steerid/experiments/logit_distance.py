r"""E4: how far apart are the next-token distributions under v and under v + v⊥?

For each prompt i, the continuation y⁽ⁱ⁾ is generated greedily under +v (displacement
α_rel · m · v̂, m the median token norm). It is then teacher-forced under every condition c, all
conditions of a prompt in one batch, and at each generated position j (predicting y_j from the
prompt and y_<j)

    KL_j(v ‖ c) = Σ_w p_v(w) [log p_v(w) − log p_c(w)],
    JS_j(v, c)  = ½ KL(p_v ‖ m) + ½ KL(p_c ‖ m),   m = ½ (p_v + p_c)      (nats, ≤ log 2),

averaged over the generated positions of the prompt: KLᵢ(c) = mean_j KL_j(v ‖ c). Conditions
(displacements, all with the same scope as the generation):

- ``none``: 0 — the scale that matters: how far steering moved the distribution at all;
- ``neg``: −αv̂ (optional);
- ``orth[ρ,k]``: αv̂ + v⊥ with v⊥ uniform on the sphere of radius ρ·α in v̂'s orthogonal
  complement (:func:`orthogonal_perturbation`), draws k = 1 … n_draws per ρ, one direction per
  draw shared by all prompts;
- ``random[ρ,k]``: a uniformly random direction of the same norm as αv̂ + v⊥, α·√(1 + ρ²).

Per condition: mean, median and a bootstrap CI (BCa) over prompts; per family and ρ the same on
the per-prompt mean over draws; and the paired ratios

    KL(v ‖ v+v⊥) / KL(v ‖ none),   KL(v ‖ v+v⊥) / KL(v ‖ random)

(ratio of means over prompts, prompts resampled jointly; :func:`steerid.stats.paired_ratio_ci`).
A small first ratio says v⊥ moves the distribution little compared with steering itself; a
first ratio near or above 1 says v⊥ matters as much as v. Prompts whose +v continuation is empty
(immediate end of sequence) have no generated position and are dropped (counted).
"""

from __future__ import annotations

from typing import ClassVar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from steerid.errors import DataError
from steerid.experiments.base import ExperimentContext
from steerid.experiments.directions import orthogonal_perturbation, random_direction
from steerid.engine.generation import generate, teacher_forced
from steerid.models.loader import LoadedModel
from steerid.models.site import Site
from steerid.results import ResultMixin, Summary, Table, fields_dict, jsonable, records_table
from steerid.stats import bootstrap_ci, paired_ratio_ci
from steerid.engine.steer import Scope


@dataclass(repr=False)
class Divergence(ResultMixin):
    """Per-prompt mean over generated positions of KL(p_ref ‖ p_c) and JS(p_ref, p_c) (NaN: no positions)."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("kl", "js")

    kl: np.ndarray
    js: np.ndarray


def _kl_js(logp: torch.Tensor, logq: torch.Tensor, mask: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Masked mean over positions of KL(p‖q) and JS(p, q); inputs ``(b, L, V)``, float64 math."""
    logp, logq = logp.double(), logq.double()
    p, q = logp.exp(), logq.exp()
    kl = (p * (logp - logq)).sum(-1)
    logm = torch.logaddexp(logp, logq) - np.log(2.0)
    js = 0.5 * (p * (logp - logm)).sum(-1) + 0.5 * (q * (logq - logm)).sum(-1)
    weight = mask.double()
    count = weight.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        kl_mean = ((kl * weight).sum(-1) / count).numpy()
        js_mean = ((js * weight).sum(-1) / count).numpy()
    empty = (count == 0).numpy()
    kl_mean[empty], js_mean[empty] = np.nan, np.nan
    return kl_mean, js_mean


def divergences(lm: LoadedModel, site: Site, prompts: Sequence[str], continuations: Sequence[Sequence[int]],
                reference: np.ndarray, conditions: Mapping[str, np.ndarray], *, scope: Scope = "all",
                batch_size: int = 64) -> dict[str, Divergence]:
    """KL / JS from the ``reference`` displacement to every condition, on teacher-forced continuations.

    Each prompt's rows ``[reference, condition 1, …]`` share one batch (one forward for all the
    conditions of a prompt; several prompts per batch when ``batch_size`` allows).

    Args:
        prompts: formatted prompts.
        continuations: token ids of each prompt's continuation (e.g. generated under ``reference``).
        reference: ``(d,)`` displacement defining p_ref.
        conditions: name → ``(d,)`` displacement (the same for every prompt).
        scope: steering scope, as used for generation.
        batch_size: rows per forward (rounded to whole prompts, at least one prompt).

    Returns:
        name → :class:`Divergence` with one value per prompt (NaN for an empty continuation).
    """
    names = list(conditions)
    if not names:
        raise DataError("no conditions to compare", "pass at least one condition")
    rows_per_prompt = 1 + len(names)
    per_row = np.stack([np.asarray(reference, dtype=np.float64)]
                       + [np.asarray(conditions[n], dtype=np.float64) for n in names])
    n = len(prompts)
    deltas = np.tile(per_row, (n, 1))
    group = max(1, batch_size // rows_per_prompt)
    kl = {name: np.full(n, np.nan) for name in names}
    js = {name: np.full(n, np.nan) for name in names}
    rep_prompts = [p for p in prompts for _ in range(rows_per_prompt)]
    rep_conts = [list(c) for c in continuations for _ in range(rows_per_prompt)]
    for chunk in teacher_forced(lm, rep_prompts, rep_conts, site=site, deltas=deltas, scope=scope,
                                batch_size=group * rows_per_prompt):
        first = chunk.rows.start // rows_per_prompt
        b = chunk.logprobs.shape[0] // rows_per_prompt
        lp = chunk.logprobs.view(b, rows_per_prompt, *chunk.logprobs.shape[1:])
        mask = chunk.mask.view(b, rows_per_prompt, -1)[:, 0]
        for c, name in enumerate(names, start=1):
            k, j = _kl_js(lp[:, 0], lp[:, c], mask)
            kl[name][first:first + b], js[name][first:first + b] = k, j
    return {name: Divergence(kl[name], js[name]) for name in names}


# --------------------------------------------------------------------------------------------
# E4 unit
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogitDistanceConfig:
    """E4 settings.

    Attributes:
        alpha_rel: steering strength relative to the median token norm.
        rhos: ‖v⊥‖ / ‖αv̂‖ ratios.
        n_draws: v⊥ (and random) draws per ρ.
        include_negative: add the −v condition.
        include_random: add the random-direction condition per ρ.
        max_new_tokens: length of the +v continuation.
        scope: steering scope for generation and teacher forcing.
        confidence / n_resamples: bootstrap settings.
    """

    alpha_rel: float = 0.05
    rhos: tuple[float, ...] = (0.5, 1.0, 2.0)
    n_draws: int = 8
    include_negative: bool = True
    include_random: bool = True
    max_new_tokens: int = 32
    scope: Scope = "all"
    confidence: float = 0.95
    n_resamples: int = 2000


@dataclass(repr=False)
class DivergenceSummary(ResultMixin):
    """Mean, median and bootstrap CI of the per-prompt KL and JS of one condition (or family)."""

    _repr_fields: ClassVar[tuple[str, ...]] = ("name", "n", "kl_mean", "js_mean")
    _title: ClassVar[str] = 'KL / JS of one condition'

    name: str
    family: str
    rho: float | None
    draw: int | None
    norm: float
    n: int
    kl_mean: float
    kl_median: float
    kl_ci: tuple[float, float]
    js_mean: float
    js_median: float
    js_ci: tuple[float, float]

    def to_dict(self) -> dict:
        return jsonable(fields_dict(self))


@dataclass(repr=False)
class LogitDistanceResult(ResultMixin):
    """E4 result.

    Attributes:
        conditions: one :class:`DivergenceSummary` per condition (per draw).
        families: per family and ρ, on the per-prompt mean over draws.
        ratios: paired ratio intervals of KL(v‖v+v⊥) over KL(v‖none) / KL(v‖random), per ρ.
        per_prompt: condition name → {"kl": [...], "js": [...]} over the used prompts.
        n_prompts / n_used / n_empty: prompts given, with ≥ 1 generated token, with none.
        mean_continuation_tokens: mean generated length over used prompts.
        alpha_abs: ‖αv̂‖.
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("site", "model", "n_used", "alpha_abs")

    site: str
    model: str
    conditions: list[DivergenceSummary]
    families: list[DivergenceSummary]
    ratios: list[dict]
    per_prompt: dict[str, dict[str, list[float]]]
    n_prompts: int
    n_used: int
    n_empty: int
    mean_continuation_tokens: float
    alpha_abs: float
    config: dict

    def to_dict(self) -> dict:
        return jsonable({"experiment": "E4", **fields_dict(self)})

    def summary(self) -> Summary:
        """KL / JS per family and ρ, and the ratio intervals against the v-vs-none scale."""
        families = Table(("family", "ρ", "n", "KL mean", "KL CI", "JS mean", "JS CI"), tuple(
            (f.family, f.rho, f.n, f.kl_mean, f.kl_ci, f.js_mean, f.js_ci) for f in self.families))
        ratios = records_table(self.ratios, [("ρ", "rho"), ("numerator", "numerator"), ("denominator", "denominator"),
                                             ("ratio", "interval.estimate"), ("low", "interval.low"),
                                             ("high", "interval.high")], title="KL ratios")
        return Summary("E4 logit distance (KL, JS on the +v continuation)", rows=[
            ("site", self.site), ("model", self.model), ("prompts", self.n_prompts), ("prompts used", self.n_used),
            ("mean continuation tokens", self.mean_continuation_tokens), ("displacement norm ‖αv‖", self.alpha_abs),
        ], tables=[families, ratios])


def describe(values: np.ndarray, *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> dict:
    """Mean, median and bootstrap CI (BCa) of the mean of per-prompt values."""
    x = np.asarray(values, dtype=np.float64)
    ci = bootstrap_ci(x, np.mean, confidence=confidence, n_resamples=n_resamples, seed=seed)
    return {"n": int(x.size), "mean": float(x.mean()), "median": float(np.median(x)), "ci": (ci.low, ci.high),
            "ci_method": ci.method}


def _summary(name: str, family: str, rho, draw, norm: float, kl: np.ndarray, js: np.ndarray,
             config: LogitDistanceConfig, seed: int) -> DivergenceSummary:
    opts = dict(confidence=config.confidence, n_resamples=config.n_resamples, seed=seed)
    k, j = describe(kl, **opts), describe(js, **opts)
    return DivergenceSummary(name, family, rho, draw, float(norm), k["n"], k["mean"], k["median"], k["ci"],
                             j["mean"], j["median"], j["ci"])


def build_conditions(v_disp: np.ndarray, config: LogitDistanceConfig, rng: np.random.Generator
                     ) -> tuple[dict[str, np.ndarray], dict[str, tuple[str, float | None, int | None]]]:
    """Condition displacements and their (family, ρ, draw) labels; draws are seeded by ``rng``."""
    d = v_disp.shape[0]
    alpha = float(np.linalg.norm(v_disp))
    conditions: dict[str, np.ndarray] = {"none": np.zeros(d)}
    labels: dict[str, tuple[str, float | None, int | None]] = {"none": ("none", None, None)}
    if config.include_negative:
        conditions["neg"], labels["neg"] = -v_disp, ("neg", None, None)
    for rho in config.rhos:
        if not rho > 0:
            raise DataError(f"ρ must be > 0, got {rho}", "use ratios such as 0.5, 1, 2")
        for k in range(config.n_draws):
            name = f"orth[{rho:g},{k}]"
            conditions[name] = v_disp + orthogonal_perturbation(v_disp, rho, rng)
            labels[name] = ("orth", float(rho), k)
            if config.include_random:
                name = f"random[{rho:g},{k}]"
                conditions[name] = alpha * np.sqrt(1.0 + rho**2) * random_direction(d, rng)
                labels[name] = ("random", float(rho), k)
    return conditions, labels


def run(config: LogitDistanceConfig, ctx: ExperimentContext) -> LogitDistanceResult:
    """E4: KL / JS between +v and each condition on the +v greedy continuation."""
    if config.n_draws < 1:
        raise DataError(f"n_draws must be ≥ 1, got {config.n_draws}", "use at least one draw per ρ (≥ 8 recommended)")
    lm, site = ctx.lm, ctx.site
    v_disp = ctx.displacement(config.alpha_rel)
    rng = np.random.default_rng(ctx.seed)
    conditions, labels = build_conditions(v_disp, config, rng)
    gen = generate(lm, ctx.prompts, site=site, deltas=v_disp, scope=config.scope, max_new_tokens=config.max_new_tokens,
                   batch_size=ctx.batch_size)
    used = [i for i, toks in enumerate(gen.tokens) if toks]
    if len(used) < 2:
        raise DataError(f"only {len(used)} prompt(s) produced a continuation under +v",
                        "use more prompts or a smaller alpha_rel")
    prompts = [ctx.prompts[i] for i in used]
    conts = [gen.tokens[i] for i in used]
    div = divergences(lm, site, prompts, conts, v_disp, conditions, scope=config.scope, batch_size=ctx.batch_size)
    summaries = [
        _summary(name, *labels[name], float(np.linalg.norm(conditions[name])), div[name].kl, div[name].js, config, ctx.seed)
        for name in conditions
    ]
    families: list[DivergenceSummary] = []
    ratios: list[dict] = []
    none_kl = div["none"].kl
    for rho in config.rhos:
        fam = {}
        for family in ("orth", "random"):
            names = [n for n, lab in labels.items() if lab[0] == family and lab[1] == float(rho)]
            if not names:
                continue
            kl = np.mean([div[n].kl for n in names], axis=0)
            js = np.mean([div[n].js for n in names], axis=0)
            norm = float(np.mean([np.linalg.norm(conditions[n]) for n in names]))
            families.append(_summary(f"{family}[{rho:g}]", family, float(rho), None, norm, kl, js, config, ctx.seed))
            fam[family] = kl
        common = dict(confidence=config.confidence, n_resamples=config.n_resamples, seed=ctx.seed)
        ratios.append({"rho": float(rho), "numerator": "orth", "denominator": "none", "metric": "kl",
                       "interval": paired_ratio_ci(fam["orth"], none_kl, **common).to_dict()})
        if "random" in fam:
            ratios.append({"rho": float(rho), "numerator": "orth", "denominator": "random", "metric": "kl",
                           "interval": paired_ratio_ci(fam["orth"], fam["random"], **common).to_dict()})
    per_prompt = {name: {"kl": div[name].kl.tolist(), "js": div[name].js.tolist()} for name in conditions}
    return LogitDistanceResult(
        site=str(site), model=lm.info.name, conditions=summaries, families=families, ratios=ratios, per_prompt=per_prompt,
        n_prompts=len(ctx.prompts), n_used=len(used), n_empty=len(ctx.prompts) - len(used),
        mean_continuation_tokens=float(np.mean([len(c) for c in conts])), alpha_abs=float(np.linalg.norm(v_disp)),
        config=jsonable(config),
    )


# E4 (its name in audit configs, the CLI and the report) — aliases of the descriptive names.
E4Config = LogitDistanceConfig
E4Result = LogitDistanceResult
