"""Guarantee 1 — no hook leaks.

A fault anywhere while steering (inside the ``with`` block, in the model's forward, inside
steerid's own hook, in the tokenizer, in a logits processor, in a scorer, an asynchronous
SIGINT, an interrupt right after a hook is registered) must leave the model exactly as it was:
no steerid hook registered (``count_hooks == 0``; transformers' own hooks are counted apart and
must be unchanged) and logits *bitwise* equal to an untouched model built with the same seed.
After the fault the model must also steer correctly again (the next steered run equals a steered
run on a pristine model).
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch

from steerid.engine import decode as decode_module
from steerid.engine.batching import left_pad
from steerid.capture import capture
from steerid.errors import VectorError
from steerid.experiments import orthogonal
from steerid.experiments.base import ExperimentContext
from steerid.experiments.conditions import e1_conditions, run_conditions
from steerid.engine.generation import PerRowGumbelSampler, continuation_logprob, generate, teacher_forced
from steerid.models import Site, load_model
from steerid.models.hooks import count_hooks
from steerid.provenance import Provenance
from steerid.engine.steer import steering
from steerid.vector import SteeringVector

ROWS = [[5, 6, 7, 8, 9, 10], [11, 12, 13], [14, 15, 16, 17]]
PROMPTS = ["hello there", "a cat sat", "the sea is"]
SITE = Site(1)


class Injected(Exception):
    """The fault we inject (a stand-in for any bug or I/O error)."""


def _logits(lm, deltas=None):
    batch = left_pad(ROWS, lm.tokenizer.pad_token_id)
    if deltas is None:
        with torch.inference_mode():
            return lm.model(**batch.model_inputs()).logits
    with steering(lm, SITE, deltas), torch.inference_mode():
        return lm.model(**batch.model_inputs()).logits


def _delta(lm, scale=4.0):
    g = torch.Generator().manual_seed(1)
    return torch.randn(lm.info.hidden_size, generator=g) * scale


@pytest.fixture(scope="module")
def reference():
    """Logits of an untouched model (plain and steered), built with the same seed."""
    lm = load_model("tiny:llama")
    return {"plain": _logits(lm), "steered": _logits(lm, _delta(lm)), "n_all_hooks": count_hooks(lm.model, ours_only=False)}


@pytest.fixture
def lm():
    return load_model("tiny:llama")


def assert_pristine(lm, reference):
    assert count_hooks(lm.model) == 0, "a steerid hook leaked"
    assert count_hooks(lm.model, ours_only=False) == reference["n_all_hooks"], "hooks other than transformers' remain"
    assert not lm.model.training
    assert torch.equal(_logits(lm), reference["plain"]), "logits changed after the fault"
    assert torch.equal(_logits(lm, _delta(lm)), reference["steered"]), "steering no longer works the same"
    assert count_hooks(lm.model) == 0


FAULTS = [Injected("boom"), KeyboardInterrupt()]
FAULT_IDS = ["exception", "KeyboardInterrupt"]


def _raise(fault):
    raise fault.__class__(*fault.args)


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_fault_inside_the_steering_block(lm, reference, fault):
    with pytest.raises(type(fault)):
        with steering(lm, SITE, _delta(lm)):
            _logits(lm)  # one steered forward, then the block fails
            _raise(fault)
    assert_pristine(lm, reference)


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_fault_in_the_model_forward_during_generation(lm, reference, fault):
    """A raising pre-hook on the last block fires at the 3rd decode step (KV cache in use)."""
    calls = {"n": 0}

    def explode(module, args, kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            _raise(fault)

    handle = lm.blocks[2].register_forward_pre_hook(explode, with_kwargs=True)
    try:
        with pytest.raises(type(fault)):
            generate(lm, PROMPTS, site=SITE, deltas=_delta(lm), max_new_tokens=6)
    finally:
        handle.remove()
    assert calls["n"] == 3
    assert_pristine(lm, reference)


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_fault_in_the_forward_of_teacher_forcing_and_capture(lm, reference, fault):
    def explode(module, args, kwargs):
        _raise(fault)

    handle = lm.blocks[2].register_forward_pre_hook(explode, with_kwargs=True)
    try:
        with pytest.raises(type(fault)):
            continuation_logprob(lm, PROMPTS, [" yes", " no", " maybe"], site=SITE, deltas=_delta(lm))
        with pytest.raises(type(fault)):
            capture(lm, PROMPTS, [Site(1), Site(2, "out")])  # the deepest site needs block 2 to run
    finally:
        handle.remove()
    assert_pristine(lm, reference)


def test_fault_inside_steerids_own_hook(lm, reference):
    """Two steering rows for a batch of three: the steering hook itself raises mid-forward."""
    with pytest.raises(VectorError, match="2 steering rows for a batch of 3"):
        _logits(lm, torch.stack([_delta(lm), _delta(lm)]))
    assert_pristine(lm, reference)


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_fault_in_the_tokenizer(lm, reference, fault, monkeypatch):
    """The tokenizer raises on its 4th call (tokenising the first continuation, after the prompts), and
    ``decode`` raises on a later run (after the steered generation)."""
    tokenizer_type = type(lm.tokenizer)
    original_call = tokenizer_type.__call__
    calls = {"n": 0}

    def flaky_call(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            _raise(fault)
        return original_call(self, *args, **kwargs)

    monkeypatch.setattr(tokenizer_type, "__call__", flaky_call)
    with pytest.raises(type(fault)):
        continuation_logprob(lm, PROMPTS, [" yes", " no", " maybe"], site=SITE, deltas=_delta(lm), batch_size=1)
    monkeypatch.setattr(tokenizer_type, "__call__", original_call)

    def broken_decode(self, *args, **kwargs):
        _raise(fault)

    monkeypatch.setattr(tokenizer_type, "decode", broken_decode)
    with pytest.raises(type(fault)):
        generate(lm, PROMPTS, site=SITE, deltas=_delta(lm), max_new_tokens=3, batch_size=2)
    monkeypatch.undo()
    assert_pristine(lm, reference)


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_fault_in_a_logits_processor_mid_sampling(lm, reference, fault, monkeypatch):
    """The reference path's logits processor raises on its second call."""
    original = PerRowGumbelSampler.__call__
    calls = {"n": 0}

    def flaky(self, input_ids, scores):
        calls["n"] += 1
        if calls["n"] == 2:
            _raise(fault)
        return original(self, input_ids, scores)

    monkeypatch.setattr(PerRowGumbelSampler, "__call__", flaky)
    with pytest.raises(type(fault)):
        generate(lm, PROMPTS, site=SITE, deltas=_delta(lm), greedy=False, seeds=[0, 1, 2], max_new_tokens=5,
                 engine="hf")
    monkeypatch.undo()
    assert_pristine(lm, reference)


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_fault_in_the_engine_sampler_mid_decode(lm, reference, fault, monkeypatch):
    """steerid's decode engine: its sampler raises at the third step, inside a steered decode step."""
    original = decode_module.sample_next
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            _raise(fault)
        return original(*args, **kwargs)

    monkeypatch.setattr(decode_module, "sample_next", flaky)
    with pytest.raises(type(fault)):
        generate(lm, PROMPTS, site=SITE, deltas=_delta(lm), greedy=False, seeds=[0, 1, 2], max_new_tokens=5,
                 engine="steerid")
    monkeypatch.undo()
    assert calls["n"] == 3
    assert_pristine(lm, reference)


