"""A unit's result depends only on its spec, never on the units this process ran before it.

A resumed audit runs a unit in a process that did not run the units before it; so the result of
E7 (whose scores go through the per-process embedding cache) must be the same bits whether it
runs first or after the E1 units of the same trait, and no wall time may enter a result.
"""

from __future__ import annotations

import json

import pytest

from steerid.audit.worker import without_wall_times


def test_without_wall_times_drops_seconds_at_any_depth() -> None:
    data = {"seconds": 1.0, "fisher": {"seconds": 0.2, "k": 3}, "draws": [{"seconds": 2, "x": 1}]}
    assert without_wall_times(data) == {"fisher": {"k": 3}, "draws": [{"x": 1}]}


@pytest.fixture(scope="module")
def units(tmp_path_factory):
    from steerid.audit.grid import expand_grid
    from steerid.audit.profiles import build_config
    from steerid.audit.runner import load_and_resolve

    cfg = build_config("smoke", None, {"model": "tiny:llama", "traits": ["sentiment"],
                                       "experiments": ["e1", "e7"]})
    resolved, info, vsha = load_and_resolve(cfg, "cpu")
    grid = expand_grid(resolved, weights_hash=info["weights_hash"], vector_sha256=vsha, device="cpu")
    return resolved, grid, tmp_path_factory.mktemp("history")


def test_e7_unit_scores_alike_first_or_after_other_units(units) -> None:
    from steerid.audit.worker import Worker
    from steerid.scorers.embedding import clear_all_caches

    config, grid, run_dir = units
    e7 = next(u for u in grid if u.experiment == "e7")
    e1 = [u for u in grid if u.experiment == "e1"]
    clear_all_caches()  # as in a fresh (resumed) process
    first = Worker(config, run_dir).run_unit(e7)
    later = Worker(config, run_dir)
    for unit in e1:
        later.run_unit(unit)
    after = later.run_unit(e7)
    assert first["result"]["score"] is not None
    assert json.dumps(first, sort_keys=True) == json.dumps(after, sort_keys=True)
    assert "seconds" not in json.dumps(first)
