"""Runs audit units: one model load per worker process, then extraction and the experiment.

A :class:`Worker` holds the loaded model and everything units share (trait data, pair
activations, vectors, token norms, scorers), so a process that runs many units loads the model
once. :func:`get_worker` keeps one worker per process (the Ray executor's workers reuse it across
tasks). ``run_unit`` dispatches generically: it rebuilds the experiment's typed settings from the
unit's spec and calls its registered ``run(settings, UnitContext)``
(:mod:`steerid.experiments.registry`), and records the decode dtype the unit actually used
(``decode``). It returns a JSON-safe dict that depends only on the unit's spec: torch runs
with the config's fixed thread count, vectors pass through their float32 storage form before use
(so a resumed run that reads them back computes the same numbers), and every random draw is
seeded from the audit seed and the unit id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

import torch

from steerid.audit.config import AuditConfig
from steerid.audit.grid import Unit, unit_seed
from steerid.experiments.registry import experiment
from steerid.capture import median_token_norm
from steerid.engine.decode import BF16_MIN_ROWS, choose_dtype, native_bf16
from steerid.errors import DataError, VectorError
from steerid.experiments.base import ExperimentContext
from steerid.experiments.measures import measures_for_trait
from steerid.extract.pipeline import extract_vector, pair_activations
from steerid.models import Site, load_model
from steerid.models.loader import resolve_device, resolve_dtype
from steerid.results import jsonable
from steerid.scorers.embedding import clear_all_caches as clear_embedding_caches
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
        raw = extract_vector(self.lm, self.trait(trait).pairs, site, method=method, pooling=self.config.pooling,
                             trait=trait, seed=self.config.seed, activations=self.pair_activations(trait, layer))
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
        """Run one unit; the returned dict is JSON-safe and depends only on ``unit.spec``.

        The experiment's settings are rebuilt from ``unit.spec["settings"]`` (what the unit id
        hashes) and handed to its registered ``run`` (:mod:`steerid.experiments.registry`).
        """
        step = progress or (lambda _stage: None)
        # embeddings cached by earlier units were computed in their batches (≈ 1e-7 apart from a
        # fresh batch): start empty so a resumed run, whose process ran other units, scores alike
        clear_embedding_caches()
        entry = experiment(unit.experiment)
        settings = entry.settings_from_spec(unit.spec["settings"])
        step("model")
        _ = self.lm
        step("vector")
        vector = self.vector(unit.trait, unit.layer, self._method(unit))
        norm = self.token_norm(unit.trait, unit.layer)
        step("experiment")
        try:
            with warnings.catch_warnings():
                # scipy's "BCa cannot be calculated" warning: the fallback is recorded in the interval's note
                warnings.filterwarnings("ignore", message="The BCa confidence interval cannot be calculated")
                body = entry.run(settings, UnitContext(unit, self, step))
        except (DataError, VectorError) as exc:  # the experiment cannot be done on this cell: record why
            body = {"status": "error", "error": str(exc)}
        decode = getattr(settings, "decode_dtype", None)
        out = {**unit.header(), "status": body.pop("status", "ok"),
               "vector": {"file": None if self.config.vector else
                          f"{VECTORS_DIR}/{vector_filename(unit.trait, unit.layer, self.config.point, self._method(unit))}",
                          "method": vector.provenance.method, "site": vector.provenance.site,
                          "raw_norm": float(vector.norm), "direction_sha256": direction_sha256(vector.direction),
                          "n_pairs": vector.provenance.n_examples},
               "token_norm": float(norm),
               "displacement_norm": None if unit.alpha_rel is None else float(unit.alpha_rel * norm),
               **({"decode": decode_record(decode, self.lm, self.config.batch_size)} if decode is not None else {}),
               **body}
        step("done")
        return without_wall_times(jsonable(out))

    def pair_activations(self, trait: str, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """(positive, negative) pooled activations of the trait's pairs at ``layer`` (cached)."""
        key = (trait, layer)
        if key not in self._acts:
            self._acts[key] = pair_activations(self.lm, self.trait(trait).pairs, [self.site(layer)],
                                               pooling=self.config.pooling,
                                               batch_size=min(self.config.batch_size, 32))[self.site(layer)]
        return self._acts[key]

    @staticmethod
    def optional(module: str):
        """``module`` imported, or None when it is not installed (an optional extra)."""
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            return None


