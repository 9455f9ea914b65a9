"""Audit configuration schema: a validated, versioned description of everything an audit runs.

A config is built in three layers, each overriding the one before (see
:mod:`steerid.audit.profiles`): a shipped *profile*, an optional user YAML file, the command line.

Every section forbids unknown keys, so a typo is an error that names the key and lists the
valid ones instead of a silently ignored value (:mod:`steerid.config_errors`). ``config_version``
is ``1``; a file written for a newer steerid is refused with "upgrade steerid".

The config is then *resolved* against the model (``layers: null`` → ``n_layers // 2``, which is
15 for SmolLM2-135M; ``traits: all`` → the built-in trait names; ``dtype: auto`` → the dtype the
model was loaded in) and the resolved form is what ``RUN/config.yaml`` holds and what unit ids
are derived from.

Custom traits. An entry of ``traits`` (or ``vector_trait``) that is a path — it contains ``/``
or the OS separator, or names an existing directory — is read with
:func:`steerid.traits.resolve_trait` under the config's ``seed``. Resolution replaces the entry by
the trait's name (units, tables and the report key traits by name) and records
``custom_traits[name] = {"source": absolute path, "content_hash": ...}``; the hash is part of the
resolved config, so resuming a run after the trait's files changed is refused as a changed
config. ``scorer`` / ``label_map`` choose how the audited trait is scored (see
:func:`steerid.traits.scorer_for_trait`): ``hf:PATH`` with a label map, a registered scorer
name, or — for a custom trait, when ``scorer`` is null — an embedding head trained on the
trait's own texts.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from steerid.config_errors import format_config_error, moved_key_error
from steerid.errors import ConfigError, ScorerError

CONFIG_VERSION = 1
ENVIRONMENTS: tuple[str, ...] = ("in_distribution", "topic_shift", "genre_shift")
METHODS: tuple[str, ...] = ("mean_diff", "pca", "probe", "lda")


def _finite(values: list[float], name: str) -> list[float]:
    for value in values:
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite numbers, got {value}")
    return values


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EquivalenceSettings(_Section):
    """How every equivalence test of the audit is decided: the fields of
    :class:`steerid.stats.plan.EquivalencePlan` (margin kind and size, test level, correction over
    the tries of an existence claim, sequential design). A key left out (null) takes the plan's
    default; :func:`resolve` writes the plan's concrete values into the resolved config."""

    margin: Literal["relative", "dz"] | None = Field(
        None, description="which margin decides a draw: relative (share of v's own shift) or dz (d_z)")
    margin_rel: float | None = Field(None, gt=0, lt=1, description="ε: v + v⊥'s shift within (1 ± ε) of v's own")
    margin_dz: float | None = Field(None, gt=0, le=2, description="δ: |mean difference| < δ·sd (d_z margin)")
    level: float | None = Field(None, gt=0, lt=0.5, description="test level of one claim (family-wise)")
    correction: Literal["bonferroni", "holm", "none"] | None = Field(
        None, description="correction over the tries an existence claim chose from")
    sequential: bool | None = Field(None, description="group-sequential per-try TOSTs: stop once every try is decided")
    first_look: int | None = Field(None, ge=3, description="prompts (items) at the first look of the sequential test")
    spending: Literal["obrien-fleming", "pocock"] | None = Field(None, description="Lan–DeMets spending function")

    @model_validator(mode="after")
    def _valid_plan(self) -> EquivalenceSettings:
        try:
            self.plan()
        except ConfigError as exc:
            raise ValueError(exc.problem) from exc
        return self

    def plan(self):
        """The :class:`~steerid.stats.plan.EquivalencePlan` these settings describe (unset keys: its defaults)."""
        from steerid.stats.plan import EquivalencePlan  # numpy: imported when a plan is built, not by the CLI

        return EquivalencePlan(**{k: v for k, v in self.model_dump().items() if v is not None})


