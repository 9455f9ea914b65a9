"""Runs audit units: one model load per worker process, then extraction and the experiment.

A :class:`Worker` holds the loaded model and everything units share (trait data, pair
activations, vectors, token norms, scorers), so a process that runs many units loads the model
once. :func:`get_worker` keeps one worker per process (the Ray executor's workers reuse it across
tasks). ``run_unit`` returns a JSON-safe dict that depends only on the unit's spec: torch runs
with the config's fixed thread count, vectors pass through their float32 storage form before use
(so a resumed run that reads them back computes the same numbers), and every random draw is
seeded from the audit seed and the unit id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import logging
import os
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

import torch

from steerid.audit.config import AuditConfig
from steerid.audit.grid import Unit, unit_seed
from steerid.capture import median_token_norm
from steerid.errors import ConfigError, DataError, VectorError
from steerid.experiments import farthest, likelihood, logit_distance, methods, nullspace, orthogonal, spanning
from steerid.experiments.base import ExperimentContext
from steerid.experiments.measures import measures_for_trait
from steerid.extract.pipeline import extract_vector, pair_activations
from steerid.models import Site, load_model
from steerid.models.loader import resolve_device, resolve_dtype
from steerid.recover.stability import compare_methods
from steerid.results import jsonable
from steerid.audit.custom_traits import trait_source
from steerid.traits import resolve_trait, scorer_for_trait
from steerid.traits.formatting import format_chat, has_chat_template
from steerid.vector import SteeringVector

log = logging.getLogger(__name__)

VECTORS_DIR = "vectors"
Progress = Callable[[str], None]


def direction_sha256(direction: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(direction, dtype=np.float32).tobytes()).hexdigest()


def vector_filename(trait: str, layer: int, point: str, method: str) -> str:
    return f"{trait}__{point}{layer}__{method}.safetensors"


def _dataclass_config(cls: type, **values: Any) -> Any:
    """Build an experiment's config dataclass from the values it accepts (others are ignored)."""
    names = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set(
        inspect.signature(cls).parameters)
    return cls(**{k: v for k, v in values.items() if k in names})


