import pickle

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from steerid.engine.batching import left_pad
from steerid.capture import median_token_norm
from steerid.errors import SiteError, VectorError
from steerid.models import Site
from steerid.models.hooks import count_hooks
from steerid.provenance import Provenance
from steerid.engine.steer import steering
from steerid.vector import SteeringVector


def _prov(**kw):
    base = dict(model_spec="tiny:llama", model_name="tiny:llama", weights_hash="abc", site="in:1", method="mean_diff")
    base.update(kw)
    return Provenance(**base)


def test_roundtrip_keeps_direction_norm_and_provenance(tmp_path):
    v = SteeringVector.from_array(np.arange(1, 49, dtype=float), _prov(trait="sentiment", seed=7))
    path = v.save(tmp_path / "v.safetensors")
    back = SteeringVector.load(path)
    np.testing.assert_allclose(back.direction, v.direction, atol=1e-7)
    assert np.linalg.norm(back.direction) == pytest.approx(1.0)
    assert back.norm == pytest.approx(v.norm)
    assert back.provenance == v.provenance
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("values,match", [
    (np.full(4, np.nan), "NaN"), (np.array([1.0, np.inf]), "NaN or inf"), (np.zeros(5), "zeros"),
])
def test_bad_values_refused(values, match):
    with pytest.raises(VectorError, match=match):
        SteeringVector.from_array(values, _prov())


def test_pickle_and_corrupt_files_refused(tmp_path):
    p = tmp_path / "v.pt"
    p.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(VectorError, match="pickle"):
        SteeringVector.load(p)
    c = tmp_path / "c.safetensors"
    c.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(VectorError, match="corrupt|not a valid"):
        SteeringVector.load(c)
    with pytest.raises(VectorError, match="does not exist"):
        SteeringVector.load(tmp_path / "missing.safetensors")


def test_compatibility_checks(llama_lm, caplog):
    info = llama_lm.info
    wrong = SteeringVector.from_array(np.ones(info.hidden_size + 2), _prov(weights_hash=info.weights_hash))
    with pytest.raises(VectorError, match="hidden size"):
        wrong.check_compatible(info)
    other = SteeringVector.from_array(np.ones(info.hidden_size), _prov(weights_hash="f" * 64))
    other.check_compatible(info)
    assert "not" in caplog.text
    with pytest.raises(VectorError, match="extracted from weights"):
        other.check_compatible(info, strict=True)


def test_header_length_starting_with_pickle_byte_still_loads(tmp_path):
    """A safetensors header of 128 + 256·k bytes begins with 0x80, pickle's first byte: not a pickle."""
    import struct

    v = SteeringVector.from_array(np.arange(1, 49, dtype=float), _prov(trait="sentiment"))
    for pad in range(300):
        path = v.with_provenance(trait="sentiment" + "x" * pad).save(tmp_path / "v.safetensors")
        if path.read_bytes()[0] == 0x80:
            break
    else:
        pytest.fail("no padding gave a header length ≡ 0x80 (mod 256)")
    assert struct.unpack("<Q", path.read_bytes()[:8])[0] % 256 == 0x80
    assert SteeringVector.load(path).provenance.trait.startswith("sentiment")


# --------------------------------------------------------------------------- apply (steering at its own site)


ROWS = [[5, 6, 7, 8, 9, 10], [11, 12, 13]]
TEXTS = ["hello there friend", "the quick brown fox jumps over the lazy dog"]


def _tiny_vector(lm, site="in:1", seed=0, **kw):
    values = np.random.default_rng(seed).standard_normal(lm.info.hidden_size)
    return SteeringVector.from_array(values, _prov(weights_hash=lm.info.weights_hash, site=site, **kw))


def _forward(lm, rows=ROWS):
    batch = left_pad(rows, lm.tokenizer.pad_token_id)
    with torch.inference_mode():
        return lm.model(**batch.model_inputs(), output_hidden_states=True)