def decode_record(requested: str, lm: Any, rows: int | None = None) -> dict[str, Any]:
    """The dtype a unit's decoding (generation, teacher forcing) actually ran in on this worker, and why
    (``auto`` depends on the rows per forward, ``rows``: the audit's batch size)."""
    resolved = (lm.info.dtype if requested == "model"
                else str(choose_dtype(requested, lm.info.device, rows=rows)).removeprefix("torch."))
    return {"requested": requested, "resolved": resolved, "native_bf16": bool(native_bf16(lm.info.device)),
            "device": str(lm.info.device), "rows_per_forward": rows,
            **({"auto_rule": f"bfloat16 on CUDA, or on a CPU with native bf16 (from {BF16_MIN_ROWS} rows per forward "
                             "when torch runs several threads); else float32"} if requested == "auto" else {})}


@dataclasses.dataclass
class UnitContext:
    """What a unit's ``run`` reads besides its settings: the cell, the model and the trait's data.

    It gives no access to the audit config, so everything a run depends on is in its settings (and
    so in the unit id) or in the cell.
    """

    unit: Unit
    _worker: Worker
    step: Progress

    @property
    def lm(self):
        return self._worker.lm

    @property
    def trait(self):
        """The unit's trait (built-in or read from its directory)."""
        return self._worker.trait(self.unit.trait)

    @property
    def seed(self) -> int:
        """This unit's seed (from the audit seed and the unit id)."""
        return unit_seed(self._worker.config.seed, self.unit.id)

    @property
    def has_chat_template(self) -> bool:
        return has_chat_template(self.lm.tokenizer)

    def eval_items(self, environment: str, n: int) -> list:
        """The first ``n`` usable evaluation prompts of the trait in ``environment`` (at least 3)."""
        return self._worker.eval_items(self.unit.trait, environment, n)

    def prompts(self, items: list) -> list[str]:
        """The items' prompts in the model's chat format."""
        return [self._worker.fmt(i.prompt) for i in items]

    def measures(self, items: list) -> dict:
        """The trait's score functions on ``items`` (the first is the primary measure)."""
        return self._worker.measures(self.unit.trait, items)

    def vector(self, method: str | None = None):
        """The audited vector (the unit's method, or ``method``)."""
        return self._worker.vector(self.unit.trait, self.unit.layer, method or self._worker._method(self.unit))

    def pair_activations(self) -> tuple[np.ndarray, np.ndarray]:
        return self._worker.pair_activations(self.unit.trait, self.unit.layer)

    def experiment_context(self, prompts: list[str], vector=None, **extra: Any) -> ExperimentContext:
        """The :class:`~steerid.experiments.base.ExperimentContext` of this cell on ``prompts``."""
        return self._worker.context(self.unit, prompts, vector=vector, **extra)

    def optional(self, module: str):
        return Worker.optional(module)


WALL_TIME_KEYS = frozenset({"seconds"})
"""Keys of experiment results that hold wall time (e.g. a Fisher spectrum's ``seconds``)."""


def without_wall_times(value: Any) -> Any:
    """``value`` without wall-time entries (:data:`WALL_TIME_KEYS`, at any depth).

    A unit's result must depend only on its spec — wall time differs between two runs of the same
    unit, so it would make an uninterrupted and a resumed ``results.json`` differ; the driver keeps
    unit times in ``timings.json`` instead.
    """
    if isinstance(value, dict):
        return {key: without_wall_times(item) for key, item in value.items() if key not in WALL_TIME_KEYS}
    if isinstance(value, list):
        return [without_wall_times(item) for item in value]
    return value


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
