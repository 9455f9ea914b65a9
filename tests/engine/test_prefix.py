"""Shared-prefix teacher forcing must equal the unshared forward, in every family and scope."""

import numpy as np
import pytest
import torch

from steerid.engine.generation import continuation_logprob, teacher_forced
from steerid.models import Site
from steerid.models.hooks import count_hooks
from steerid.engine.prefix import common_prefix_length, shared_prefix

HEADER = "System: you are a careful assistant who answers briefly.\nUser: "
PROMPTS = [HEADER + q for q in ("Is it raining?", "Tell me about the old harbour town", "Hi", "Why?")]
CONTS = [" Yes it is.", " It was quiet", " Hello there, friend", " Because"]


def test_common_prefix_length_leaves_every_row_a_token():
    assert common_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 3]]) == 2
    assert common_prefix_length([[1, 2], [1, 2]]) == 1
    assert common_prefix_length([[7, 1], [8, 1]]) == 0
    assert common_prefix_length([]) == 0


@pytest.mark.parametrize("scope", ["all", "prompt", "generated"])
def test_shared_prefix_equals_unshared(tiny_lm, scope):
    lm = tiny_lm
    g = torch.Generator().manual_seed(7)
    distinct = torch.randn(2, lm.info.hidden_size, generator=g) * 3
    deltas = distinct[[0, 1, 1, 0]]  # two distinct deltas over four rows, interleaved
    kw = dict(site=Site(1), deltas=deltas, scope=scope, batch_size=3)
    shared = list(teacher_forced(lm, PROMPTS, CONTS, share_prefix=True, **kw))
    plain = list(teacher_forced(lm, PROMPTS, CONTS, share_prefix=False, **kw))
    for a, b in zip(shared, plain, strict=True):
        assert a.rows == b.rows
        assert torch.equal(a.mask, b.mask)
        torch.testing.assert_close(a.logprobs * a.mask[..., None], b.logprobs * b.mask[..., None], atol=2e-4, rtol=1e-4)
    assert count_hooks(lm.model) == 0


def test_prefix_is_really_shared_and_steering_still_matters(llama_lm):
    lm = llama_lm
    ids = [lm.tokenizer(p)["input_ids"] for p in PROMPTS]
    deltas = torch.zeros(4, lm.info.hidden_size)
    deltas[1:] = 5.0
    prefix = shared_prefix(lm, ids, site=Site(1), rows=deltas, scope="all", longest_row=100)
    assert prefix is not None and prefix.length >= len(lm.tokenizer(HEADER)["input_ids"]) - 2
    assert prefix.group.tolist() == [0, 1, 1, 1]  # one cache row per distinct delta
    steered = continuation_logprob(lm, PROMPTS, CONTS, site=Site(1), deltas=deltas)
    plain = continuation_logprob(lm, PROMPTS, CONTS, site=Site(1), deltas=deltas, share_prefix=False)
    np.testing.assert_allclose(steered, plain, atol=1e-3)
    unsteered = continuation_logprob(lm, PROMPTS, CONTS)
    assert abs(steered[0] - unsteered[0]) < 1e-3 and np.all(np.abs(steered[1:] - unsteered[1:]) > 1e-3)


def test_no_prefix_when_prompts_differ_at_once(llama_lm):
    lm = llama_lm
    ids = [[5, 6, 7, 8, 9], [6, 6, 7, 8, 9]]
    assert shared_prefix(lm, ids, site=None, rows=None, scope="all", longest_row=10) is None


def test_sliding_window_models_fall_back_when_a_window_could_cut_a_row():
    from steerid.models import load_model
    from steerid.engine.prefix import fits_attention_window

    gemma = load_model("tiny:gemma")  # sliding_window = 16
    assert not fits_attention_window(gemma, 17) and fits_attention_window(gemma, 16)
    llama = load_model("tiny:llama")
    assert fits_attention_window(llama, 10_000)


def test_sliding_window_model_shares_when_rows_fit_the_window():
    from steerid.models import load_model

    lm = load_model("tiny:gemma")
    prompts, conts = ["Q: red or bl", "Q: red or g", "Q: red?"], [" b", " gr", " no"]
    ids = [lm.tokenizer(p)["input_ids"] for p in prompts]
    assert max(len(i) for i in ids) + 3 <= 16 and common_prefix_length(ids) >= 4
    deltas = torch.randn(3, lm.info.hidden_size, generator=torch.Generator().manual_seed(2)) * 3
    shared = continuation_logprob(lm, prompts, conts, site=Site(1), deltas=deltas)
    plain = continuation_logprob(lm, prompts, conts, site=Site(1), deltas=deltas, share_prefix=False)
    np.testing.assert_allclose(shared, plain, atol=1e-3)


@pytest.mark.parametrize("scope", ["all", "generated"])
def test_several_continuations_per_prompt_equal_one_at_a_time(tiny_lm, scope):
    from steerid.engine.generation import continuation_logprobs

    lm = tiny_lm
    g = torch.Generator().manual_seed(11)
    deltas = torch.randn(4, lm.info.hidden_size, generator=g) * 3
    sets = [(c, c[::-1] + " more words") for c in CONTS]
    both = continuation_logprobs(lm, PROMPTS, sets, site=Site(1), deltas=deltas, scope=scope, batch_size=3, reduce="mean")
    assert both.shape == (4, 2)
    for j in range(2):
        one = continuation_logprob(lm, PROMPTS, [s[j] for s in sets], site=Site(1), deltas=deltas, scope=scope,
                                   reduce="mean", share_prefix=False)
        np.testing.assert_allclose(both[:, j], one, atol=2e-4)
    assert count_hooks(lm.model) == 0
