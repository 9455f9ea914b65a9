"""A few checks on the real packaged default model (SmolLM2-135M-Instruct)."""

import numpy as np
import pytest
import torch

from steerid.engine.batching import left_pad
from steerid.extract.pipeline import extract_vector
from steerid.engine.generation import continuation_logprob, generate
from steerid.models import Site
from steerid.models.hooks import count_hooks
from steerid.models.packaged import cache_root
from steerid.engine.steer import steering
from steerid.traits import format_chat, load_trait

pytestmark = pytest.mark.real


def test_packaged_model_description(smollm2):
    info = smollm2.info
    assert (info.family, info.n_layers, info.hidden_size) == ("llama", 30, 576)
    assert info.has_chat_template and len(info.weights_hash) == 64
    assert info.source.startswith(str(cache_root()))


def test_site_semantics_on_smollm2(smollm2):
    lm = smollm2
    ids = lm.tokenizer(["The weather is mild today."], return_tensors="pt")
    batch = left_pad([ids["input_ids"][0].tolist()], lm.tokenizer.pad_token_id)
    v = torch.randn(lm.info.hidden_size, generator=torch.Generator().manual_seed(0)) * 8
    with torch.inference_mode():
        base = lm.model(**batch.model_inputs(), output_hidden_states=True).hidden_states
    with steering(lm, Site(15), v), torch.inference_mode():
        steered = lm.model(**batch.model_inputs(), output_hidden_states=True).hidden_states
    assert all(torch.equal(base[i], steered[i]) for i in range(15))
    diff = steered[15] - base[15]
    torch.testing.assert_close(diff, v.expand_as(diff), atol=2e-3, rtol=0)
    assert count_hooks(lm.model) == 0


def test_sentiment_vector_moves_likelihood_in_its_direction(smollm2):
    lm = smollm2
    trait = load_trait("sentiment")
    vector = extract_vector(lm, list(trait.pairs)[:24], Site(15), trait="sentiment")
    assert 5 < vector.norm < 100
    items = list(trait.likelihood)[:16]
    prompts = [format_chat(lm.tokenizer, i.prompt) for i in items]
    margins = []
    for sign in (1.0, -1.0):
        delta = sign * 8.0 * vector.direction
        lp = continuation_logprob(lm, prompts, [i.positive for i in items], site=Site(15), deltas=delta, reduce="mean")
        ln = continuation_logprob(lm, prompts, [i.negative for i in items], site=Site(15), deltas=delta, reduce="mean")
        margins.append(lp - ln)
    shift = margins[0] - margins[1]
    assert shift.mean() > 0 and np.mean(shift > 0) >= 0.75


@pytest.mark.parametrize("scope", ["generated", "all"])
def test_decode_engine_greedy_tokens_equal_model_generate_on_smollm2(smollm2, scope):
    """The engine (static cache, last-position logits, compaction, forked prefill) reproduces
    ``model.generate`` token for token on the real model, steered and unsteered rows mixed."""
    lm = smollm2
    questions = ["Describe your morning.", "What do you think of rainy days?", "Write a note to a neighbour.",
                 "How was the film?"]
    texts = [format_chat(lm.tokenizer, q) for q in questions for _ in range(2)]
    v = torch.randn(lm.info.hidden_size, generator=torch.Generator().manual_seed(3))
    v = 8.0 * v / v.norm()
    deltas = torch.stack([v if i % 2 else torch.zeros_like(v) for i in range(len(texts))])
    ours = generate(lm, texts, site=Site(15), deltas=deltas, scope=scope, max_new_tokens=24, engine="steerid",
                    dtype="float32")
    reference = generate(lm, texts, site=Site(15), deltas=deltas, scope=scope, max_new_tokens=24, engine="hf",
                         dtype="float32")
    assert ours.tokens == reference.tokens
    assert count_hooks(lm.model) == 0
