import numpy as np
import pytest
import torch

from steerid.engine.batching import left_pad
from steerid.errors import VectorError
from steerid.models import Site
from steerid.models.hooks import count_hooks
from steerid.engine.steer import steering


def _logits(lm, rows, deltas=None, site=Site(1), **kw):
    batch = left_pad(rows, lm.tokenizer.pad_token_id)
    if deltas is None:
        with torch.inference_mode():
            return lm.model(**batch.model_inputs()).logits
    with steering(lm, site, deltas, **kw), torch.inference_mode():
        return lm.model(**batch.model_inputs()).logits


ROWS = [[5, 6, 7, 8, 9, 10], [11, 12, 13], [14, 15, 16, 17]]


def test_per_row_vectors_equal_running_each_row_alone(tiny_lm):
    lm = tiny_lm
    g = torch.Generator().manual_seed(0)
    deltas = torch.randn(3, lm.info.hidden_size, generator=g) * 2
    deltas[1] = 0  # the unsteered control row
    batched = _logits(lm, ROWS, deltas)
    for i, row in enumerate(ROWS):
        alone = _logits(lm, [row], deltas[i])
        torch.testing.assert_close(batched[i, -len(row):], alone[0], atol=2e-4, rtol=1e-4)
    plain = _logits(lm, [ROWS[1]])
    torch.testing.assert_close(batched[1, -3:], plain[0], atol=2e-4, rtol=1e-4)


def test_exception_inside_block_removes_hooks_and_restores_model(llama_lm):
    lm = llama_lm
    before = _logits(lm, ROWS)
    with pytest.raises(RuntimeError, match="boom"):
        with steering(lm, Site(1), torch.ones(lm.info.hidden_size) * 5):
            raise RuntimeError("boom")
    assert count_hooks(lm.model) == 0
    assert torch.equal(_logits(lm, ROWS), before)


def test_exception_inside_forward_removes_hooks(llama_lm):
    lm = llama_lm
    before = _logits(lm, ROWS)

    def explode(module, args, kwargs):
        raise KeyboardInterrupt

    handle = lm.blocks[2].register_forward_pre_hook(explode, with_kwargs=True)
    try:
        with pytest.raises(KeyboardInterrupt):
            _logits(lm, ROWS, torch.ones(lm.info.hidden_size) * 5)
    finally:
        handle.remove()
    assert count_hooks(lm.model) == 0
    assert torch.equal(_logits(lm, ROWS), before)


def test_wrong_rows_and_sizes_rejected(llama_lm):
    lm = llama_lm
    with pytest.raises(VectorError, match="hidden size|shape"):
        with steering(lm, Site(1), torch.ones(lm.info.hidden_size + 1)):
            pass
    with pytest.raises(VectorError, match="NaN"):
        with steering(lm, Site(1), torch.full((lm.info.hidden_size,), float("nan"))):
            pass
    with pytest.raises(VectorError, match="rows for a batch"):
        _logits(lm, ROWS, torch.ones(2, lm.info.hidden_size))
    assert count_hooks(lm.model) == 0


def test_zero_delta_is_bitwise_identity(llama_lm):
    lm = llama_lm
    assert torch.equal(_logits(lm, ROWS, np.zeros(lm.info.hidden_size)), _logits(lm, ROWS))
