"""Every model call gets its inputs through ``steerid.engine.batching.on_device`` (so a CUDA model gets CUDA tensors).

There is no GPU here, so the test spies on the one helper that moves tensors
(:func:`steerid.engine.batching.to_device`) and checks, with a forward pre-hook on the model, that every
tensor a forward pass receives came out of it — for capture, teacher forcing (one and k
continuations), the shared-prefix cache and the Fisher points. Results come back as CPU tensors /
numpy arrays.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from steerid.engine import batching
from steerid.capture import capture, median_token_norm
from steerid.experiments.fisher.points import PointSet
from steerid.experiments.fisher.products import SiteLinearization
from steerid.engine.generation import continuation_logprob, continuation_logprobs
from steerid.models import Site, load_model

PROMPTS = ["The weather today is", "My favourite food is"]
LONG = "You are a helpful assistant who answers every question in full sentences. "


@pytest.fixture(scope="module")
def lm():
    return load_model("tiny:llama")


@pytest.fixture
def spy(lm, monkeypatch):
    """``{'moved': ids of tensors to_device returned, 'calls': forward passes, 'bad': unmoved inputs}``."""
    state: dict = {"moved": set(), "devices": [], "calls": 0, "bad": []}
    original = batching.to_device

    def to_device(tensor, device):
        out = original(tensor, device)
        state["moved"].add(id(out))
        state["devices"].append(torch.device(device))
        return out

    def check(module, args, kwargs):
        state["calls"] += 1
        for key in ("input_ids", "attention_mask", "position_ids"):
            value = kwargs.get(key)
            if isinstance(value, torch.Tensor) and id(value) not in state["moved"]:
                state["bad"].append(key)

    monkeypatch.setattr(batching, "to_device", to_device)
    handle = lm.model.register_forward_pre_hook(check, with_kwargs=True)
    yield state
    handle.remove()


def _assert_all_moved(state, lm) -> None:
    assert state["calls"] > 0 and not state["bad"], state["bad"]
    assert set(state["devices"]) == {lm.device}


def test_capture_moves_inputs_and_returns_cpu_arrays(lm, spy):
    acts = capture(lm, PROMPTS, [Site(1)], pooling="mean")
    assert isinstance(acts[Site(1)], np.ndarray) and acts[Site(1)].shape == (2, lm.info.hidden_size)
    assert median_token_norm(lm, PROMPTS, Site(1)) > 0
    _assert_all_moved(spy, lm)


def test_teacher_forcing_and_shared_prefix_move_inputs(lm, spy):
    prompts = [LONG + p for p in PROMPTS]  # a common prefix long enough to be shared
    deltas = np.zeros((2, lm.info.hidden_size))
    one = continuation_logprob(lm, prompts, [" sunny", " soup"], site=Site(1), deltas=deltas)
    many = continuation_logprobs(lm, prompts, [[" sunny", " cold"], [" soup", " rice"]], site=Site(1), deltas=deltas)
    assert one.shape == (2,) and many.shape == (2, 2) and np.isfinite(many).all()
    assert np.allclose(one, many[:, 0], atol=1e-4)
    _assert_all_moved(spy, lm)


def test_fisher_points_move_inputs(lm, spy):
    points = PointSet(lm, Site(1), PROMPTS, positions=2)
    lin = SiteLinearization(points)
    product = lin.product(np.ones(lm.info.hidden_size))
    assert isinstance(product, np.ndarray) and np.isfinite(product).all()
    assert points.chunks[0].logprobs().device.type == "cpu"
    _assert_all_moved(spy, lm)


def test_on_device_moves_tensors_only():
    cache = object()
    out = batching.on_device({"input_ids": torch.ones(2, dtype=torch.long), "cache": cache, "use_cache": True}, "cpu")
    assert out["cache"] is cache and out["use_cache"] is True and out["input_ids"].device.type == "cpu"
