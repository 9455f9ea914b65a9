"""Round trips and refusals of the steering-vectors, repeng and control-vector GGUF formats."""

from __future__ import annotations

import pickle

import gguf
import numpy as np
import pytest
import torch

from steerid.errors import VectorError
from steerid.interop import (
    export_gguf,
    from_repeng_directions,
    from_steering_vectors_dict,
    import_gguf,
    load_steering_vectors_file,
    peer_layer,
    read_gguf,
    read_steering_vectors_file,
    save_steering_vectors_file,
    site_for_peer_layer,
    to_repeng_directions,
    to_steering_vectors_dict,
)
from steerid.models import Site
from steerid.provenance import Provenance
from steerid.vector import SteeringVector


def _vector(info, site: str, seed: int = 0, scale: float = 3.0) -> SteeringVector:
    prov = Provenance(model_spec=info.spec, model_name=info.name, weights_hash=info.weights_hash, site=site,
                      method="mean_diff", trait="sentiment", seed=seed)
    values = scale * np.random.default_rng(seed).standard_normal(info.hidden_size)
    return SteeringVector.from_array(values, prov)


def _same(a: SteeringVector, b: SteeringVector, n_layers: int) -> None:
    np.testing.assert_allclose(a.direction, b.direction, atol=1e-6)
    assert a.site.canonical(n_layers) == b.site.canonical(n_layers)


def test_layer_mapping_is_block_output():
    assert peer_layer(Site(15, "in")) == 14
    assert peer_layer(Site(14, "out")) == 14
    assert site_for_peer_layer(14, 30) == Site(15, "in")
    assert site_for_peer_layer(29, 30) == Site(29, "out")  # last block: no in:30
    assert site_for_peer_layer(-1, 30) == Site(29, "out")
    with pytest.raises(VectorError, match="embedding output"):
        peer_layer(Site(0, "in"))
    with pytest.raises(VectorError, match="out of range"):
        site_for_peer_layer(30, 30)


@pytest.mark.parametrize("alpha", [None, 8.0, -2.5])
def test_steering_vectors_dict_roundtrip(llama_lm, alpha):
    info = llama_lm.info
    v = _vector(info, "in:2")
    acts = to_steering_vectors_dict(v, alpha)
    assert list(acts) == [1] and acts[1].dtype == torch.float32
    expected = v.norm if alpha is None else abs(alpha)
    assert float(acts[1].norm()) == pytest.approx(expected, rel=1e-6)
    (back,) = from_steering_vectors_dict(acts, info)
    assert back.site == Site(2, "in")
    assert back.norm == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(back.direction, np.sign(alpha or 1.0) * v.direction, atol=1e-6)
    assert back.provenance.extra == {"source_format": "steering-vectors", "peer_layer": 1}


@pytest.mark.parametrize("alpha", [None, 8.0, -2.5])
def test_steering_vectors_file_roundtrip_restores_provenance(llama_lm, tmp_path, alpha):
    info = llama_lm.info
    vectors = [_vector(info, "in:1", seed=1), _vector(info, "out:1", seed=2)]
    path = save_steering_vectors_file(tmp_path / "sv.safetensors", vectors, alpha)
    acts, metadata = read_steering_vectors_file(path)
    assert sorted(acts) == [0, 1] and metadata["layer_type"] == "decoder_block"
    back = load_steering_vectors_file(path, info)
    assert [b.site for b in back] == [Site(1, "in"), Site(1, "out")]
    for original, restored in zip(vectors, back):
        _same(original, restored, info.n_layers)
        assert restored.norm == pytest.approx(original.norm, rel=1e-6)
        assert restored.provenance == original.provenance
    assert [p.name for p in tmp_path.iterdir()] == ["sv.safetensors"]


@pytest.mark.parametrize("alpha", [None, 4.0])
def test_repeng_directions_roundtrip(llama_lm, alpha):
    info = llama_lm.info
    v = _vector(info, "in:2")
    dirs = to_repeng_directions(v, alpha)
    assert list(dirs) == [1] and dirs[1].dtype == np.float32
    (back,) = from_repeng_directions(dirs, info, model_type="llama")
    _same(v, back, info.n_layers)
    assert back.provenance.extra["model_type"] == "llama"


@pytest.mark.parametrize("alpha", [None, 6.0])
def test_gguf_roundtrip(llama_lm, tmp_path, alpha):
    info = llama_lm.info
    vectors = [_vector(info, "in:2", seed=3), _vector(info, "out:2", seed=4)]
    path = export_gguf(tmp_path / "cv.gguf", vectors, alpha, model_hint=info.family)
    back = import_gguf(path, info)
    assert [b.site for b in back] == [Site(2, "in"), Site(2, "out")]
    for original, restored in zip(vectors, back):
        _same(original, restored, info.n_layers)
        assert restored.norm == pytest.approx(original.norm, rel=1e-6)
        assert restored.provenance == original.provenance


