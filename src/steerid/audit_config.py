"""Audit configuration: a validated, versioned description of everything an audit runs.

A config is built in three layers, each overriding the one before:

1. a *profile* shipped with steerid (``smoke``, ``quick``, ``paper``; YAML files in
   ``steerid/profiles/``);
2. an optional user YAML file (``--config FILE``) that overrides any field of the profile
   (nested sections such as ``e1:`` or ``e6:`` are merged key by key);
3. the command line (``MODEL`` and ``--traits``).

Every section forbids unknown keys, so a typo is an error that names the key and lists the
valid ones instead of a silently ignored value. ``config_version`` is ``1``; a file written for
a newer steerid is refused with "upgrade steerid".

The config is then *resolved* against the model (``layers: null`` → ``n_layers // 2``, which is
15 for SmolLM2-135M; ``traits: all`` → the built-in trait names) and the resolved form is what
``RUN/config.yaml`` holds and what unit ids are derived from.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from steerid.errors import ConfigError

CONFIG_VERSION = 1
EXPERIMENTS: tuple[str, ...] = ("e1", "likelihood", "e4", "e5", "e6", "e7", "recovery")
"""Experiment keys, in the order units run (cheap, vector-free ones are not special-cased)."""
ENVIRONMENTS: tuple[str, ...] = ("in_distribution", "topic_shift", "genre_shift")
METHODS: tuple[str, ...] = ("mean_diff", "pca", "probe", "lda")


def _finite(values: list[float], name: str) -> list[float]:
    for value in values:
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite numbers, got {value}")
    return values


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    sequential: bool = Field(True, description="group-sequential per-draw TOSTs: stop once every draw is decided")
    first_look: int = Field(48, ge=3, description="prompts at the first look of the sequential test")
    traits: list[str] | None = Field(None, description="traits that run the generation route (null = every trait)")
    environment_traits: list[str] | None = Field(
        None, description="traits that run every environment (E3); the others run the first only (null = all)")


class LikelihoodSettings(_Section):
    """E1 on teacher-forced log-probability differences of the trait's likelihood items."""

    n_items: int | None = Field(None, ge=3, description="likelihood items (null = all)")
    sequential: bool = Field(True, description="group-sequential per-draw TOSTs over the items")
    first_look: int = Field(48, ge=3, description="items at the first look of the sequential test")
    farthest: bool = Field(False, description="search for the farthest equivalent vector (likelihood route)")
    farthest_candidates: int = Field(8, ge=1, le=256, description="candidate directions of the farthest-vector search")


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
    """Everything an audit runs. See the module docstring for how profiles and files combine."""

    config_version: int = CONFIG_VERSION
    profile: str = "custom"
    model: str = "smollm2-135m"
    dtype: Literal["float32", "bfloat16"] = "float32"
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
    experiments: list[Literal["e1", "likelihood", "e4", "e5", "e6", "e7", "recovery"]] = Field(
        default_factory=lambda: ["e1", "likelihood", "e4", "e6"])
    rhos: list[float] = Field(default_factory=lambda: [1.0])
    n_draws: int = Field(8, ge=1)
    signs: list[Literal[1, -1]] = Field(default_factory=lambda: [1, -1])
    margin_dz: float = Field(0.2, gt=0, le=2)
    margin_rel: float | None = Field(0.2, gt=0, lt=1, description="relative equivalence margin ε: v+v⊥ within "
                                     "(1 ± ε)·v's own effect (paired ratio TOST); null = off")
    test_alpha: float = Field(0.05, gt=0, lt=0.5)
    n_norm_prompts: int = Field(32, ge=1, description="prompts used to measure the median token norm")
    seed: int = Field(0, ge=0)
    batch_size: int = Field(64, ge=1)
    threads: int = Field(2, ge=1, description="torch threads per unit (fixed so results do not depend on the executor)")
    vector: str | None = Field(None, description="audit this saved vector instead of extracting (steerid identify)")
    vector_trait: str | None = None
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
        if "e5" in self.experiments and self.vector is not None:
            raise ValueError("e5 compares extraction methods and cannot run on a given vector")
        return self

    # ----------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=True, allow_unicode=True)

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of the config (keys sorted)."""
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()

    @property
    def resolved(self) -> bool:
        return self.layers is not None and self.traits != "all"


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


# --------------------------------------------------------------------------------------------
# profiles and files
# --------------------------------------------------------------------------------------------


def list_profiles() -> list[str]:
    root = resources.files("steerid").joinpath("profiles")
    return sorted(p.name.removesuffix(".yaml") for p in root.iterdir() if p.name.endswith(".yaml"))


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where}{line} is not valid YAML", "fix the YAML syntax (indentation, colons, quotes)") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a YAML mapping of config keys, got {type(data).__name__}",
                          "write one 'key: value' per line")
    return data


def load_profile(name: str) -> dict[str, Any]:
    """The raw mapping of a shipped profile."""
    known = list_profiles()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(f"unknown profile '{name}'", f"{hint}use one of: {', '.join(known)}")
    text = resources.files("steerid").joinpath("profiles", f"{name}.yaml").read_text(encoding="utf-8")
    data = _read_yaml(text, f"profile {name}")
    data["profile"] = name
    return data


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a user config file (validated later, merged over the profile)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"config file '{file}' does not exist", "check the --config path")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file '{file}' is not UTF-8 text", "save it as UTF-8 YAML") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file '{file}' ({exc.strerror})", "check its permissions") from exc
    return _read_yaml(text, f"config file {file}")


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``; nested mappings merge key by key, lists replace."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _valid_keys(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _section_model(loc: tuple) -> type[BaseModel]:
    model: type[BaseModel] = AuditConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None) if field else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            break
    return model


def validate_config(data: dict[str, Any], where: str = "config") -> AuditConfig:
    """Validate a raw mapping into an :class:`AuditConfig`, turning every problem into one line."""
    version = data.get("config_version", CONFIG_VERSION)
    if isinstance(version, int) and not isinstance(version, bool) and version > CONFIG_VERSION:
        raise ConfigError(f"{where} has config_version {version}, newer than this steerid reads ({CONFIG_VERSION})",
                          "upgrade steerid")
    try:
        return AuditConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error.get("loc", ()))
        key = ".".join(str(p) for p in loc) or "config"
        if error.get("type") == "extra_forbidden":
            valid = _valid_keys(_section_model(loc))
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"{where}: unknown key '{key}'",
                              f"{hint}valid keys here: {', '.join(valid)}") from exc
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        got = error.get("input")
        shown = "" if isinstance(got, (dict, list)) and len(str(got)) > 60 else f" (got {got!r})"
        raise ConfigError(f"{where}: invalid value for '{key}': {message}{shown}",
                          f"fix '{key}' (see steerid/profiles/*.yaml for examples)") from exc


def build_config(profile: str = "quick", config_file: str | Path | None = None,
                 overrides: dict[str, Any] | None = None) -> AuditConfig:
    """Profile ← user file ← command-line overrides, validated."""
    data = load_profile(profile)
    where = f"profile {profile}"
    if config_file is not None:
        user = read_config_file(config_file)
        if "profile" in user:
            raise ConfigError(f"config file {config_file}: 'profile' cannot be set in a config file",
                              "choose the profile with --profile and override its fields in the file")
        data = merge(data, user)
        where = f"config file {config_file}"
    if overrides:
        data = merge(data, {k: v for k, v in overrides.items() if v is not None})
    return validate_config(data, where)


def parse_traits(text: str | None) -> list[str] | str | None:
    """``--traits all`` / ``--traits a,b`` → ``"all"`` / ``["a", "b"]``."""
    if text is None:
        return None
    text = text.strip()
    if text == "all":
        return "all"
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise ConfigError("--traits is empty", "pass --traits all or a comma-separated list such as sentiment,formality")
    return names


def resolve(config: AuditConfig, *, n_layers: int, available_traits: list[str]) -> AuditConfig:
    """Fill model-dependent defaults and check traits / layers against the model and the library."""
    traits = list(available_traits) if config.traits == "all" else list(config.traits)
    for trait in traits:
        if trait not in available_traits:
            close = difflib.get_close_matches(trait, available_traits, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"unknown trait '{trait}'", f"{hint}use 'all' or some of: {', '.join(available_traits)}")
    for field_name in ("traits", "environment_traits"):
        for trait in getattr(config.e1, field_name) or []:
            if trait not in available_traits:
                raise ConfigError(f"unknown trait '{trait}' in e1.{field_name}",
                                  f"use some of: {', '.join(available_traits)}")
    layers = list(config.layers) if config.layers is not None else [n_layers // 2]
    for layer in layers:
        if layer >= n_layers + (1 if config.point == "in" else 0) or layer >= n_layers:
            raise ConfigError(f"layer {layer} is out of range for a model with {n_layers} blocks",
                              f"use layers between 0 and {n_layers - 1}")
    return config.model_copy(update={"traits": traits, "layers": layers})
