import pytest
import torch

from steerid.engine.batching import left_pad
from steerid.errors import SiteError
from steerid.models import Site
from steerid.models.hooks import count_hooks
from steerid.engine.steer import steering


def _hidden_states(lm, ids, mask, deltas=None, site=None, **kw):
    inputs = dict(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    if deltas is None:
        with torch.inference_mode():
            return lm.model(**inputs).hidden_states
    with steering(lm, site, deltas, **kw), torch.inference_mode():
        return lm.model(**inputs).hidden_states


@pytest.mark.parametrize("layer", [1, 2])
def test_steering_changes_exactly_hidden_state_at_site(tiny_lm, layer):
    lm = tiny_lm
    hooks_before = 0
    ids = left_pad([[5, 6, 7, 8, 9], [10, 11, 12, 13, 14]], lm.tokenizer.pad_token_id)
    d = lm.info.hidden_size
    v = torch.linspace(-1, 1, d)
    base = _hidden_states(lm, ids.input_ids, ids.attention_mask)
    steered = _hidden_states(lm, ids.input_ids, ids.attention_mask, v, Site(layer, "in"))
    for index in range(layer):
        assert torch.equal(base[index], steered[index]), f"layer {index} before the site changed"
    diff = steered[layer] - base[layer]
    torch.testing.assert_close(diff, v.expand_as(diff), atol=1e-5, rtol=0)
    assert not torch.allclose(steered[layer + 1], base[layer + 1])
    assert count_hooks(lm.model) == hooks_before


def test_out_site_equals_next_in_site(llama_lm):
    lm = llama_lm
    assert Site(0, "out").canonical(lm.info.n_layers) == Site(1, "in")
    ids = left_pad([[5, 6, 7]], 0)
    v = torch.ones(lm.info.hidden_size)
    a = _hidden_states(lm, ids.input_ids, ids.attention_mask, v, Site(0, "out"))
    b = _hidden_states(lm, ids.input_ids, ids.attention_mask, v, Site(1, "in"))
    assert torch.equal(a[-1], b[-1])


def test_prompt_scope_leaves_later_positions_unsteered_in_site_tensor(llama_lm):
    lm = llama_lm
    ids = left_pad([[5, 6, 7, 8, 9, 10]], 0)
    v = torch.ones(lm.info.hidden_size)
    base = _hidden_states(lm, ids.input_ids, ids.attention_mask)
    steered = _hidden_states(lm, ids.input_ids, ids.attention_mask, v, Site(2), scope="prompt", prompt_length=4)
    diff = steered[2] - base[2]
    torch.testing.assert_close(diff[:, :4], v.expand(1, 4, -1), atol=1e-5, rtol=0)
    # positions ≥ 4 are not steered themselves (they only see steered keys through attention)
    assert torch.equal(steered[2][:, 4:] - base[2][:, 4:], torch.zeros_like(diff[:, 4:]))


@pytest.mark.parametrize("layer", [-1, 3, 99])
def test_layer_out_of_range_is_a_site_error(llama_lm, layer):
    hooks_before = 0
    with pytest.raises(SiteError, match="out of range"):
        with steering(llama_lm, Site(layer), torch.ones(llama_lm.info.hidden_size)):
            pass
    assert count_hooks(llama_lm.model) == hooks_before


def test_site_parse():
    assert Site.parse("out:3") == Site(3, "out")
    assert Site.parse("7") == Site(7, "in")
    assert str(Site(4)) == "in:4"
    with pytest.raises(SiteError):
        Site.parse("mid:x")
    with pytest.raises(SiteError):
        Site(1, "middle")  # type: ignore[arg-type]
