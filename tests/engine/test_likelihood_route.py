"""Teacher-forced likelihood route: LM head at scored positions only, shared unsteered prompts.

Both cuts must leave the numbers as they were: the head tap equals the model's own logits path, and
scope ``generated`` (prompt run once per distinct prompt) equals one-pair-at-a-time teacher forcing.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import steerid.engine.generation as generation
from steerid.engine.generation import continuation_logprob, continuation_logprobs, head_tap
from steerid.models import Site
from steerid.models.hooks import count_hooks

PROMPTS = ["Hello there, how are you?", "Tell me a story", "What is the capital of France? Answer briefly please."]
REPLIES = [(" yes indeed, gladly", " no"), (" once upon a time", " never"), (" Paris.", " I do not know it at all")]


def _rows(lm, conditions=4):
    texts = [lm.tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                              add_generation_prompt=True) for p in PROMPTS]
    rows = [t for t in texts for _ in range(conditions)]
    sets = [r for r in REPLIES for _ in range(conditions)]
    deltas = torch.randn(len(rows), lm.info.hidden_size, generator=torch.Generator().manual_seed(3)) * 3
    deltas[::conditions] = 0  # an unsteered row beside the steered ones
    return rows, sets, deltas


@pytest.mark.parametrize("scope", ["all", "generated", "prompt"])
def test_head_tap_equals_the_full_logits_path(tiny_lm, scope, monkeypatch):
    lm = tiny_lm
    rows, sets, deltas = _rows(lm)
    tapped = continuation_logprobs(lm, rows, sets, site=Site(1), deltas=deltas, scope=scope, batch_size=5)
    monkeypatch.setattr(generation, "head_tap", lambda lm: None)
    full = continuation_logprobs(lm, rows, sets, site=Site(1), deltas=deltas, scope=scope, batch_size=5)
    np.testing.assert_allclose(tapped, full, atol=1e-5, rtol=0)
    assert count_hooks(lm.model) == 0


@pytest.mark.parametrize("scope", ["all", "generated"])
def test_route_equals_one_pair_at_a_time(tiny_lm, scope):
    lm = tiny_lm
    rows, sets, deltas = _rows(lm)
    both = continuation_logprobs(lm, rows, sets, site=Site(2), deltas=deltas, scope=scope, batch_size=8, reduce="mean")
    for j in range(2):
        one = continuation_logprob(lm, rows, [s[j] for s in sets], site=Site(2), deltas=deltas, scope=scope,
                                   reduce="mean", share_prefix=False, batch_size=1)
        np.testing.assert_allclose(both[:, j], one, atol=1e-5, rtol=0)


def test_generated_scope_runs_each_distinct_prompt_once(llama_lm, monkeypatch):
    lm = llama_lm
    rows, sets, deltas = _rows(lm)
    seen: list[int] = []
    handle = lm.blocks[-1].register_forward_pre_hook(lambda module, args: seen.append(int(args[0].shape[0])))
    try:
        continuation_logprobs(lm, rows, sets, site=Site(1), deltas=deltas, scope="generated", batch_size=len(rows),
                              share_prefix=False)
    finally:
        handle.remove()
    assert seen[0] == len(PROMPTS)  # the prompt pass: one row per distinct prompt in every block
    assert seen[1] == 2 * len(rows)  # the continuation pass: every condition × both replies


def test_head_tap_is_refused_for_softcapped_logits(llama_lm, monkeypatch):
    lm = llama_lm
    assert head_tap(lm) is not None
    monkeypatch.setattr(lm.model.config, "final_logit_softcapping", 30.0, raising=False)
    assert head_tap(lm) is None


def test_results_come_back_in_the_callers_order(llama_lm):
    lm = llama_lm
    rows, sets, deltas = _rows(lm)
    perm = np.random.default_rng(5).permutation(len(rows))  # prompts interleaved, lengths mixed
    grouped = continuation_logprobs(lm, rows, sets, site=Site(1), deltas=deltas, batch_size=5)
    shuffled = continuation_logprobs(lm, [rows[i] for i in perm], [sets[i] for i in perm], site=Site(1),
                                     deltas=deltas[torch.as_tensor(perm)], batch_size=5)
    np.testing.assert_allclose(shuffled, grouped[perm], atol=1e-5, rtol=0)
