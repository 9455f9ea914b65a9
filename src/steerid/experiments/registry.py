"""The experiment registry: one entry per audit experiment, the one place that says what it is.

An entry names the experiment (its key in configs, unit ids and ``results.json``), its title, the
E1 route it is (``steerid.answers.ROUTES``) if any, the grid axes its units span, whether it reads
the trait's scorer or pairs (``needs_trait``), whether ``steerid identify`` runs it by default and
whether it can run on a given vector, and the module that implements it. That module (see
:mod:`steerid.audit.units`) defines

* ``Settings`` — a frozen pydantic model of every setting the run reads, built from the config by
  ``Settings.from_config(config)``; the grid hashes ``Settings.model_dump()`` into the unit id and
  the worker rebuilds the *same* model from the unit's spec, so a run cannot read a setting the id
  does not cover;
* ``run(settings, ctx) -> dict`` — the unit's body (``ctx``: :class:`steerid.audit.worker.UnitContext`,
  the cell, the model and the trait's data; never the config);
* optionally ``cost(config) -> float`` (progress ETA) and ``cells(config, trait)`` (the grid cells,
  when the axes alone do not say which).

Modules are named by import path and loaded on first use, so reading the registry (the CLI's
choices, the config's validator) imports neither torch nor the experiments. (The implementing
modules live in the ``audit`` layer, which reads configs; the registry names them, it does not
import them, so the layering holds.)

Adding an experiment: one module under ``steerid/audit/units/`` and one :func:`register` call
below (plus a section in :class:`~steerid.audit.config.AuditConfig` when it has knobs of its own).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from steerid.errors import ConfigError

AxisUse = Literal["each", "first", "none", "all"]


@dataclass(frozen=True)
class Axes:
    """Which values of each grid axis an experiment's units take.

    ``each``: one unit per value; ``first``: the config's first value only; ``none``: the axis is
    not spanned (``None`` in the unit); ``all`` (method only): one unit over every method (``"all"``).
    """

    method: AxisUse = "each"
    alpha: AxisUse = "each"
    environment: AxisUse = "first"


@dataclass(frozen=True)
class Experiment:
    """One audit experiment (see the module docstring).

    Attributes:
        name: key in configs, unit ids, ``results.json`` and the CLI.
        title: what the report and the progress lines call it.
        module: import path of the module defining ``Settings`` and ``run``.
        axes: the grid axes its units span (trait × layer always).
        route: the E1 route it is (a key of :data:`steerid.answers.ROUTES`), else None.
        needs_trait: reads the trait's scorer or contrast pairs, not only its prompts (a trait-free
            ``identify`` runs only the others; E7 then does not score text).
        identify_default: ``steerid identify`` runs it when neither the command line nor the config names experiments.
        given_vector: can run on a given vector (``steerid identify``); E5 compares extraction methods and cannot.
        result: ``"module:Class"`` of its typed result (``Class.from_dict`` reads the stored ``result``), if any.
    """

    name: str
    title: str
    module: str
    axes: Axes = Axes()
    route: str | None = None
    needs_trait: bool = True
    identify_default: bool = False
    given_vector: bool = True
    result: str | None = None

    def load(self) -> ModuleType:
        """The implementing module (imported on first use)."""
        return importlib.import_module(self.module)

    def settings(self, config: Any) -> Any:
        """The typed settings a unit of this experiment receives under ``config`` (what the unit id hashes)."""
        return self.load().Settings.from_config(config)

    def settings_from_spec(self, data: dict[str, Any]) -> Any:
        """The settings back from a unit spec's ``settings`` (validated; unknown keys are an error)."""
        return self.load().Settings.model_validate(data)

    def run(self, settings: Any, ctx: Any) -> dict[str, Any]:
        """Run one unit: ``{"n": ..., "result": {...}, ...}`` (JSON-safe after :func:`steerid.results.jsonable`)."""
        return self.load().run(settings, ctx)

    def cost(self, config: Any) -> float:
        """Rough relative cost of one unit (progress ETA only); 200 when the module gives none."""
        fn = getattr(self.load(), "cost", None)
        return float(fn(config)) if fn is not None else 200.0

    def result_class(self) -> type | None:
        """The typed result class (``from_dict`` / ``to_dict``), or None."""
        if self.result is None:
            return None
        module, _, name = self.result.partition(":")
        return getattr(importlib.import_module(module), name)

    def read_result(self, data: dict[str, Any]) -> Any:
        """A stored unit ``result`` as its typed result (the dict itself when the experiment has no class)."""
        cls = self.result_class()
        return data if cls is None else cls.from_dict(data)


REGISTRY: dict[str, Experiment] = {}


def register(entry: Experiment) -> Experiment:
    """Add ``entry`` (its name must be new); returns it."""
    if entry.name in REGISTRY:
        raise ConfigError(f"experiment '{entry.name}' is registered twice", "give the new experiment another name")
    REGISTRY[entry.name] = entry
    return entry


def unregister(name: str) -> None:
    """Remove an entry (tests that register a temporary experiment)."""
    REGISTRY.pop(name, None)


def experiment(name: str) -> Experiment:
    """The registered entry ``name``.

    Raises:
        ConfigError: no such experiment.
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown experiment '{name}'", f"use some of: {', '.join(REGISTRY)}") from None


def names(*, given_vector: bool = False) -> tuple[str, ...]:
    """Registered experiment names in run order (``given_vector``: only those that run on a given vector)."""
    return tuple(n for n, e in REGISTRY.items() if e.given_vector or not given_vector)


def identify_defaults() -> tuple[str, ...]:
    """What ``steerid identify`` runs when neither the command line nor the config names experiments."""
    return tuple(n for n, e in REGISTRY.items() if e.identify_default)


# ---- the entries (their order is the order units run) ---------------------------------------------
_U = "steerid.audit.units."
register(Experiment("e1", "E1 by generation (E2: α axis, E3: environment axis)", _U + "e1",
                    Axes("each", "each", "each"), route="e1", identify_default=True,
                    result="steerid.experiments.orthogonal:OrthogonalResult"))
register(Experiment("likelihood", "E1 on teacher-forced log-probability differences", _U + "likelihood",
                    Axes("each", "each", "none"), route="likelihood", identify_default=True,
                    result="steerid.experiments.likelihood:LikelihoodResult"))
register(Experiment("e4", "E4 logit distance", _U + "e4", Axes("each", "each", "first"), needs_trait=False,
                    identify_default=True))
register(Experiment("e5", "E5 method equivalence", _U + "e5", Axes("all", "first", "none"), given_vector=False,
                    result="steerid.experiments.methods:MethodsResult"))
register(Experiment("e6", "E6 null space", _U + "e6", Axes("first", "first", "first"), needs_trait=False,
                    identify_default=True))
register(Experiment("e7", "E7 spanning", _U + "e7", Axes("first", "first", "first"), needs_trait=False))
register(Experiment("recovery", "recovery of the direction from the pairs", _U + "recovery",
                    Axes("first", "none", "none")))
