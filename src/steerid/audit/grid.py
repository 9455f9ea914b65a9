"""The audit grid: a resolved config expands into *units*, each identified by a hash of its settings.

A unit is one experiment on one (model, trait, layer, method, α, environment) cell. Which axes an
experiment spans:

=============  =====================================================================
``e1``         trait × layer × method × α × environment (E2 = the α axis, E3 = the environment axis)
``likelihood`` trait × layer × method × α (teacher-forced; the environment is the item set)
``e4``         trait × layer × method × α, first environment
``e5``         trait × layer, first α, every method of ``e5.methods``
``e6``         trait × layer (covariance and Fisher spectra at the site; v = first method)
``e7``         trait × layer, first method, first α, first environment
``recovery``   trait × layer (recovery constraints on the pairs, planted benchmark)
=============  =====================================================================

The unit id is the first 16 hex digits of SHA-256 over the canonical JSON of the unit's *spec*:
the model (spec, dtype, weights hash), the cell (with a trait directory's content hash, and the
chosen ``scorer`` / ``label_map`` when set), and every setting the experiment reads. It does
not depend on the order of the grid, on the run directory or on time, so the same config always
yields the same ids, and a changed setting yields a new id. Every random draw in a unit derives
from ``seed`` and the unit id (:func:`unit_seed`), so units can run in any order, on any executor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from steerid.audit.config import AuditConfig, canonical_json
from steerid.errors import ConfigError


@dataclass(frozen=True)
class Unit:
    """One cell of the audit grid.

    Attributes:
        id: stable hash of ``spec``.
        experiment: ``e1``, ``likelihood``, ``e4``, ``e5``, ``e6``, ``e7`` or ``recovery``.
        trait / layer / method / alpha_rel / environment: the cell (``None`` where the
            experiment does not span that axis; ``method`` is ``"all"`` for E5).
        spec: everything the unit's result depends on (hashed into ``id``).
        cost: rough relative cost, for the progress ETA only.
    """

    id: str
    experiment: str
    trait: str
    layer: int
    method: str
    alpha_rel: float | None
    environment: str | None
    spec: dict[str, Any] = field(repr=False)
    cost: float = 1.0

    @property
    def label(self) -> str:
        parts = [self.experiment, self.trait, f"L{self.layer}", self.method]
        if self.alpha_rel is not None:
            parts.append(f"α={self.alpha_rel:g}")
        if self.environment is not None:
            parts.append(self.environment)
        return " · ".join(parts)

    def header(self) -> dict[str, Any]:
        """The cell, as stored beside the unit's result."""
        return {"unit_id": self.id, "experiment": self.experiment, "trait": self.trait, "layer": self.layer,
                "method": self.method, "alpha_rel": self.alpha_rel, "environment": self.environment}


def unit_id(spec: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:16]