MOVED_KEYS: dict[str, str] = {
    "margin_dz": "equivalence.margin_dz", "margin_rel": "equivalence.margin_rel", "test_alpha": "equivalence.level",
    "e1.sequential": "equivalence.sequential", "e1.first_look": "equivalence.first_look",
    "likelihood.sequential": "equivalence.sequential", "likelihood.first_look": "equivalence.first_look",
}
"""Keys of earlier configs that moved, old dotted key → new dotted key ("did you mean" errors)."""


class E1Settings(_Section):
    """Generation E1 (and its α / environment sweeps E2 / E3)."""

    n_prompts: int = Field(40, ge=3, description="evaluation prompts per environment")
    max_new_tokens: int = Field(32, ge=1, le=512)
    greedy: bool = False
    temperature: float = Field(0.7, gt=0)
    n_examples: int = Field(3, ge=0, le=50)
    n_draws: int | None = Field(None, ge=1, description="v⊥ draws per ρ for generation (null = the global n_draws)")
    top_k: int = Field(50, ge=0, description="sample among the k most likely tokens (0 = whole vocabulary)")
    top_p: float = Field(1.0, gt=0, le=1)
    traits: list[str] | None = Field(None, description="traits that run the generation route (null = every trait)")
    environment_traits: list[str] | None = Field(
        None, description="traits that run every environment (E3); the others run the first only (null = all)")


class LikelihoodSettings(_Section):
    """E1 on teacher-forced log-probability differences of the trait's likelihood items."""

    n_items: int | None = Field(None, ge=3, description="likelihood items (null = all)")
    scope: Literal["all", "generated"] = Field(
        "all", description="steering scope of the teacher-forced forwards: all (prompt and reply, as a deployed vector "
                           "steers the whole context) or generated (the reply only; the prompt then runs once per item)")
    farthest: bool = Field(False, description="search for the farthest equivalent vector (likelihood route)")
    farthest_traits: list[str] | None = Field(
        None, description="traits whose likelihood units run the farthest-vector search (null = every trait)")
    farthest_candidates: int = Field(8, ge=1, le=256, description="candidate directions of the farthest-vector search")
    farthest_fisher_k: int = Field(
        32, ge=0, le=512,
        description="top output-Fisher eigenpairs (Lanczos) whose complement holds the low-sensitivity candidates; "
                    "0 = uniform candidates in v's orthogonal complement only (each eigenpair costs a few "
                    "double-backward passes over the search items: minutes each on a small CPU)")
    samplers: list[str] = Field(
        default_factory=lambda: ["isotropic"],
        description="v⊥ samplers reported as families of their own (steerid.experiments.samplers): isotropic, "
                    "covariance_null, fisher_null (exact Fisher at the steered point), fisher_range (negative control)")
    sampler_tolerance: float = Field(1e-3, gt=0, lt=1, description="Fisher null space: eigenvalues below this · λ_max")
    sampler_variance: float = Field(0.99, gt=0, le=1, description="covariance null space: beyond the effective rank "
                                                                   "holding this share of the variance")

    @field_validator("samplers")
    @classmethod
    def _samplers(cls, value: list[str]) -> list[str]:
        from steerid.experiments.samplers import SAMPLERS

        bad = [v for v in value if v not in SAMPLERS]
        if bad or not value:
            raise ValueError(f"unknown sampler(s) {bad}; valid: {', '.join(SAMPLERS)}")
        return list(dict.fromkeys(value))


class E4Settings(_Section):
    """Logit distance: KL / JS of next-token distributions under v vs v+v⊥ vs none vs random."""

    n_prompts: int = Field(16, ge=2)
    max_new_tokens: int = Field(16, ge=1, le=256)
    n_draws: int | None = Field(None, ge=1, description="v⊥ draws per ρ (null = the global n_draws)")