def test_gguf_layout_is_what_llama_cpp_and_repeng_read(llama_lm, tmp_path):
    info = llama_lm.info
    path = export_gguf(tmp_path / "cv.gguf", _vector(info, "in:2"), 5.0, model_hint="llama")
    reader = gguf.GGUFReader(str(path))

    def text(key):
        field = reader.get_field(key)
        return bytes(field.parts[field.data[0]]).decode()

    assert text("general.architecture") == "controlvector"
    assert text("controlvector.model_hint") == "llama"
    count = reader.get_field("controlvector.layer_count")
    assert int(count.parts[count.data[0]][0]) == 1
    (tensor,) = reader.tensors
    assert tensor.name == "direction.1"
    assert tensor.tensor_type == gguf.GGMLQuantizationType.F32
    assert np.linalg.norm(np.asarray(tensor.data)) == pytest.approx(5.0, rel=1e-6)


def test_gguf_written_as_repeng_does_imports_with_fresh_provenance(llama_lm, tmp_path):
    """A file laid out exactly as repeng 0.4.0's ``export_gguf`` writes it (no steerid keys)."""
    info = llama_lm.info
    direction = np.random.default_rng(5).standard_normal(info.hidden_size).astype(np.float32)
    path = tmp_path / "repeng.gguf"
    writer = gguf.GGUFWriter(str(path), "controlvector")
    writer.add_string("controlvector.model_hint", "llama")
    writer.add_uint32("controlvector.layer_count", 2)
    writer.add_tensor("direction.1", direction)
    writer.add_tensor("direction.2", 2 * direction)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    back = import_gguf(path, info)
    assert [b.site for b in back] == [Site(2, "in"), Site(2, "out")]
    assert back[1].norm == pytest.approx(2 * float(np.linalg.norm(direction)), rel=1e-6)
    assert back[0].provenance.extra == {"source_format": "gguf-controlvector", "peer_layer": 1, "model_hint": "llama"}
    assert back[0].provenance.weights_hash == info.weights_hash


def test_refusals(llama_lm, tmp_path):
    info = llama_lm.info
    with pytest.raises(VectorError, match="llama.cpp rejects"):
        export_gguf(tmp_path / "l0.gguf", _vector(info, "in:1"))
    assert not (tmp_path / "l0.gguf").exists()
    export_gguf(tmp_path / "l0.gguf", _vector(info, "in:1"), llama_cpp=False)  # repeng-only file is fine
    with pytest.raises(VectorError, match="embedding output"):
        to_repeng_directions(_vector(info, "in:0"))
    with pytest.raises(VectorError, match="same block output"):
        to_steering_vectors_dict([_vector(info, "in:2"), _vector(info, "out:1")])
    with pytest.raises(VectorError, match="hidden size"):
        from_steering_vectors_dict({1: torch.ones(info.hidden_size + 1)}, info)
    with pytest.raises(VectorError, match="NaN"):
        from_repeng_directions({1: np.full(info.hidden_size, np.nan)}, info)
    with pytest.raises(VectorError, match="zeros"):
        from_repeng_directions({1: np.zeros(info.hidden_size)}, info)
    with pytest.raises(VectorError, match="layer_type"):
        from_steering_vectors_dict({1: torch.ones(info.hidden_size)}, info, layer_type="mlp")
    with pytest.raises(VectorError, match="out of range"):
        from_repeng_directions({info.n_layers: np.ones(info.hidden_size)}, info)
    with pytest.raises(VectorError, match="non-zero"):
        to_repeng_directions(_vector(info, "in:2"), 0.0)


def test_bad_files_refused(llama_lm, tmp_path):
    info = llama_lm.info
    pkl = tmp_path / "sv.pt"
    pkl.write_bytes(pickle.dumps({1: [0.0] * info.hidden_size}))
    with pytest.raises(VectorError, match="pickle"):
        load_steering_vectors_file(pkl, info)
    with pytest.raises(VectorError, match="not a GGUF"):
        import_gguf(pkl, info)
    with pytest.raises(VectorError, match="does not exist"):
        import_gguf(tmp_path / "missing.gguf", info)
    own = _vector(info, "in:2").save(tmp_path / "own.safetensors")
    with pytest.raises(VectorError, match="not a steering-vectors export"):
        load_steering_vectors_file(own, info)
    model = tmp_path / "model.gguf"
    writer = gguf.GGUFWriter(str(model), "llama")
    writer.add_tensor("blk.0.attn_q.weight", np.ones((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(VectorError, match="not direction"):
        import_gguf(model, info)
    truncated = tmp_path / "cut.gguf"
    full = export_gguf(tmp_path / "full.gguf", _vector(info, "in:2"), 1.0).read_bytes()
    truncated.write_bytes(full[: len(full) // 2])
    with pytest.raises(VectorError, match="corrupt"):
        read_gguf(truncated)