def unit_seed(seed: int, uid: str) -> int:
    """A 31-bit seed derived from the audit seed and the unit id."""
    return int(hashlib.sha256(f"{seed}:{uid}".encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


def _e1_shared(config: AuditConfig) -> dict[str, Any]:
    return {"rhos": config.rhos, "n_draws": config.n_draws, "signs": config.signs, "margin_dz": config.margin_dz,
            "margin_rel": config.margin_rel, "test_alpha": config.test_alpha}


def _settings(config: AuditConfig, experiment: str) -> dict[str, Any]:
    if experiment == "e1":
        return {**_e1_shared(config), **config.e1.model_dump(mode="json"), "n_draws": config.e1.n_draws or config.n_draws}
    if experiment == "likelihood":
        return {**_e1_shared(config), **config.likelihood.model_dump(mode="json")}
    if experiment == "e5":
        return {"margin_dz": config.margin_dz, "test_alpha": config.test_alpha, "signs": config.signs,
                "greedy": config.e1.greedy, "temperature": config.e1.temperature, **config.e5.model_dump(mode="json")}
    section = getattr(config, experiment).model_dump(mode="json")
    if experiment == "e4":
        section = {**section, "rhos": config.rhos, "n_draws": config.e4.n_draws or config.n_draws}
    if experiment == "e7":
        section = {**section, "rhos": config.rhos, "margin_dz": config.margin_dz, "test_alpha": config.test_alpha,
                   "k": config.e6.k, "positions": config.e6.positions}
    return section


def _cost(config: AuditConfig, experiment: str, n_methods: int = 1) -> float:
    """Rough cost in 'decoded-token equivalents' (prefill tokens count 1/10)."""
    def n_cond(draws: int) -> int:
        return 3 + len(config.rhos) * (len(config.signs) * draws + 2)

    prefill = 6.0  # ≈ 60 prompt tokens at a tenth of a decode step each
    if experiment == "e1":
        return config.e1.n_prompts * n_cond(config.e1.n_draws or config.n_draws) * (config.e1.max_new_tokens + prefill)
    if experiment == "likelihood":
        return (config.likelihood.n_items or 60) * n_cond(config.n_draws) * 2 * prefill
    if experiment == "e4":
        draws = config.e4.n_draws or config.n_draws
        return config.e4.n_prompts * (config.e4.max_new_tokens + (2 + 2 * draws * len(config.rhos)) * prefill)
    if experiment == "e5":
        return config.e5.n_prompts * (1 + 2 * n_methods) * (config.e5.max_new_tokens + prefill) + 200
    if experiment == "e6":
        return config.e6.n_prompts * prefill + config.e6.fisher_prompts * config.e6.positions * 80
    if experiment == "e7":
        return config.e7.n_prompts * (2 * config.e7.n_directions + 2) * 2 * prefill
    return 200.0


def expand_grid(config: AuditConfig, *, weights_hash: str = "", vector_sha256: str | None = None,
                device: str = "cpu") -> list[Unit]:
    """All units of a *resolved* config, in a fixed order (experiment, trait, layer, method, α, env).

    ``device`` is the resolved device the units run on; it enters the spec (and so the ids) only
    when it is not the CPU, so the ids of CPU runs are those of earlier steerid versions and a
    CUDA run never reuses a CPU run's results.
    """
    if not config.resolved:
        raise ConfigError("the config must be resolved against the model before expanding the grid",
                          "call steerid.audit.config.resolve(config, ...) first")
    base = {"model": config.model, "dtype": config.dtype, "weights_hash": weights_hash, "point": config.point,
            "pooling": config.pooling, "seed": config.seed, "batch_size": config.batch_size,
            "threads": config.threads, "n_norm_prompts": config.n_norm_prompts}
    if vector_sha256 is not None:
        base["vector_sha256"] = vector_sha256
    if device != "cpu":
        base["device"] = device
    if config.scorer is not None:  # only when set, so the ids of runs with default scorers stay as they were
        base["scorer"] = config.scorer
        base["label_map"] = config.label_map
    units: list[Unit] = []
    alphas, envs, methods = config.alphas_rel, config.environments, config.methods

    def add(experiment: str, trait: str, layer: int, method: str, alpha: float | None, env: str | None) -> None:
        spec = {**base, "experiment": experiment, "trait": trait, "layer": layer, "method": method,
                "alpha_rel": alpha, "environment": env, "settings": _settings(config, experiment)}
        if trait in config.custom_traits:  # a trait directory: its files (and so its items) are part of the cell
            spec["trait_content_hash"] = config.custom_traits[trait]["content_hash"]
        n_methods = len(config.e5.methods) if experiment == "e5" else 1
        units.append(Unit(unit_id(spec), experiment, trait, layer, method, alpha, env, spec,
                          cost=_cost(config, experiment, n_methods)))

    for experiment in config.experiments:
        for trait in config.traits:
            for layer in config.layers or []:
                if experiment == "e1":
                    if config.e1.traits is not None and trait not in config.e1.traits:
                        continue
                    e3 = config.e1.environment_traits is None or trait in config.e1.environment_traits
                    for method in methods:
                        for alpha in alphas:
                            for env in envs if e3 else envs[:1]:
                                add(experiment, trait, layer, method, alpha, env)
                elif experiment == "likelihood":
                    for method in methods:
                        for alpha in alphas:
                            add(experiment, trait, layer, method, alpha, None)
                elif experiment == "e4":
                    for method in methods:
                        for alpha in alphas:
                            add(experiment, trait, layer, method, alpha, envs[0])
                elif experiment == "e5":
                    add(experiment, trait, layer, "all", alphas[0], None)
                elif experiment == "e6":
                    add(experiment, trait, layer, methods[0], alphas[0], envs[0])
                elif experiment == "e7":
                    add(experiment, trait, layer, methods[0], alphas[0], envs[0])
                elif experiment == "recovery":
                    add(experiment, trait, layer, methods[0], None, None)
    ids = [u.id for u in units]
    if len(set(ids)) != len(ids):  # pragma: no cover - a hash collision or a duplicated axis value
        raise ConfigError("two audit units have the same settings", "remove duplicated values from the config lists")
    return units
