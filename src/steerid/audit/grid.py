"""The audit grid: a resolved config expands into *units*, each identified by a hash of its settings.

A unit is one experiment on one (model, trait, layer, method, α, environment) cell. Which axes an
experiment spans is its registry entry's (:mod:`steerid.experiments.registry`):

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
chosen ``scorer`` / ``label_map`` when set), and the experiment's ``Settings`` — exactly the
model the worker rebuilds from the spec and hands to the run (``decode_dtype`` and the
equivalence plan included), so a run reads no setting its id does not cover. It does
not depend on the order of the grid, on the run directory or on time, so the same config always
yields the same ids, and a changed setting yields a new id. Every random draw in a unit derives
from ``seed`` and the unit id (:func:`unit_seed`), so units can run in any order, on any executor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from steerid.audit.config import AuditConfig, canonical_json
from steerid.experiments.registry import Experiment, experiment
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


def _cells(config: AuditConfig, entry: Experiment, trait: str) -> list[tuple[str, float | None, str | None]]:
    """(method, α, environment) of the entry's units for ``trait``: its module's ``cells`` or its axes."""
    listed = getattr(getattr(config, entry.name, None), "traits", None)
    if listed is not None and trait not in listed:  # the section names the traits that run it (e.g. e6.traits)
        return []
    custom = getattr(entry.load(), "cells", None)
    if custom is not None:
        return list(custom(config, trait))
    ax = entry.axes
    methods = ["all"] if ax.method == "all" else config.methods if ax.method == "each" else config.methods[:1]
    alphas = [None] if ax.alpha == "none" else config.alphas_rel if ax.alpha == "each" else config.alphas_rel[:1]
    envs = [None] if ax.environment == "none" else config.environments if ax.environment == "each" \
        else config.environments[:1]
    return [(m, a, e) for m in methods for a in alphas for e in envs]


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
    for name in config.experiments:
        entry = experiment(name)
        settings = entry.settings(config).spec()
        cost = entry.cost(config)
        for trait in config.traits:
            for layer in config.layers or []:
                for method, alpha, env in _cells(config, entry, trait):
                    spec = {**base, "experiment": name, "trait": trait, "layer": layer, "method": method,
                            "alpha_rel": alpha, "environment": env, "settings": settings}
                    if trait in config.custom_traits:  # a trait directory: its files (and items) are part of the cell
                        spec["trait_content_hash"] = config.custom_traits[trait]["content_hash"]
                    units.append(Unit(unit_id(spec), name, trait, layer, method, alpha, env, spec, cost=cost))
    ids = [u.id for u in units]
    if len(set(ids)) != len(ids):  # pragma: no cover - a hash collision or a duplicated axis value
        raise ConfigError("two audit units have the same settings", "remove duplicated values from the config lists")
    return units
