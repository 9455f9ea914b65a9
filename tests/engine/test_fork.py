"""Forking at the site: blocks below it once per distinct prompt, same numbers as the plain pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import steerid.engine.generation as generate_module
from steerid.errors import VectorError
from steerid.engine.fork import distinct_rows, first_forked_block, fork_supported, forked
from steerid.engine.generation import continuation_logprobs
from steerid.models import Site
from steerid.models.hooks import count_hooks

PROMPTS = ["Hello there, how are you?", "Tell me a story", "What is the capital of France? Answer briefly please."]


def _rows(lm, conditions=3):
    texts = [lm.tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                              add_generation_prompt=True) for p in PROMPTS]
    rows = [t for t in texts for _ in range(conditions)]
    deltas = torch.randn(len(rows), lm.info.hidden_size, generator=torch.Generator().manual_seed(0)) * 3
    return rows, deltas


@pytest.mark.parametrize("scope", ["all", "generated", "prompt"])
@pytest.mark.parametrize("site", [Site(1), Site(2), Site(1, "out")], ids=str)
def test_forked_likelihoods_equal_the_plain_pass(tiny_lm, scope, site, monkeypatch):
    lm = tiny_lm
    assert fork_supported(lm, site)
    rows, deltas = _rows(lm)
    conts = [[" yes indeed", " no"]] * len(rows)
    for share in (True, False):
        forked_ = continuation_logprobs(lm, rows, conts, site=site, deltas=deltas, scope=scope, share_prefix=share)
        with monkeypatch.context() as patch:
            patch.setattr(generate_module, "fork_supported", lambda lm, site: False)
            plain = continuation_logprobs(lm, rows, conts, site=site, deltas=deltas, scope=scope, share_prefix=share)
        np.testing.assert_allclose(forked_, plain, atol=2e-5)
    assert count_hooks(lm.model) == 0


def test_fork_is_used_and_hooks_are_removed_when_the_forward_raises(llama_lm, monkeypatch):
    lm = llama_lm
    rows, deltas = _rows(lm)
    calls = {"n": 0}
    original = generate_module.forked

    def counting(*args, **kwargs):
        calls["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(generate_module, "forked", counting)
    continuation_logprobs(lm, rows, [[" a", " b"]] * len(rows), site=Site(1), deltas=deltas)
    assert calls["n"] >= 1

    def boom(*args, **kwargs):
        raise RuntimeError("injected")

    block = lm.blocks[2]
    handle = block.register_forward_pre_hook(lambda m, a: boom())
    try:
        with pytest.raises(RuntimeError, match="injected"):
            continuation_logprobs(lm, rows, [[" a", " b"]] * len(rows), site=Site(1), deltas=deltas)
    finally:
        handle.remove()
    assert count_hooks(lm.model) == 0


def test_fork_validates_groups_and_rows(llama_lm):
    lm = llama_lm
    with pytest.raises(VectorError, match="0…U−1"):
        with forked(lm, Site(1), torch.tensor([0, 2]), None):
            pass
    with pytest.raises(VectorError, match="deltas"):
        with forked(lm, Site(1), torch.tensor([0, 0, 1]), torch.zeros(2, lm.info.hidden_size)):
            pass
    ids = torch.tensor([[5, 6, 7], [5, 6, 8], [5, 6, 9]])
    with pytest.raises(VectorError, match="distinct"):
        with forked(lm, Site(1), torch.tensor([0, 0, 1]), None), torch.inference_mode():
            lm.model(input_ids=ids)
    assert count_hooks(lm.model) == 0


def test_distinct_rows_and_first_block(llama_lm):
    distinct, group, rep = distinct_rows([(1, 2), (3,), (1, 2), (3,), (4,)])
    assert distinct == [(1, 2), (3,), (4,)]
    assert group.tolist() == [0, 1, 0, 1, 2] and rep.tolist() == [0, 1, 4]
    assert first_forked_block(llama_lm, Site(1)) == 1
    assert first_forked_block(llama_lm, Site(1, "out")) == 2
    assert not fork_supported(llama_lm, Site(0))