class E5Settings(_Section):
    """Method equivalence: cosines of the methods' vectors and TOSTs of their steering (generation)."""

    methods: list[str] = Field(default_factory=lambda: list(METHODS))
    n_prompts: int = Field(24, ge=3)
    max_new_tokens: int = Field(24, ge=1, le=512)

    @field_validator("methods")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        bad = [m for m in value if m not in METHODS]
        if bad:
            raise ValueError(f"unknown method(s) {bad}; valid: {', '.join(METHODS)}")
        if len(set(value)) < 2:
            raise ValueError("E5 needs at least two distinct methods")
        return value


class E6Settings(_Section):
    """Null space: activation covariance spectrum (a) and output-Fisher spectrum (b)."""

    n_prompts: int = Field(64, ge=2, description="prompts for the covariance spectrum")
    fisher_prompts: int = Field(16, ge=1, description="prompts for the Fisher metric")
    positions: int = Field(4, ge=1, description="last real positions per sequence for the Fisher metric")
    max_new_tokens: int = Field(16, ge=1, le=256, description="greedy continuation the Fisher points sit on")
    k: int = Field(32, ge=1, description="top eigenpairs by Lanczos when d is large")
    tolerances: list[float] = Field(default_factory=lambda: [1e-2, 1e-3, 1e-4])
    traits: list[str] | None = Field(None, description="traits that run E6 (null = every trait)")

    @field_validator("tolerances")
    @classmethod
    def _tols(cls, value: list[float]) -> list[float]:
        if not value or any(not 0 < t < 1 for t in value):
            raise ValueError("tolerances must be numbers in (0, 1)")
        return value


class E7Settings(_Section):
    """Spanning: random directions from the Fisher null space keep behaviour, from its range break it."""

    n_prompts: int = Field(16, ge=3)
    n_directions: int = Field(8, ge=2, description="draws per family (null, range)")
    tolerance: float = Field(1e-3, gt=0, lt=1, description="null = Fisher eigenvalues below tolerance · λ_max")
    fisher_prompts: int = Field(8, ge=1)
    max_new_tokens: int = Field(16, ge=1, le=256)
    score: bool = Field(True, description="also score generated continuations with the trait scorer")


class RecoverySettings(_Section):
    """Recovery: stability of each method under resampling of the pairs (and the planted benchmark)."""

    methods: list[str] = Field(default_factory=lambda: ["mean_diff", "pca", "lda"])
    n_bootstrap: int = Field(100, ge=10)
    min_cosine: float = Field(0.95, gt=0, le=1)
    benchmark_size: Literal["none", "small", "full"] = Field(
        "small", description="planted-direction benchmark (steerid.recover.benchmark), run once per audit")

    @field_validator("methods")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        bad = [m for m in value if m not in METHODS]
        if bad or not value:
            raise ValueError(f"unknown method(s) {bad}; valid: {', '.join(METHODS)}")
        return _unique(value, "methods")


