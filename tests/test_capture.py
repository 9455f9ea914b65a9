import numpy as np
import pytest
import torch

from steerid.capture import capture, median_token_norm, token_moments
from steerid.errors import DataError
from steerid.models import Site
from steerid.moments import RunningMoments

TEXTS = ["hello there", "a much longer sentence with many more bytes in it", "x y"]


@pytest.mark.parametrize("pooling", ["last", "mean", "all"])
def test_padded_batch_equals_single_runs(tiny_lm, pooling):
    sites = [Site(1), Site(2, "out")]
    batched = capture(tiny_lm, TEXTS, sites, pooling=pooling, batch_size=3)
    singles = {s: np.concatenate([capture(tiny_lm, [t], sites, pooling=pooling)[s] for t in TEXTS]) for s in sites}
    for site in sites:
        np.testing.assert_allclose(batched[site], singles[site], atol=2e-4, rtol=1e-4)


def test_capture_matches_hidden_states(llama_lm):
    lm = llama_lm
    ids = lm.tokenizer(TEXTS[1], return_tensors="pt")
    with torch.inference_mode():
        hidden = lm.model(**ids, output_hidden_states=True).hidden_states
    got = capture(lm, [TEXTS[1]], Site(2), pooling="all")[Site(2)]
    np.testing.assert_allclose(got, hidden[2][0].double().numpy(), atol=1e-6)
    assert got.dtype == np.float64


def test_right_padding_gives_same_pooled_values(llama_lm):
    lm = llama_lm
    left = capture(lm, TEXTS, Site(1), pooling="mean")[Site(1)]
    lm.tokenizer.padding_side = "right"
    try:
        right = capture(lm, TEXTS, Site(1), pooling="mean")[Site(1)]
    finally:
        lm.tokenizer.padding_side = "left"
    np.testing.assert_allclose(left, right, atol=1e-6)


def test_running_moments_match_numpy():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(503, 7)) * np.arange(1, 8) + 3.0
    moments = RunningMoments(7)
    for block in np.array_split(data, [1, 50, 51, 300]):
        moments.update(block)
    np.testing.assert_allclose(moments.mean, data.mean(0), atol=1e-12)
    np.testing.assert_allclose(moments.covariance(), np.cov(data, rowvar=False), atol=1e-10)
    with pytest.raises(DataError):
        RunningMoments(3).covariance()


def test_token_moments_skip_first_token(llama_lm):
    moments, norms = token_moments(llama_lm, TEXTS, Site(1))
    n_tokens = sum(len(llama_lm.tokenizer(t)["input_ids"]) - 1 for t in TEXTS)
    assert moments.n == n_tokens == norms.size
    all_rows = capture(llama_lm, TEXTS, Site(1), pooling="all")[Site(1)]
    assert all_rows.shape[0] == n_tokens + len(TEXTS)
    assert median_token_norm(llama_lm, TEXTS, Site(1)) == pytest.approx(float(np.median(norms)))


def test_empty_texts_refused(llama_lm):
    with pytest.raises(DataError, match="empty"):
        capture(llama_lm, ["ok", "  "], Site(1))
    with pytest.raises(DataError, match="no texts"):
        capture(llama_lm, [], Site(1))