class Worker:
    """Everything needed to run the units of one (resolved) audit config in this process."""

    def __init__(self, config: AuditConfig, run_dir: Path, lm: Any = None, device: str = "cpu") -> None:
        self.config = config
        self.device = device
        self.run_dir = Path(run_dir)
        torch.set_num_threads(config.threads)
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self._lm = lm
        self._acts: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._vectors: dict[tuple, Any] = {}
        self._norms: dict[tuple, float] = {}
        self._measures: dict[tuple, dict] = {}
        self._traits: dict[str, Any] = {}
        self._scorers: dict[str, Any] = {}
        self._given = None

    # ---- shared state -------------------------------------------------------------------------

    @property
    def lm(self):
        if self._lm is None:
            self._lm = load_cached_model(self.config.model, self.config.dtype, self.config.seed, self.device)
        return self._lm

    def site(self, layer: int):
        return Site(layer, self.config.point)

    def trait(self, name: str):
        """Trait ``name`` of the config: built-in, or read from its directory (``custom_traits``).

        Raises:
            DataError: a trait directory's files changed since the config was resolved.
        """
        if name not in self._traits:
            trait = resolve_trait(trait_source(self.config, name), seed=self.config.seed)
            expected = (self.config.custom_traits.get(name) or {}).get("content_hash")
            if expected is not None and trait.content_hash != expected:
                raise DataError(f"the files of trait '{name}' ({trait.source}) changed after the audit started",
                                "restore them, or start a new run (another --out, or --force)")
            self._traits[name] = trait
        return self._traits[name]

    def custom_scorer(self, name: str):
        """The trait's scorer when it is not the built-in one (a trait directory, or ``scorer`` set), else None.

        An auto-trained head and its card go to ``RUN/scorers/`` (reused on resume).
        """
        if name not in self.config.custom_traits and self.config.scorer is None:
            return None
        if name not in self._scorers:
            self._scorers[name] = scorer_for_trait(self.trait(name), self.config.scorer, self.config.label_map,
                                                   cache_dir=self.run_dir / "scorers", seed=self.config.seed,
                                                   device=self.lm.info.device)
        return self._scorers[name]

    def fmt(self, user: str) -> str:
        return format_chat(self.lm.tokenizer, user)

    def given_vector(self):
        """The user's vector (``steerid identify``), float32 round-tripped like a saved one."""
        if self._given is None:
            vector = SteeringVector.load(self.config.vector)  # type: ignore[arg-type]
            if vector.dim != self.lm.info.hidden_size:  # (the driver already warned about other weights)
                vector.check_compatible(self.lm.info)
            self._given = vector
        return self._given

    def vector(self, trait: str, layer: int, method: str):
        """The trait's vector at ``layer`` by ``method``: extracted once, saved under RUN/vectors/."""
        if self.config.vector is not None:
            return self.given_vector()
        key = (trait, layer, method)
        if key in self._vectors:
            return self._vectors[key]
        site = self.site(layer)
        pairs = self.trait(trait).pairs
        akey = (trait, layer)
        if akey not in self._acts:
            self._acts[akey] = pair_activations(self.lm, pairs, [site], pooling=self.config.pooling,
                                                batch_size=min(self.config.batch_size, 32))[site]
        raw = extract_vector(self.lm, pairs, site, method=method, pooling=self.config.pooling, trait=trait,
                             seed=self.config.seed, activations=self._acts[akey])
        stored = raw.direction.astype(np.float32).astype(np.float64)
        vector = SteeringVector(direction=stored / np.linalg.norm(stored), norm=raw.norm,
                                provenance=dataclasses.replace(raw.provenance, created_at=""))
        path = self.run_dir / VECTORS_DIR / vector_filename(trait, layer, self.config.point, method)
        if not path.exists():
            vector.save(path)
        self._vectors[key] = vector
        return vector

    def token_norm(self, trait: str, layer: int) -> float:
        """Median residual norm at the site over real non-first tokens of the trait's eval prompts."""
        key = (trait, layer)
        if key not in self._norms:
            items = self.trait(trait).eval_prompts("in_distribution") or self.trait(trait).eval_prompts()
            texts = [self.fmt(item.prompt) for item in items[: self.config.n_norm_prompts]]
            if not texts:
                raise DataError(f"trait '{trait}' has no evaluation prompts to measure the token norm on",
                                "add eval.jsonl prompts to the trait")
            self._norms[key] = median_token_norm(self.lm, texts, self.site(layer),
                                                 batch_size=min(self.config.batch_size, 32))
        return self._norms[key]

    def eval_items(self, trait: str, environment: str, n: int) -> list:
        items = self.trait(trait).eval_prompts(environment)
        if trait == "truthfulness":
            items = [i for i in items if i.correct is not None]
        items = items[:n]
        if len(items) < 3:
            raise DataError(f"trait '{trait}' has only {len(items)} usable prompts in {environment}",
                            "use another environment or add prompts")
        return items

    def measures(self, trait: str, items: list) -> dict:
        key = (trait, tuple(i.id for i in items))
        if key not in self._measures:
            custom = self.custom_scorer(trait)
            if custom is not None:
                self._measures[key] = measures_for_trait(trait, primary=custom)
            elif trait == "truthfulness":
                self._measures[key] = measures_for_trait(trait, correct=[i.correct for i in items],
                                                         incorrect=[i.incorrect for i in items])
            elif trait == "agreeableness":  # the stance is scored relative to each prompt's stated opinion
                self._measures[key] = measures_for_trait(trait, opinions=[i.opinion for i in items])
            else:
                self._measures[key] = measures_for_trait(trait)
        return self._measures[key]

    def context(self, unit: Unit, prompts: list[str], vector=None, **extra: Any):
        vector = vector if vector is not None else self.vector(unit.trait, unit.layer, self._method(unit))
        return ExperimentContext(lm=self.lm, site=self.site(unit.layer), vector=vector, prompts=prompts,
                                 token_norm=self.token_norm(unit.trait, unit.layer),
                                 seed=unit_seed(self.config.seed, unit.id), batch_size=self.config.batch_size,
                                 extra=dict(extra))

    def _method(self, unit: Unit) -> str:
        return self.config.methods[0] if unit.method == "all" else unit.method

    # ---- units --------------------------------------------------------------------------------

    def run_unit(self, unit: Unit, progress: Progress | None = None) -> dict[str, Any]:
        """Run one unit; the returned dict is JSON-safe and depends only on ``unit.spec``."""
        step = progress or (lambda _stage: None)
        step("model")
        _ = self.lm
        step("vector")
        runner = getattr(self, f"_run_{unit.experiment}", None)
        if runner is None:  # pragma: no cover - the config validator only admits known experiments
            raise ConfigError(f"unknown experiment '{unit.experiment}'", "use e1, likelihood, e4, e5, e6, e7, recovery")
        vector = self.vector(unit.trait, unit.layer, self._method(unit))
        norm = self.token_norm(unit.trait, unit.layer)
        step("experiment")
        try:
            with warnings.catch_warnings():
                # scipy's "BCa cannot be calculated" warning: the fallback is recorded in the interval's note
                warnings.filterwarnings("ignore", message="The BCa confidence interval cannot be calculated")
                body = runner(unit, step)
        except (DataError, VectorError) as exc:  # the experiment cannot be done on this cell: record why
            body = {"status": "error", "error": str(exc)}
        out = {**unit.header(), "status": body.pop("status", "ok"),
               "vector": {"file": None if self.config.vector else
                          f"{VECTORS_DIR}/{vector_filename(unit.trait, unit.layer, self.config.point, self._method(unit))}",
                          "method": vector.provenance.method, "site": vector.provenance.site,
                          "raw_norm": float(vector.norm), "direction_sha256": direction_sha256(vector.direction),
                          "n_pairs": vector.provenance.n_examples},
               "token_norm": float(norm),
               "displacement_norm": None if unit.alpha_rel is None else float(unit.alpha_rel * norm),
               **body}
        step("done")
        return jsonable(out)

    def _e1_config(self, unit: Unit, n_draws: int | None = None, **extra: Any):
        c = self.config
        return orthogonal.E1Config(alpha_rel=float(unit.alpha_rel), rhos=tuple(c.rhos), n_draws=n_draws or c.n_draws, signs=tuple(c.signs),
                        margin_dz=c.margin_dz, margin_rel=c.margin_rel, test_alpha=c.test_alpha,
                        max_new_tokens=c.e1.max_new_tokens, greedy=c.e1.greedy, temperature=c.e1.temperature,
                        n_examples=c.e1.n_examples, top_k=c.e1.top_k, top_p=c.e1.top_p, decode_dtype=c.decode_dtype,
                        **extra)

    def _run_e1(self, unit: Unit, step: Progress) -> dict[str, Any]:
        c = self.config
        items = self.eval_items(unit.trait, unit.environment or "in_distribution", c.e1.n_prompts)
        ctx = self.context(unit, [self.fmt(i.prompt) for i in items])
        config = self._e1_config(unit, c.e1.n_draws, sequential=c.e1.sequential, first_look=c.e1.first_look)
        result = orthogonal.run(config, ctx, self.measures(unit.trait, items))
        data = result.to_dict()
        for example in data.get("examples", []):
            example["prompt"] = items[example["prompt_index"]].prompt
        return {"n": len(items), "result": data}

    def _run_likelihood(self, unit: Unit, step: Progress) -> dict[str, Any]:
        items = list(self.trait(unit.trait).likelihood)
        if self.config.likelihood.n_items is not None:
            items = items[: self.config.likelihood.n_items]
        if len(items) < 3:
            raise DataError(f"trait '{unit.trait}' has only {len(items)} likelihood items",
                            "drop 'likelihood' from experiments or add likelihood.jsonl items")
        space = "" if has_chat_template(self.lm.tokenizer) else " "
        ctx = self.context(unit, [self.fmt(i.prompt) for i in items],
                           positives=[space + i.positive for i in items], negatives=[space + i.negative for i in items])
        lc = self.config.likelihood
        result = likelihood.run(self._e1_config(unit, sequential=lc.sequential, first_look=lc.first_look), ctx)
        if lc.farthest:
            result.farthest_equivalent = self._farthest(unit, ctx)
        return {"n": len(items), "result": result.to_dict()}

    def _farthest(self, unit: Unit, ctx) -> dict[str, Any]:
        """The farthest equivalent vector found on the likelihood route (confirmed on held-out items)."""
        c = self.config
        config = farthest.FarthestConfig(alpha_rel=float(unit.alpha_rel), margin_dz=c.margin_dz, alpha=c.test_alpha,
                                         n_candidates=c.likelihood.farthest_candidates, seed=c.seed,
                                         **self._fisher_settings(c.likelihood.farthest_fisher_k))
        out = farthest.run(config, ctx).to_dict()
        out["n_confirm"] = len(out.get("confirm_items") or [])
        return out

    @staticmethod
    def _fisher_settings(fisher_k: int) -> dict[str, int]:
        """``fisher_k`` Lanczos eigenpairs for the low-sensitivity basis; 0 turns the basis off."""
        return {"fisher_k": fisher_k} if fisher_k > 0 else {"fisher_basis": 0}

    def _run_e5(self, unit: Unit, step: Progress) -> dict[str, Any]:
        c = self.config
        vectors = {m: self.vector(unit.trait, unit.layer, m) for m in c.e5.methods}
        items = self.eval_items(unit.trait, c.environments[0], c.e5.n_prompts)
        ctx = self.context(unit, [self.fmt(i.prompt) for i in items], vector=vectors[c.e5.methods[0]])
        cfg = _dataclass_config(methods.E5Config, alpha_rel=float(unit.alpha_rel), signs=tuple(c.signs),
                                margin_dz=c.margin_dz, test_alpha=c.test_alpha, max_new_tokens=c.e5.max_new_tokens,
                                greedy=c.e1.greedy, temperature=c.e1.temperature)
        result = methods.run(cfg, ctx, vectors, self.measures(unit.trait, items))
        return {"n": len(items), "environment_used": c.environments[0], "result": result.to_dict()}

    # E4, E6, E7 call the experiment modules' ``run(config, ctx)``.

    def _run_e4(self, unit: Unit, step: Progress) -> dict[str, Any]:
        c = self.config
        items = self.eval_items(unit.trait, unit.environment or "in_distribution", c.e4.n_prompts)
        ctx = self.context(unit, [self.fmt(i.prompt) for i in items])
        cfg = _dataclass_config(logit_distance.E4Config, alpha_rel=float(unit.alpha_rel), rhos=tuple(c.rhos),
                                n_draws=c.e4.n_draws or c.n_draws, max_new_tokens=c.e4.max_new_tokens)
        result = logit_distance.run(cfg, ctx).to_dict()
        result.pop("per_prompt", None)  # per-prompt KL/JS of every draw: large, and not used by the report
        return {"n": len(items), "result": result}

    def _run_e6(self, unit: Unit, step: Progress) -> dict[str, Any]:
        c = self.config
        items = self.eval_items(unit.trait, unit.environment or "in_distribution", max(c.e6.n_prompts, c.e6.fisher_prompts))
        ctx = self.context(unit, [self.fmt(i.prompt) for i in items][: max(c.e6.n_prompts, c.e6.fisher_prompts)])
        cfg = _dataclass_config(nullspace.E6Config, tolerances=tuple(c.e6.tolerances), fisher_prompts=c.e6.fisher_prompts,
                                fisher_positions=c.e6.positions, k=c.e6.k, max_new_tokens=c.e6.max_new_tokens)
        return {"n": len(items), "result": nullspace.run(cfg, ctx).to_dict()}

    def _run_e7(self, unit: Unit, step: Progress) -> dict[str, Any]:
        c = self.config
        items = self.eval_items(unit.trait, unit.environment or "in_distribution", c.e7.n_prompts)
        extra: dict[str, Any] = {}
        if c.e7.score:  # a ScoreFn gets each text's prompt index, so the answer judge sees the right answers
            extra["score_fn"] = next(iter(self.measures(unit.trait, items).values()))
        ctx = self.context(unit, [self.fmt(i.prompt) for i in items], **extra)
        cfg = _dataclass_config(spanning.E7Config, alpha_rel=float(unit.alpha_rel), rho=float(c.rhos[0]),
                                n_draws=c.e7.n_directions, tolerance=c.e7.tolerance, k=c.e6.k,
                                fisher_prompts=c.e7.fisher_prompts, fisher_positions=c.e6.positions,
                                max_new_tokens=c.e7.max_new_tokens, margin_dz=c.margin_dz, alpha_test=c.test_alpha)
        result = spanning.run(cfg, ctx).to_dict()
        return {"n": len(items), "result": result}

    def _run_recovery(self, unit: Unit, step: Progress) -> dict[str, Any]:
        """Stability of each method under resampling of the pairs, and their agreement (recover.stability)."""
        c = self.config
        self.vector(unit.trait, unit.layer, c.methods[0])  # fills the pair-activation cache
        pos, neg = self._acts[(unit.trait, unit.layer)]
        comparison = compare_methods(pos, neg, methods=tuple(c.recovery.methods), n_bootstrap=c.recovery.n_bootstrap,
                                     min_cosine=c.recovery.min_cosine, seed=unit_seed(c.seed, unit.id))
        out: dict[str, Any] = {"n": int(pos.shape[0]), "result": {"stability": comparison.to_dict()}}
        bench = self._optional("steerid.recover.benchmark")
        if c.recovery.benchmark_size != "none" and bench is not None and unit.trait == c.traits[0]:
            step("benchmark")
            result = jsonable(bench.run_benchmark(c.recovery.benchmark_size, seed=c.seed))
            result.pop("seconds", None)  # wall time does not belong in results.json
            out["result"]["benchmark"] = result
        return out

    def _optional(self, module: str):
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            return None