class AuditConfig(_Section):
    """Everything an audit runs (see :mod:`steerid.audit.profiles` for how profiles and files combine)."""

    config_version: int = CONFIG_VERSION
    profile: str = "custom"
    model: str = "smollm2-135m"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "float32", description="model dtype; auto = bfloat16 on CUDA, float32 on the CPU (resolved before the run)")
    decode_dtype: Literal["auto", "model", "float32", "bfloat16"] = Field(
        "auto", description="dtype of generation: auto = bfloat16 where the device computes it natively (recorded)")
    traits: list[str] | Literal["all"] = "all"
    layers: list[int] | None = None
    point: Literal["in", "out"] = "in"
    methods: list[str] = Field(default_factory=lambda: ["mean_diff"])
    pooling: Literal["last", "mean"] = "last"
    alphas_rel: list[float] = Field(default_factory=lambda: [0.1])
    environments: list[Literal["in_distribution", "topic_shift", "genre_shift"]] = Field(
        default_factory=lambda: ["in_distribution"])
    experiments: list[str] = Field(default_factory=lambda: ["e1", "likelihood", "e4", "e6"],
                                   description="registered experiments to run (steerid.experiments.registry)")
    rhos: list[float] = Field(default_factory=lambda: [1.0])
    n_draws: int = Field(8, ge=1)
    signs: list[Literal[1, -1]] = Field(default_factory=lambda: [1, -1])
    n_norm_prompts: int = Field(32, ge=1, description="prompts used to measure the median token norm")
    seed: int = Field(0, ge=0)
    batch_size: int = Field(64, ge=1)
    threads: int = Field(2, ge=1, description="torch threads per unit (fixed so results do not depend on the executor)")
    vector: str | None = Field(None, description="audit this saved vector instead of extracting (steerid identify)")
    vector_trait: str | None = Field(None, description="built-in trait name or trait directory of the given vector")
    scorer: str | None = Field(None, description="hf:PATH (a local HF text classifier, with label_map) or a "
                               "registered scorer name for the audited trait (null: built-in, or auto-trained head)")
    label_map: dict[str, int] | None = Field(None, description="hf: scorer labels → 1 (trait-positive) / 0; "
                                             "'pos=LABEL_1,neg=LABEL_0' is accepted too")
    custom_traits: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="filled by resolve: {name: {source, content_hash}} of trait directories")
    equivalence: EquivalenceSettings = Field(default_factory=lambda: EquivalenceSettings())
    e1: E1Settings = Field(default_factory=E1Settings)
    likelihood: LikelihoodSettings = Field(default_factory=LikelihoodSettings)
    e4: E4Settings = Field(default_factory=E4Settings)
    e5: E5Settings = Field(default_factory=E5Settings)
    e6: E6Settings = Field(default_factory=E6Settings)
    e7: E7Settings = Field(default_factory=E7Settings)
    recovery: RecoverySettings = Field(default_factory=RecoverySettings)

    @field_validator("config_version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != CONFIG_VERSION:
            raise ValueError(f"config_version {value} is not supported (this steerid reads version {CONFIG_VERSION})")
        return value

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one method")
        return _unique(value, "methods")

    @field_validator("alphas_rel", mode="before")
    @classmethod
    def _kl_strengths(cls, value: Any) -> Any:
        if isinstance(value, list) and any(isinstance(x, str) and x.strip().lower().startswith("kl:") for x in value):
            raise ValueError("a KL budget (kl:B) is not yet an audit strength: find each layer's α for it with "
                             "`steerid layers MODEL --trait TRAIT --alpha kl:B` and list that α here")
        return value

    @field_validator("alphas_rel", "rhos")
    @classmethod
    def _positive_grid(cls, value: list[float], info) -> list[float]:
        _finite(value, info.field_name)
        if not value or any(x <= 0 for x in value):
            note = " (α = 0 is the 'none' condition, always run)" if info.field_name == "alphas_rel" else ""
            raise ValueError(f"{info.field_name} must be a non-empty list of numbers > 0{note}")
        return _unique(value, info.field_name)

    @field_validator("layers")
    @classmethod
    def _layers(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (not value or any(layer < 0 for layer in value)):
            raise ValueError("layers must be a non-empty list of block indices ≥ 0, or null for the model default")
        return None if value is None else _unique(value, "layers")

    @field_validator("traits")
    @classmethod
    def _traits(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list):
            if not value:
                raise ValueError("traits must be 'all' or a non-empty list")
            return _unique(value, "traits")
        return value

    @field_validator("scorer")
    @classmethod
    def _scorer(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from steerid.traits.scoring import parse_scorer_spec  # imports numpy: only when a scorer is named

        try:
            kind, target = parse_scorer_spec(value)
        except ScorerError as exc:
            raise ValueError(f"{exc.problem} ({exc.fix})" if exc.fix else exc.problem) from exc
        # an hf: directory is made absolute, so the config (and the unit ids) name one model wherever it resumes
        return f"hf:{Path(target).expanduser().resolve()}" if kind == "hf" else target

    @field_validator("label_map", mode="before")
    @classmethod
    def _label_map(cls, value: Any) -> Any:
        if value is None:
            return None
        from steerid.traits.scoring import parse_label_map

        if not isinstance(value, (str, dict)):
            raise ValueError("label_map must be 'pos=LABEL,neg=LABEL' or a mapping {label: 1 | 0}")
        try:
            mapping = parse_label_map(value)
        except ScorerError as exc:
            raise ValueError(f"{exc.problem} ({exc.fix})" if exc.fix else exc.problem) from exc
        bad = [label for label, side in mapping.items() if side not in (0, 1) or isinstance(side, bool)]
        if bad:
            raise ValueError(f"label_map must map each label to 1 (pos) or 0 (neg); '{bad[0]}' is not")
        if not 0 < sum(mapping.values()) < len(mapping):
            raise ValueError("label_map needs at least one pos and one neg label")
        return mapping

    @field_validator("experiments")
    @classmethod
    def _registered(cls, value: list[str]) -> list[str]:
        from steerid.experiments.registry import names  # the registry names its modules; it imports none of them

        bad = [e for e in value if e not in names()]
        if bad:
            raise ValueError(f"unknown experiment(s) {bad}; valid: {', '.join(names())}")
        return value

    @field_validator("environments", "experiments", "signs")
    @classmethod
    def _nonempty(cls, value: list) -> list:
        if not value:
            raise ValueError("must not be empty")
        return _unique(value, "list")

    @model_validator(mode="after")
    def _consistent(self) -> AuditConfig:
        bad = [m for m in self.methods if m not in METHODS]
        if bad and self.vector is None:
            raise ValueError(f"unknown method(s) {bad}; valid: {', '.join(METHODS)}")
        if self.vector is not None:
            from steerid.experiments.registry import names

            bad = [e for e in self.experiments if e not in names(given_vector=True)]
            if bad:
                raise ValueError(f"{', '.join(bad)} cannot run on a given vector (e5 compares extraction methods)")
        return self

    # ----------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=True, allow_unicode=True)

    @property
    def plan(self):
        """The audit's :class:`~steerid.stats.plan.EquivalencePlan` (from the ``equivalence`` section)."""
        return self.equivalence.plan()

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of the config (keys sorted)."""
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()

    @property
    def resolved(self) -> bool:
        return self.layers is not None and self.traits != "all" and self.dtype != "auto"


def _unique(value: list, name: str) -> list:
    seen = []
    for item in value:
        if item in seen:
            raise ValueError(f"{name} lists {item!r} twice")
        seen.append(item)
    return value


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace) used for hashes and checksums."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)


def validate_config(data: dict[str, Any], where: str = "config",
                    where_for: Callable[[str | None], tuple[str, str]] | None = None) -> AuditConfig:
    """Validate a raw mapping into an :class:`AuditConfig`, turning every problem into one line.

    ``where_for(top-level key)`` → ``(source, fix hint)`` names where the offending key was set
    (see :func:`steerid.audit.profiles.build_config`); without it every problem is blamed on ``where``.
    """
    version = data.get("config_version", CONFIG_VERSION)
    if isinstance(version, int) and not isinstance(version, bool) and version > CONFIG_VERSION:
        raise ConfigError(f"{where} has config_version {version}, newer than this steerid reads ({CONFIG_VERSION})",
                          "upgrade steerid")
    moved = moved_key_error(data, MOVED_KEYS, where)
    if moved is not None:
        raise ConfigError(*moved)
    try:
        return AuditConfig.model_validate(data)
    except ValidationError as exc:
        if where_for is None:
            raise ConfigError(*format_config_error(exc, AuditConfig, where)) from exc
        loc = exc.errors()[0].get("loc") or (None,)
        source, hint = where_for(None if loc[0] is None else str(loc[0]))
        raise ConfigError(*format_config_error(exc, AuditConfig, source, fix_hint=hint)) from exc


def resolve(config: AuditConfig, *, n_layers: int, available_traits: list[str], dtype: str | None = None) -> AuditConfig:
    """Fill model-dependent defaults and check traits / layers against the model and the library.

    ``dtype`` is the dtype the model was loaded in; it replaces ``dtype: auto`` (a concrete dtype stays).
    Trait entries that are paths are loaded and replaced by their names (see the module docstring);
    ``e1.traits`` / ``e1.environment_traits`` may name them by name or by the same path; a trait
    directory with no evaluation prompts for one of ``environments[1:]`` is left out of
    ``e1.environment_traits`` (it runs E1 in the first environment only).

    Raises:
        ConfigError: unknown trait, unusable trait directory, two traits with one name, a
            ``scorer`` given for more than one trait, or a layer out of range.
    """
    entries = list(available_traits) if config.traits == "all" else list(config.traits)
    from steerid.audit.custom_traits import is_ab_spec, is_trait_path, resolve_trait_entries, source_key

    traits, custom, no_e3 = resolve_trait_entries(config, entries, available_traits)
    by_path = {info["source"]: name for name, info in custom.items()}
    e1_update: dict[str, Any] = {}
    for field_name in ("traits", "environment_traits"):
        listed = getattr(config.e1, field_name)
        if listed is None:
            continue
        mapped = []
        for trait in listed:
            name = by_path.get(source_key(trait), trait) if is_trait_path(trait) else trait
            if name not in traits and name not in available_traits:
                raise ConfigError(f"unknown trait '{trait}' in e1.{field_name}",
                                  f"use some of: {', '.join(dict.fromkeys([*traits, *available_traits]))}")
            mapped.append(name)
        e1_update[field_name] = mapped
    for section, field_name in (("e6", "traits"), ("likelihood", "farthest_traits")):
        for trait in getattr(getattr(config, section), field_name) or []:
            if trait not in traits:
                raise ConfigError(f"trait '{trait}' in {section}.{field_name} is not audited in this run",
                                  f"use some of: {', '.join(traits)}")
    ab = [name for name, info in custom.items() if is_ab_spec(info["source"])]
    if ab:  # an A/B dataset's behaviour is the likelihood route: it runs no generation E1
        listed = e1_update.get("traits", config.e1.traits)
        e1_update["traits"] = [t for t in (traits if listed is None else listed) if t not in ab]
    if no_e3:  # a trait directory without prompts for the other environments runs the first one only
        listed = e1_update.get("environment_traits", config.e1.environment_traits)
        e1_update["environment_traits"] = [t for t in (traits if listed is None else listed) if t not in no_e3]
    hf = (config.scorer or "").startswith("hf:")
    if config.label_map is not None and not hf:
        raise ConfigError("label_map (--label-map) applies to an hf: scorer only",
                          "add --scorer hf:PATH (scorer: in a config file), or drop the label map")
    if hf and config.label_map is None:
        raise ConfigError(f"scorer '{config.scorer}' needs a label map", "add --label-map pos=LABEL_1,neg=LABEL_0 "
                          "with the model's label names (label_map: in a config file)")
    if config.scorer is not None and len(traits) != 1:
        raise ConfigError(f"scorer '{config.scorer}' is given for {len(traits)} traits",
                          "audit one trait per run when you choose its scorer (--traits ONE --scorer ...)")
    layers = list(config.layers) if config.layers is not None else [n_layers // 2]
    for layer in layers:
        if layer >= n_layers + (1 if config.point == "in" else 0) or layer >= n_layers:
            raise ConfigError(f"layer {layer} is out of range for a model with {n_layers} blocks",
                              f"use layers between 0 and {n_layers - 1}")
    update: dict[str, Any] = {"traits": traits, "layers": layers, "custom_traits": custom}
    if e1_update:
        update["e1"] = config.e1.model_copy(update=e1_update)
    if config.dtype == "auto" and dtype is not None:
        update["dtype"] = dtype
    # the plan's concrete values (its defaults included) are what the resolved config records
    plan = {k: v for k, v in config.plan.to_dict().items() if k in EquivalenceSettings.model_fields}
    update["equivalence"] = EquivalenceSettings(**plan)
    return config.model_copy(update=update)
