"""A smoke audit (tiny model, every experiment, report rendered) shared by the report tests."""

from __future__ import annotations

import pytest

from steerid.audit import run_audit
from steerid.audit.profiles import build_config


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("smoke") / "run"
    outcome = run_audit(build_config("smoke"), run_dir, quiet=True)
    return outcome
