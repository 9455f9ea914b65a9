"""Loading a model or a scorer draws no "Loading weights" progress bars (a notebook shows them as widgets)."""

from __future__ import annotations

from transformers.utils import logging as hf_logging

from steerid.models import load_model
from steerid.models.loader import quiet_loading


def test_quiet_loading_restores_the_setting() -> None:
    hf_logging.enable_progress_bar()
    with quiet_loading():
        assert not hf_logging.is_progress_bar_enabled()
    assert hf_logging.is_progress_bar_enabled()


def test_packaged_model_loads_without_bars(capfd) -> None:
    hf_logging.enable_progress_bar()
    capfd.readouterr()
    load_model("smollm2-135m")
    captured = capfd.readouterr()
    assert "Loading weights" not in captured.err + captured.out
    assert hf_logging.is_progress_bar_enabled()