def _context(lm):
    rng = np.random.default_rng(0)
    prov = Provenance(model_spec=lm.info.spec, model_name=lm.info.name, weights_hash=lm.info.weights_hash,
                      site=str(SITE), method="mean_diff")
    vector = SteeringVector.from_array(rng.standard_normal(lm.info.hidden_size), prov)
    return ExperimentContext(lm=lm, site=SITE, vector=vector, prompts=PROMPTS, token_norm=1.0, seed=0, batch_size=8)


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_IDS)
def test_fault_in_a_scorer_during_e1(lm, reference, fault):
    """A score function raising inside ``run_conditions`` and inside ``experiments.orthogonal.run``."""
    def bad_score(texts, prompt_index):
        _raise(fault)

    ctx = _context(lm)
    conditions = e1_conditions(ctx.vector.direction, 2.0, rhos=(1.0,), n_draws=1, seed=0)
    with pytest.raises(type(fault)):
        run_conditions(ctx, conditions, {"bad": bad_score}, max_new_tokens=2, greedy=True)
    config = orthogonal.E1Config(alpha_rel=2.0, rhos=(1.0,), n_draws=1, max_new_tokens=2, greedy=True)
    length = lambda texts, idx: np.array([len(t) for t in texts], float)  # noqa: E731
    with pytest.raises(type(fault)):
        orthogonal.run(config, ctx, {"length": length, "bad": bad_score})
    assert_pristine(lm, reference)


def test_asynchronous_sigint_during_steered_generation(lm, reference):
    """A real SIGINT delivered to the process at the 2nd decode step (Python raises
    KeyboardInterrupt wherever the interpreter happens to be)."""
    calls = {"n": 0}

    def send_sigint(module, args, kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    handle = lm.blocks[0].register_forward_pre_hook(send_sigint, with_kwargs=True)
    try:
        with pytest.raises(KeyboardInterrupt):
            generate(lm, PROMPTS, site=SITE, deltas=_delta(lm), max_new_tokens=8)
    finally:
        handle.remove()
        signal.signal(signal.SIGINT, previous)
    assert_pristine(lm, reference)


@pytest.mark.parametrize("which", ["register_forward_pre_hook", "register_forward_hook"])
def test_interrupt_right_after_a_hook_is_registered(lm, reference, monkeypatch, which):
    """KeyboardInterrupt arriving after torch registered a hook but before steerid stored its
    handle (the window between ``register_*`` returning and the handle being kept)."""
    original = getattr(torch.nn.Module, which)

    def register_then_interrupt(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(torch.nn.Module, which, register_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        with steering(lm, SITE, _delta(lm)):
            pytest.fail("the block must not run")
    with pytest.raises(KeyboardInterrupt):
        capture(lm, PROMPTS, [Site(0), Site(1), Site(2, "out")])  # uses both hook kinds
    monkeypatch.undo()
    assert_pristine(lm, reference)


def test_nested_steering_inner_fault(lm, reference):
    with pytest.raises(Injected):
        with steering(lm, SITE, _delta(lm)):
            with steering(lm, Site(2), _delta(lm, 1.0)):
                assert count_hooks(lm.model) == 4
                raise Injected("inner")
    assert_pristine(lm, reference)


def test_abandoned_teacher_forcing_generator(lm, reference):
    """A consumer that stops iterating (GeneratorExit) between chunks."""
    chunks = teacher_forced(lm, PROMPTS, [" a", " b", " c"], site=SITE, deltas=_delta(lm), batch_size=1)
    next(chunks)
    chunks.close()
    assert_pristine(lm, reference)


def test_fault_in_a_deepcopy_of_the_model_does_not_touch_the_original(lm, reference):
    """Steering a deep copy that then fails leaves both the copy and the original pristine."""
    import copy

    twin = copy.deepcopy(lm)
    with pytest.raises(Injected):
        with steering(twin, SITE, _delta(twin)):
            raise Injected("copy")
    assert_pristine(twin, reference)
    assert_pristine(lm, reference)
