import pickle

import numpy as np
import pytest

from steerid.errors import VectorError
from steerid.provenance import Provenance
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
