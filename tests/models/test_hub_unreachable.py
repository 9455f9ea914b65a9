"""A hub id that is not cached, without network: one line within seconds, no retry warnings."""

from __future__ import annotations

import logging
import time

import pytest

from steerid.errors import ModelError
from steerid.models import load_model
from steerid.models.loader import HUB_CONNECT_TIMEOUT, hub_offline, hub_reachable

SPEC = "steerid-tests/no-such-model"


def test_offline_setting_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "true")
    assert hub_offline()
    start = time.perf_counter()
    with pytest.raises(ModelError, match="not in the local cache and HF_HUB_OFFLINE is set"):
        load_model(SPEC)
    assert time.perf_counter() - start < 10


def test_unreachable_hub_fails_within_seconds_and_quietly(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens, refused at once
    assert not hub_offline() and not hub_reachable()
    caplog.set_level(logging.DEBUG)
    start = time.perf_counter()
    with pytest.raises(ModelError, match="the hub is unreachable") as info:
        load_model(SPEC)
    assert time.perf_counter() - start < HUB_CONNECT_TIMEOUT + 10
    assert "fix:" in str(info.value) and "\n" not in str(info.value)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "retry" in r.getMessage().lower()]


def test_reachable_endpoint_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert hub_reachable(timeout=2)
    finally:
        server.close()