_WORKER: tuple[str, Worker] | None = None
_MODEL: tuple[tuple, Any] | None = None


def load_cached_model(spec: str, dtype: str, seed: int, device: str = "cpu"):
    """The model, loaded once per process (units of later audits in the same process reuse it).

    ``dtype`` may be ``auto`` (bfloat16 on CUDA, float32 on the CPU); the loaded model's
    ``info.dtype`` and ``info.device`` say what it resolved to.
    """
    global _MODEL
    resolved_device = resolve_device(device)
    key = (spec, str(resolve_dtype(dtype, resolved_device)).removeprefix("torch."), seed, resolved_device.type)
    if _MODEL is None or _MODEL[0] != key:
        _MODEL = (key, load_model(spec, dtype=dtype, seed=seed, device=device))
    return _MODEL[1]


def remember_model(lm: Any, seed: int) -> None:
    """Make an already loaded model the one :func:`load_cached_model` returns for its spec."""
    global _MODEL
    _MODEL = ((lm.info.spec, lm.info.dtype, seed, lm.info.device), lm)


def get_worker(config: AuditConfig, run_dir: Path, device: str = "cpu") -> Worker:
    """This process's worker for ``config`` (created on first use, reused afterwards)."""
    global _WORKER
    key = f"{config.config_hash()}:{Path(run_dir).resolve()}:{device}"
    if _WORKER is None or _WORKER[0] != key:
        lm = load_cached_model(config.model, config.dtype, config.seed, device)
        _WORKER = (key, Worker(config, run_dir, lm=lm, device=device))
    return _WORKER[1]
