"""steerid steering equals independent re-implementations of the peers' hooks at the mapped layer.

steering-vectors 0.12.2: a forward hook on ``layers[L]`` adding ``layer_activations[L]`` to the
block output at every position (``min_token_index=0``), in place.
repeng 0.4.0: ``ControlModule`` around ``layers[L]`` adding ``coeff · directions[L]`` to the
block output, with left pads masked through ``position_ids`` (pads get nothing).
Both are re-written here from their documented behaviour, without importing them; the
exported dicts drive them, so the layer mapping is what is tested.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from steerid.engine.batching import left_pad, position_ids_from_mask
from steerid.engine.generation import generate
from steerid.interop import to_repeng_directions, to_steering_vectors_dict
from steerid.models import Site
from steerid.provenance import Provenance
from steerid.engine.steer import steering
from steerid.vector import SteeringVector

ALPHA = 6.0
PROMPTS = ["hello there", "a much longer prompt, padded on the left", "xyz"]


@contextlib.contextmanager
def steering_vectors_hook(lm, layer_activations):
    """Minimal steering-vectors ``decoder_block`` semantics."""
    handles = []

    def make(vec):
        def hook(_module, _inputs, outputs):
            hidden = outputs[0] if isinstance(outputs, tuple) else outputs
            hidden[None] = hidden + vec.to(hidden.dtype).reshape(1, 1, -1)
            return outputs

        return hook

    try:
        for layer, vec in layer_activations.items():
            handles.append(lm.blocks[layer].register_forward_hook(make(vec)))
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def repeng_hook(lm, directions, coeff=1.0):
    """Minimal repeng ``ControlModule`` semantics (output + control, pads masked via position_ids)."""
    handles = []

    def make(vec):
        control = torch.tensor(coeff * vec).reshape(1, 1, -1)

        def hook(_module, _args, kwargs, output):
            hidden = output[0] if isinstance(output, tuple) else output
            mask = 1.0
            pos = kwargs.get("position_ids")
            if pos is not None:
                zero = (pos == 0).cumsum(1).argmax(1, keepdim=True)
                cols = torch.arange(pos.size(1)).unsqueeze(0)
                mask = (cols >= zero).to(hidden.dtype).reshape(hidden.shape[0], hidden.shape[1], 1)
            modified = hidden + control.to(hidden.dtype) * mask
            return (modified, *output[1:]) if isinstance(output, tuple) else modified

        return hook

    try:
        for layer, vec in directions.items():
            handles.append(lm.blocks[layer].register_forward_hook(make(vec), with_kwargs=True))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _vector(lm, site: Site) -> SteeringVector:
    info = lm.info
    prov = Provenance(model_spec=info.spec, model_name=info.name, weights_hash=info.weights_hash, site=str(site),
                      method="mean_diff")
    return SteeringVector.from_array(np.random.default_rng(11).standard_normal(info.hidden_size), prov)


def _logits(lm, context_factory):
    ids = [lm.tokenizer(p)["input_ids"] for p in PROMPTS]
    batch = left_pad(ids, lm.tokenizer.pad_token_id)
    mask = batch.attention_mask
    with context_factory(), torch.inference_mode():
        out = lm.model(input_ids=batch.input_ids, attention_mask=mask, position_ids=position_ids_from_mask(mask),
                       output_hidden_states=True, use_cache=False)
    return out.logits, out.hidden_states, mask.bool()


@pytest.mark.parametrize("site", [Site(2, "in"), Site(1, "out"), Site(1, "in")])
def test_same_logits_as_peer_hooks(llama_lm, site):
    v = _vector(llama_lm, site)
    delta = ALPHA * v.direction
    plain, plain_hidden, real = _logits(llama_lm, contextlib.nullcontext)
    ours, ours_hidden, _ = _logits(llama_lm, lambda: steering(llama_lm, site, delta))
    sv, _, _ = _logits(llama_lm, lambda: steering_vectors_hook(llama_lm, to_steering_vectors_dict(v, ALPHA)))
    rp, _, _ = _logits(llama_lm, lambda: repeng_hook(llama_lm, to_repeng_directions(v, ALPHA)))
    assert not torch.allclose(ours[real], plain[real], atol=1e-3)  # the vector does something
    torch.testing.assert_close(ours[real], sv[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours[real], rp[real], atol=1e-5, rtol=1e-5)
    # the site is hidden_states[L + 1]: changed by exactly the vector there, untouched before
    index = site.hidden_states_index()
    torch.testing.assert_close(ours_hidden[index][real] - plain_hidden[index][real],
                               torch.tensor(delta, dtype=torch.float32).expand(int(real.sum()), -1),
                               atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours_hidden[index - 1], plain_hidden[index - 1])


def test_same_greedy_tokens_as_peer_hooks(llama_lm):
    site = Site(2, "in")
    v = _vector(llama_lm, site)
    ours = generate(llama_lm, PROMPTS, site=site, deltas=ALPHA * v.direction, max_new_tokens=8)
    peers = {}
    for name, factory in {
        "steering-vectors": lambda: steering_vectors_hook(llama_lm, to_steering_vectors_dict(v, ALPHA)),
        "repeng": lambda: repeng_hook(llama_lm, to_repeng_directions(v, ALPHA)),
    }.items():
        with factory():
            peers[name] = generate(llama_lm, PROMPTS, max_new_tokens=8).tokens
    plain = generate(llama_lm, PROMPTS, max_new_tokens=8).tokens
    assert peers["steering-vectors"] == ours.tokens
    assert peers["repeng"] == ours.tokens
    assert plain != ours.tokens
