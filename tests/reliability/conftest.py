"""Fixtures of the reliability suite: the fork server and the scripted audit runs."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("_reliability")

from _reliability import Zygote, audit_chain, audit_missing_reason  # noqa: E402


@pytest.fixture(scope="session")
def zygote(tmp_path_factory):
    """One fork server per session (see ``_zygote.py``)."""
    server = Zygote(tmp_path_factory.mktemp("zygote-logs"))
    yield server
    server.close()


@pytest.fixture(scope="session")
def audit_runs(zygote, tmp_path_factory):
    """The kill/resume sequence of ``test_kill_resume.py``, run once per session."""
    reason = audit_missing_reason()
    if reason is not None:
        pytest.xfail(reason)
    return audit_chain(zygote, tmp_path_factory.mktemp("audits"))
