"""steerid's decode engine against ``model.generate``, and its counter-based sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from steerid.engine.batching import encode
from steerid.engine.decode import DecodeStats, choose_dtype, decode, in_dtype, supports
from steerid.errors import DataError
from steerid.engine.generation import _eos_ids, generate
from steerid.models import Site
from steerid.models.hooks import count_hooks
from steerid.engine.sampling import Sampling, candidates, hash_uniform, sample_next

PROMPTS = ["Hello there, how are you?", "Tell me a story about a dragon", "x",
           "What is the capital of France? Answer briefly please."]


def _chat(lm, prompts):
    return [lm.tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                             add_generation_prompt=True) for p in prompts]


def _deltas(lm, n, scale=3.0, seed=0):
    return torch.randn(n, lm.info.hidden_size, generator=torch.Generator().manual_seed(seed)) * scale


@pytest.mark.parametrize("scope", ["all", "generated", "prompt"])
@pytest.mark.parametrize("cache", ["static", "dynamic"])
def test_greedy_tokens_equal_model_generate(tiny_lm, scope, cache):
    lm = tiny_lm
    assert supports(lm)
    texts = _chat(lm, PROMPTS)
    v = _deltas(lm, len(texts))
    reference = generate(lm, texts, site=Site(1), deltas=v, scope=scope, max_new_tokens=20, engine="hf")
    ids = encode(lm, texts)
    got = decode(lm, ids, site=Site(1), deltas=v, scope=scope, max_new_tokens=20, eos=_eos_ids(lm), cache=cache)
    assert got == reference.tokens
    assert count_hooks(lm.model) == 0


def test_generate_uses_the_engine_and_matches_reference(llama_lm):
    lm = llama_lm
    texts = _chat(lm, PROMPTS)
    v = _deltas(lm, len(texts))
    ours = generate(lm, texts, site=Site(1), deltas=v, max_new_tokens=12)
    ref = generate(lm, texts, site=Site(1), deltas=v, max_new_tokens=12, engine="hf")
    assert ours.tokens == ref.tokens and ours.texts == ref.texts


def test_shared_prefill_forks_conditions_of_one_prompt(llama_lm):
    """Scope 'generated': one prefill per distinct prompt, conditions forked from its cache."""
    lm = llama_lm
    texts = _chat(lm, PROMPTS[:2])
    rows = [t for t in texts for _ in range(3)]
    v = _deltas(lm, 3)
    deltas = torch.cat([v, v])
    stats_ = DecodeStats()
    got = decode(lm, encode(lm, rows), site=Site(1), deltas=deltas, scope="generated", max_new_tokens=10,
                 eos=_eos_ids(lm), stats=stats_)
    ref = generate(lm, rows, site=Site(1), deltas=deltas, scope="generated", max_new_tokens=10, engine="hf")
    assert got == ref.tokens
    assert stats_.shared_prefill and stats_.prefill_rows == 2


def test_finished_rows_are_dropped_and_others_unchanged(llama_lm):
    """Force an early end-of-sequence in some rows: they stop costing steps, the others are unchanged."""
    lm = llama_lm
    texts = _chat(lm, PROMPTS)
    ids = encode(lm, texts)
    free = decode(lm, ids, max_new_tokens=15, eos=())
    # declare the 3rd generated token of rows 0 and 2 an end-of-sequence token for everyone
    stop = {free[0][2], free[2][2]}
    stats_ = DecodeStats()
    got = decode(lm, ids, max_new_tokens=15, eos=stop, stats=stats_, compact_fraction=0.25)
    for row, full in zip(got, free):
        cut = next((i for i, t in enumerate(full) if t in stop), len(full))
        assert row == full[:cut]
    assert stats_.compactions >= 1
    assert stats_.row_steps < len(texts) * 15


def test_sampled_rows_do_not_depend_on_batch_composition(llama_lm):
    lm = llama_lm
    texts = _chat(lm, PROMPTS)
    sampling = Sampling(greedy=False, temperature=1.0, top_k=40, top_p=0.95)
    together = generate(lm, texts, greedy=False, temperature=1.0, top_k=40, top_p=0.95, seeds=[5, 6, 7, 8],
                        max_new_tokens=12)
    for i in (3, 1):
        alone = decode(lm, encode(lm, [texts[i]]), max_new_tokens=12, sampling=sampling, seeds=[5 + i],
                       eos=_eos_ids(lm))
        assert alone[0] == together.tokens[i]
    reordered = generate(lm, texts[::-1], greedy=False, temperature=1.0, top_k=40, top_p=0.95, seeds=[8, 7, 6, 5],
                         max_new_tokens=12, batch_size=2)
    assert reordered.tokens[::-1] == together.tokens
    other = generate(lm, texts, greedy=False, temperature=1.0, top_k=40, top_p=0.95, seeds=[1, 2, 3, 4],
                     max_new_tokens=12)
    assert other.tokens != together.tokens


def test_conditions_of_a_prompt_share_their_random_numbers(llama_lm):
    """Zero-delta rows of one prompt and seed are identical; a tiny delta rarely changes a token."""
    lm = llama_lm
    text = _chat(lm, PROMPTS[1:2])[0]
    deltas = torch.zeros(3, lm.info.hidden_size)
    deltas[2] = 1e-4
    for top_k in (50, 0):
        out = generate(lm, [text] * 4, site=Site(1), deltas=torch.cat([deltas, torch.zeros(1, deltas.shape[1])]),
                       greedy=False, seeds=[3, 3, 3, 4], max_new_tokens=16, top_k=top_k)
        assert out.tokens[0] == out.tokens[1]
        same_prefix = next((i for i, (a, b) in enumerate(zip(out.tokens[0], out.tokens[2])) if a != b), 16)
        other_seed = next((i for i, (a, b) in enumerate(zip(out.tokens[0], out.tokens[3])) if a != b), 16)
        assert other_seed <= 2
        if top_k:  # per-token Gumbel noise: a tiny change of the logits rarely changes the draw
            assert same_prefix >= 4
    # whole vocabulary (inverse-CDF draw): identical conditions still give identical rows
    full = generate(lm, [text] * 3, site=Site(1), deltas=torch.zeros(3, lm.info.hidden_size), greedy=False,
                    seeds=[3, 3, 3], max_new_tokens=16)
    assert full.tokens[0] == full.tokens[1] == full.tokens[2]


def test_hash_uniforms_are_uniform_and_keyed():
    seeds = torch.tensor([0, 1, 2**40 + 7])
    u = hash_uniform(seeds, 3, torch.arange(200_000).expand(3, -1))
    assert 0 < float(u.min()) and float(u.max()) < 1
    for row in u:
        assert stats.kstest(row.numpy(), "uniform").pvalue > 1e-3
    assert not torch.equal(u[0], u[1])
    again = hash_uniform(seeds[[2, 0]], 3, torch.arange(200_000).expand(2, -1))
    assert torch.equal(again[0], u[2]) and torch.equal(again[1], u[0])
    assert not torch.equal(hash_uniform(seeds, 4, torch.arange(10).expand(3, -1)), u[:, :10])


@pytest.mark.parametrize("top_k,top_p", [(0, 1.0), (5, 1.0), (0, 0.8), (6, 0.9)])
def test_sampler_distribution_matches_multinomial(top_k, top_p):
    """Over many (seed, step) keys the draws follow softmax(ℓ/T) restricted to the candidates:
    a chi-square test against the exact probabilities, and a two-sample test against multinomial."""
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 12, generator=gen) * 1.5
    sampling = Sampling(greedy=False, temperature=0.8, top_k=top_k, top_p=top_p)
    n = 20_000
    seeds = torch.arange(n)
    tokens = sample_next(logits.expand(n, -1), sampling, seeds, step=7)
    ids, values = candidates(logits / 0.8, top_k, top_p)
    probs = torch.zeros(12, dtype=torch.float64)
    probs[ids[0]] = torch.softmax(values[0].double(), -1)
    observed = np.bincount(tokens.numpy(), minlength=12)
    keep = probs.numpy() > 0
    assert observed[~keep].sum() == 0
    expected = probs.numpy()[keep] / probs.numpy()[keep].sum() * n
    assert stats.chisquare(observed[keep], expected).pvalue > 1e-3
    reference = np.bincount(torch.multinomial(probs.float(), n, replacement=True, generator=gen).numpy(), minlength=12)
    table = np.stack([observed[keep], reference[keep]])
    assert stats.chi2_contingency(table).pvalue > 1e-3


def test_greedy_ignores_seeds_and_bad_settings_are_refused(llama_lm):
    lm = llama_lm
    logits = torch.randn(2, 9)
    assert torch.equal(sample_next(logits, Sampling(), None, 0), logits.argmax(-1))
    with pytest.raises(DataError, match="temperature"):
        Sampling(greedy=False, temperature=0.0)
    with pytest.raises(DataError, match="top_p"):
        Sampling(greedy=False, top_p=1.5)
    with pytest.raises(DataError, match="top_k"):
        Sampling(greedy=False, top_k=-1)
    with pytest.raises(DataError, match="seed"):
        decode(lm, encode(lm, ["hi"]), sampling=Sampling(greedy=False), seeds=None)
    with pytest.raises(DataError, match="no prompts"):
        decode(lm, [])
    with pytest.raises(DataError, match="engine"):
        generate(lm, ["hi"], engine="fast")


def test_dtype_choice_and_twin_model(llama_lm):
    assert choose_dtype("float32") == torch.float32
    assert choose_dtype("bf16") == torch.bfloat16
    assert choose_dtype("auto", "cpu") in (torch.float32, torch.bfloat16)
    with pytest.raises(DataError, match="dtype"):
        choose_dtype("int8")
    twin = in_dtype(llama_lm, torch.bfloat16)
    assert twin.model.dtype == torch.bfloat16 and llama_lm.model.dtype == torch.float32
    assert twin.info.dtype == "bfloat16" and in_dtype(llama_lm, torch.float32) is llama_lm
    out = generate(llama_lm, _chat(llama_lm, PROMPTS[:2]), max_new_tokens=5, dtype="bfloat16")
    assert len(out.tokens) == 2


@pytest.mark.parametrize("scope", ["all", "prompt"])
def test_forked_prefill_of_steered_conditions_equals_reference(tiny_lm, scope):
    """Conditions of one prompt under scope all/prompt: blocks below the site run once, then fork."""
    lm = tiny_lm
    texts = _chat(lm, PROMPTS[:2])
    rows = [t for t in texts for _ in range(3)]
    deltas = _deltas(lm, len(rows))
    stats_ = DecodeStats()
    got = decode(lm, encode(lm, rows), site=Site(2), deltas=deltas, scope=scope, max_new_tokens=12,
                 eos=_eos_ids(lm), stats=stats_)
    ref = generate(lm, rows, site=Site(2), deltas=deltas, scope=scope, max_new_tokens=12, engine="hf")
    assert got == ref.tokens
    assert stats_.forked_prefill and stats_.prefill_rows == 2
    assert count_hooks(lm.model) == 0


def test_one_query_attention_kernel_matches_sdpa():
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from steerid.engine.attention import decode_attention

    class Module(torch.nn.Module):
        num_key_value_groups = 3
        is_causal = True

    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 9, 1, 16, generator=gen), torch.randn(2, 3, 10, 16, generator=gen),
               torch.randn(2, 3, 10, 16, generator=gen))
    mask = torch.ones(2, 1, 1, 10, dtype=torch.bool)
    mask[0, ..., :4] = False
    for m in (mask, None, torch.zeros(2, 1, 1, 10).masked_fill(~mask, float("-inf"))):
        ours, _ = decode_attention(Module(), q, k, v, m, scaling=0.25)
        ref, _ = sdpa_attention_forward(Module(), q, k, v, m, scaling=0.25)
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


def test_reduced_precision_twin_uses_the_decode_kernel_and_keeps_greedy_close(llama_lm):
    twin = in_dtype(llama_lm, torch.bfloat16)
    assert twin.model.config._attn_implementation == "steerid_decode"
    assert llama_lm.model.config._attn_implementation != "steerid_decode"


def test_auto_dtype_depends_on_rows_per_forward(monkeypatch):
    import steerid.engine.decode as decode_module

    monkeypatch.setattr(decode_module, "native_bf16", lambda device="cpu": True)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert choose_dtype("auto", "cpu", rows=1) == torch.bfloat16  # one thread: bf16 wins even at one row
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert choose_dtype("auto", "cpu", rows=1) == torch.float32
    assert choose_dtype("auto", "cpu", rows=decode_module.BF16_MIN_ROWS - 1) == torch.float32
    assert choose_dtype("auto", "cpu", rows=decode_module.BF16_MIN_ROWS) == torch.bfloat16
    assert choose_dtype("auto", "cpu") == torch.bfloat16  # rows unknown: a large batch
    assert choose_dtype("auto", "cuda", rows=1) == torch.bfloat16  # a GPU has no thin-gemm penalty
    monkeypatch.setattr(decode_module, "native_bf16", lambda device="cpu": False)
    assert choose_dtype("auto", "cpu", rows=64) == torch.float32
    assert choose_dtype("bfloat16", "cpu", rows=1) == torch.bfloat16  # an explicit request is kept