def test_apply_adds_alpha_direction_at_its_own_site_only(llama_lm):
    v = _tiny_vector(llama_lm, site="in:2")
    plain = _forward(llama_lm)
    with v.apply(llama_lm, 3.0) as delta:
        steered = _forward(llama_lm)
    np.testing.assert_allclose(delta, 3.0 * v.direction)
    for index in (0, 1):  # nothing before the site changes
        assert torch.equal(steered.hidden_states[index], plain.hidden_states[index])
    shift = (steered.hidden_states[2] - plain.hidden_states[2]).double().numpy()
    np.testing.assert_allclose(shift, np.broadcast_to(delta, shift.shape), atol=1e-5)
    assert count_hooks(llama_lm.model) == 0


def test_apply_equals_the_steering_context_manager(llama_lm):
    v = _tiny_vector(llama_lm)
    with v.apply(llama_lm, 2.5, scope="prompt", prompt_length=4):
        ours = _forward(llama_lm).logits
    with steering(llama_lm, Site(1), 2.5 * v.direction, scope="prompt", prompt_length=4):
        reference = _forward(llama_lm).logits
    assert torch.equal(ours, reference)


def test_relative_alpha_scales_by_the_site_token_norm(llama_lm):
    v = _tiny_vector(llama_lm)
    norm = median_token_norm(llama_lm, TEXTS, Site(1))
    with v.apply(llama_lm, 0.5, relative=True, prompts=TEXTS) as measured:
        pass
    with v.apply(llama_lm, 0.5, relative=True, token_norm=norm) as given:
        pass
    np.testing.assert_allclose(measured, 0.5 * norm * v.direction)
    np.testing.assert_allclose(given, measured)
    with pytest.raises(VectorError, match="token norm"):
        with v.apply(llama_lm, 0.5, relative=True):
            pass
    with pytest.raises(VectorError, match="token_norm"):
        with v.apply(llama_lm, 0.5, relative=True, token_norm=0.0):
            pass
    assert count_hooks(llama_lm.model) == 0


def test_apply_removes_hooks_when_the_body_raises(llama_lm):
    v = _tiny_vector(llama_lm)
    before = _forward(llama_lm).logits
    with pytest.raises(RuntimeError, match="boom"):
        with v.apply(llama_lm, 50.0):
            assert count_hooks(llama_lm.model) > 0
            raise RuntimeError("boom")
    assert count_hooks(llama_lm.model) == 0
    assert torch.equal(_forward(llama_lm).logits, before)


@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda lm: SteeringVector.from_array(np.ones(lm.info.hidden_size + 1), _prov(weights_hash=lm.info.weights_hash)),
     VectorError, "hidden size"),
    (lambda lm: _tiny_vector(lm, site="in:99"), SiteError, "layer"),
])
def test_apply_refuses_vectors_that_do_not_fit_the_model(llama_lm, make, error, match):
    with pytest.raises(error, match=match):
        with make(llama_lm).apply(llama_lm, 1.0):
            pass
    assert count_hooks(llama_lm.model) == 0


@pytest.mark.parametrize(("kwargs", "match"), [({"alpha": float("nan")}, "alpha"), ({"alpha": 1.0, "scope": "middle"},
                                                                                    "scope")])
def test_apply_refuses_bad_alpha_and_scope(llama_lm, kwargs, match):
    with pytest.raises(VectorError, match=match):
        with _tiny_vector(llama_lm).apply(llama_lm, **kwargs):
            pass
    assert count_hooks(llama_lm.model) == 0


# --------------------------------------------------------------------------- arithmetic and provenance

def _vec(values, **kw):
    return SteeringVector.from_array(np.asarray(values, dtype=float), _prov(**kw))


