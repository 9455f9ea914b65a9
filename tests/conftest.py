"""Shared fixtures: tiny models of every family (fast, offline) and the packaged SmolLM2."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest
import torch

from steerid.models import load_model
from steerid.models.tiny import TINY_CONFIGS

torch.set_num_threads(1)  # tiny models are overhead-bound; one thread is fastest and deterministic

FAMILIES = sorted(TINY_CONFIGS)


@pytest.fixture(scope="session", params=FAMILIES)
def tiny_lm(request):
    """A tiny random model of each family (parametrised)."""
    return load_model(f"tiny:{request.param}")


@pytest.fixture(scope="session")
def llama_lm():
    return load_model("tiny:llama")


@pytest.fixture(scope="session")
def smollm2():
    """The packaged default model (converted to the safetensors cache on first use)."""
    return load_model("smollm2-135m")
