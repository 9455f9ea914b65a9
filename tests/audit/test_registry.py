"""The experiment registry: one entry per experiment; the grid hashes exactly the settings the run receives."""

from __future__ import annotations

import json
import sys
import types
from typing import Any

import pytest

from steerid.audit import run_audit
from steerid.audit.config import AuditConfig, EquivalenceSettings, resolve
from steerid.audit.grid import expand_grid
from steerid.audit.profiles import build_config
from steerid.experiments.registry import REGISTRY, Axes, Experiment, experiment, names, register, unregister
from steerid.audit.units import UnitSettings
from steerid.errors import ConfigError


def _resolved(**overrides: Any) -> AuditConfig:
    config = build_config("smoke", overrides={"traits": ["sentiment"], **overrides})
    return resolve(config, n_layers=4, available_traits=["sentiment", "truthfulness"])


def test_every_entry_loads_settings_that_round_trip_through_the_unit_spec():
    config = _resolved(experiments=list(names()))
    for name in names():
        entry = experiment(name)
        settings = entry.settings(config)
        assert isinstance(settings, UnitSettings) and callable(entry.load().run)
        assert entry.settings_from_spec(json.loads(json.dumps(settings.spec()))) == settings
    assert names(given_vector=True) == tuple(n for n in names() if n != "e5")
    with pytest.raises(ConfigError, match="unknown experiment 'nope'"):
        experiment("nope")


def test_unit_ids_cover_decode_dtype_and_the_equivalence_plan():
    base = {u.id: u for u in expand_grid(_resolved())}
    bf16 = expand_grid(_resolved(decode_dtype="float32"))
    changed = {u.experiment for u in bf16 if u.id not in base}
    assert changed == {"e1", "likelihood"}  # the experiments that decode read it; the others' ids stay
    margin = expand_grid(_resolved(equivalence={"margin_dz": 0.3}))
    assert {u.experiment for u in margin if u.id not in base} == {"e1", "likelihood", "e5", "e7"}
    unit = next(u for u in bf16 if u.experiment == "e1")
    assert unit.spec["settings"]["decode_dtype"] == "float32"
    assert unit.spec["settings"]["equivalence"] == EquivalenceSettings(**{
        k: v for k, v in unit.spec["settings"]["equivalence"].items()}).model_dump()


def test_old_equivalence_keys_name_their_new_place():
    from steerid.audit.config import validate_config

    for data, new in (({"margin_dz": 0.4}, "equivalence.margin_dz"), ({"test_alpha": 0.01}, "equivalence.level"),
                      ({"margin_rel": 0.1}, "equivalence.margin_rel"), ({"e1": {"first_look": 30}}, "equivalence.first_look"),
                      ({"likelihood": {"sequential": False}}, "equivalence.sequential")):
        with pytest.raises(ConfigError) as info:
            validate_config(data)
        assert f"did you mean '{new}'" in info.value.fix
    assert validate_config({"equivalence": {"margin": "dz", "correction": "none"}}).plan.margin == "dz"
    with pytest.raises(ConfigError, match="equivalence.margin_rel"):
        validate_config({"equivalence": {"margin_rel": 1.5}})


# ---------------------------------------------------------------------------------------------
# a toy experiment: one module + one registry line


class ToySettings(UnitSettings):
    """The toy reads ρ, the equivalence plan and the decode dtype."""

    rhos: list[float]
    equivalence: EquivalenceSettings
    decode_dtype: str


def _toy_run(settings: ToySettings, ctx: Any) -> dict[str, Any]:
    import numpy as np

    items = ctx.eval_items(ctx.unit.environment or "in_distribution", 3)
    ectx = ctx.experiment_context(ctx.prompts(items))
    shift = ectx.displacement(float(ctx.unit.alpha_rel))
    return {"n": len(items), "result": {"displacement_norm": float(np.linalg.norm(shift)), "rhos": settings.rhos,
                                        "level": settings.equivalence.plan().level}}


@pytest.fixture
def toy():
    module = types.ModuleType("steerid_toy_experiment")
    module.Settings = ToySettings
    module.run = _toy_run
    sys.modules[module.__name__] = module
    entry = register(Experiment("toy", "a toy experiment", module.__name__, Axes("first", "each", "first")))
    yield entry
    unregister("toy")
    del sys.modules[module.__name__]


def test_a_registered_toy_experiment_runs_through_the_grid_and_the_worker(toy, tmp_path):
    assert "toy" in REGISTRY
    config = build_config("smoke", overrides={"traits": ["sentiment"], "experiments": ["toy"],
                                              "equivalence": {"level": 0.01}})
    outcome = run_audit(config, tmp_path / "run", quiet=True, render=False)
    results = json.loads(outcome.results_path.read_text(encoding="utf-8"))
    units = results["units"]
    assert [u["experiment"] for u in units] == ["toy", "toy"] and [u["alpha_rel"] for u in units] == [0.5, 1.0]
    for u in units:
        assert u["status"] == "ok" and u["result"]["level"] == 0.01 and u["result"]["rhos"] == [1.0]
        assert u["result"]["displacement_norm"] == pytest.approx(u["displacement_norm"])
        assert u["decode"]["requested"] == "auto" and u["decode"]["resolved"] in ("float32", "bfloat16")
    assert results["provenance"]["decode"]["resolved"] == units[0]["decode"]["resolved"]
    assert results["equivalence_plan"]["level"] == 0.01