def test_sum_difference_scale_and_negation_act_on_the_raw_vectors():
    a, b = _vec([3.0, 0.0, 1.0]), _vec([0.0, 4.0, -1.0])
    np.testing.assert_allclose((a + b).vector, a.vector + b.vector)
    np.testing.assert_allclose((a - b).vector, a.vector - b.vector)
    np.testing.assert_allclose((2 * a).vector, 2 * a.vector)
    np.testing.assert_allclose((a * -0.5).vector, -0.5 * a.vector)
    np.testing.assert_allclose((-a).vector, -a.vector)
    np.testing.assert_allclose(((a + b) - b).vector, a.vector, atol=1e-12)
    for result in (a + b, a - b, 3 * a, -a):
        assert np.linalg.norm(result.direction) == pytest.approx(1.0)
        assert result.site == a.site


def test_arithmetic_records_operation_and_operand_hashes(tmp_path):
    a, b = _vec([3.0, 0.0, 1.0], trait="sentiment"), _vec([0.0, 4.0, -1.0], trait="formality", method="pca")
    total = a + b
    prov = total.provenance
    assert prov.method == "arithmetic"
    assert prov.method_params["operation"] == "a + b"
    assert prov.method_params["operands"] == [a.content_hash(), b.content_hash()]
    assert prov.method_params["operand_methods"] == ["mean_diff", "pca"]
    assert prov.trait == "custom"  # the operands measure different traits
    assert (a - a * 2).provenance.method_params["operation"] == "a - b"
    scaled = 2.0 * a
    assert scaled.provenance.method_params == {"operation": "c * a", "operands": [a.content_hash()],
                                               "operand_methods": ["mean_diff"], "scalar": 2.0}
    assert scaled.provenance.trait == "sentiment"
    assert (-a).provenance.method_params["operation"] == "-a"
    back = SteeringVector.load(total.save(tmp_path / "sum.safetensors"))
    assert back.provenance == prov


def test_content_hash_names_the_vector_not_its_creation_time():
    a = _vec([1.0, 2.0, 3.0], created_at="2026-01-01T00:00:00+00:00")
    again = _vec([1.0, 2.0, 3.0], created_at="2026-06-01T00:00:00+00:00")
    assert a.content_hash() == again.content_hash()
    assert a.content_hash() != (2 * a).content_hash()
    assert a.content_hash() != _vec([1.0, 2.0, 3.0], trait="other").content_hash()


@pytest.mark.parametrize(("other", "match"), [
    (_vec([1.0, 1.0, 1.0], site="in:2"), "different sites"),
    (_vec([1.0, 1.0, 1.0], weights_hash="f" * 64), "different models"),
    (_vec([1.0, 1.0, 1.0, 1.0]), "hidden sizes"),
])
def test_arithmetic_refuses_mismatched_vectors(other, match):
    a = _vec([1.0, 0.0, 0.0])
    with pytest.raises(VectorError, match=match):
        a + other
    with pytest.raises(VectorError, match=match):
        a - other


def test_arithmetic_refuses_cancellation_zero_and_non_vectors():
    a = _vec([1.0, 0.0, 0.0])
    with pytest.raises(VectorError, match="all zeros"):
        a - a
    for scalar in (0, float("inf"), float("nan")):
        with pytest.raises(VectorError, match="scale"):
            a * scalar
    for bad in (1.0, np.ones(3), "x"):
        with pytest.raises(TypeError):
            a + bad
        with pytest.raises(TypeError):
            bad + a
    with pytest.raises(TypeError):
        a * a
    with pytest.raises(TypeError):
        True * a


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-10, 10), min_size=3, max_size=3), st.lists(st.floats(-10, 10), min_size=3, max_size=3),
       st.floats(0.1, 5.0) | st.floats(-5.0, -0.1))
def test_arithmetic_is_linear_on_the_raw_vectors(x, y, c):
    x, y = np.array(x), np.array(y)
    assume(min(np.linalg.norm(x), np.linalg.norm(y), np.linalg.norm(x + y), np.linalg.norm(x - y)) > 1e-3)
    a, b = _vec(x), _vec(y)
    np.testing.assert_allclose((c * (a + b)).vector, (c * a + c * b).vector, atol=1e-9)
    np.testing.assert_allclose((a - b).vector, (a + -b).vector, atol=1e-9)
