import numpy as np
import pytest
import torch

from steerid.engine.batching import position_ids_from_mask
from steerid.errors import DataError
from steerid.engine.generation import continuation_logprob, generate, teacher_forced
from steerid.models import Site
from steerid.models.hooks import count_hooks
from steerid.engine.steer import steering

PROMPTS = ["The cat", "Once upon a time in a land", "Hi"]


def test_batched_greedy_equals_batch_one(llama_lm):
    lm = llama_lm
    v = torch.randn(3, lm.info.hidden_size, generator=torch.Generator().manual_seed(1)) * 3
    batched = generate(lm, PROMPTS, site=Site(1), deltas=v, max_new_tokens=8)
    for i, prompt in enumerate(PROMPTS):
        alone = generate(lm, [prompt], site=Site(1), deltas=v[i], max_new_tokens=8)
        assert alone.tokens[0] == batched.tokens[i]
    assert count_hooks(lm.model) == 0


def test_sampling_is_seeded_per_prompt_common_random_numbers(llama_lm):
    lm = llama_lm
    a = generate(lm, PROMPTS, greedy=False, seeds=[1, 2, 3], max_new_tokens=10)
    b = generate(lm, PROMPTS, greedy=False, seeds=[1, 2, 3], max_new_tokens=10)
    assert a.tokens == b.tokens
    # the same prompt+seed gives the same draw whatever else shares its batch
    solo = generate(lm, [PROMPTS[1]], greedy=False, seeds=[2], max_new_tokens=10)
    assert solo.tokens[0] == a.tokens[1]
    c = generate(lm, PROMPTS, greedy=False, seeds=[4, 5, 6], max_new_tokens=10)
    assert c.tokens != a.tokens


def test_generated_scope_correct_under_kv_cache(tiny_lm):
    """Cached generation with scope='generated' equals an uncached teacher-forced replay."""
    lm = tiny_lm
    v = torch.randn(lm.info.hidden_size, generator=torch.Generator().manual_seed(3)) * 4
    out = generate(lm, PROMPTS[:2], site=Site(1), deltas=v, scope="generated", max_new_tokens=6)
    for chunk in teacher_forced(lm, PROMPTS[:2], out.tokens, site=Site(1), deltas=v, scope="generated"):
        predicted = chunk.logprobs.argmax(-1)
        for i in range(predicted.shape[0]):
            n = int(chunk.mask[i].sum())
            assert predicted[i, :n].tolist() == out.tokens[chunk.rows][i][:n]
    unsteered = generate(lm, PROMPTS[:2], max_new_tokens=6)
    assert [t[0] for t in unsteered.tokens] == [t[0] for t in out.tokens], "first token comes from the prompt"


def test_continuation_logprob_matches_manual(llama_lm):
    lm = llama_lm
    prompt, cont = "The cat", " sat down"
    got = continuation_logprob(lm, [prompt, "Hi"], [cont, " there friend"])
    p_ids = lm.tokenizer(prompt)["input_ids"]
    c_ids = lm.tokenizer(cont, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([p_ids + c_ids])
    with torch.inference_mode():
        logits = lm.model(input_ids=ids).logits[0].log_softmax(-1)
    manual = sum(float(logits[len(p_ids) - 1 + j, t]) for j, t in enumerate(c_ids))
    assert got[0] == pytest.approx(manual, abs=1e-4)
    steered = continuation_logprob(lm, [prompt], [cont], site=Site(1), deltas=torch.ones(lm.info.hidden_size) * 5)
    assert steered[0] != pytest.approx(got[0], abs=1e-3)


def test_bad_generation_inputs(llama_lm):
    with pytest.raises(DataError):
        generate(llama_lm, [], max_new_tokens=4)
    with pytest.raises(DataError, match="seed"):
        generate(llama_lm, PROMPTS, greedy=False, max_new_tokens=4)
    with pytest.raises(DataError, match="max_new_tokens"):
        generate(llama_lm, PROMPTS, max_new_tokens=0)
