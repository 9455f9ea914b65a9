"""Fixtures of the reliability suite: the fork server and fresh tiny models."""

from __future__ import annotations

import pytest

from _reliability import Zygote


@pytest.fixture(scope="session")
def zygote(tmp_path_factory):
    """One fork server per session (see ``_zygote.py``)."""
    server = Zygote(tmp_path_factory.mktemp("zygote-logs"))
    yield server
    server.close()
