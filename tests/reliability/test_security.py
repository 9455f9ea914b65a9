"""Guarantee 7 — security: no pickle, no remote code unless asked, escaped model text.

* ``src/steerid`` never unpickles: no ``pickle.load``/``Unpickler``/``joblib``/``dill``/
  ``pd.read_pickle``, ``torch.load`` only with ``weights_only=True``, ``np.load`` never with
  ``allow_pickle=True``, YAML only through ``safe_load``, ``trust_remote_code=True`` never
  written as a default (static checks over the source);
* a pickle passed as a vector (``torch.save`` zip or a bare pickle) is refused without ever
  reaching an unpickler (``pickle``'s and ``torch.load`` are booby-trapped during the test);
* a local checkpoint whose weights are a malicious pickle (``pytorch_model.bin`` whose
  ``__reduce__`` would create a file) is refused with a clear :class:`ModelError`; the payload
  never runs;
* ``trust_remote_code`` reaches ``from_pretrained`` as ``False`` unless the user passes
  ``--trust-remote-code``, on every CLI command that has the option;
* the HTML report escapes every piece of model text (a continuation ``<script>alert(1)</script>``
  appears only escaped).
"""

from __future__ import annotations

import io
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import steerid
from _reliability import assert_one_clear_line, report_missing_reason
from steerid.errors import ModelError, VectorError
from steerid.vector import SteeringVector

SRC = Path(steerid.__file__).resolve().parent


def _source_files():
    return sorted(SRC.rglob("*.py"))


def _calls(text: str, name: str) -> list[str]:
    """Every ``name(`` call in ``text`` with its balanced argument list."""
    out = []
    for match in re.finditer(re.escape(name) + r"\(", text):
        depth, index = 0, match.end() - 1
        while index < len(text):
            depth += {"(": 1, ")": -1}.get(text[index], 0)
            if depth == 0:
                break
            index += 1
        out.append(text[match.start(): index + 1])
    return out


FORBIDDEN = [
    (r"\bpickle\.loads?\(|\bUnpickler\(|cPickle|\bimport dill\b|\bdill\.load|joblib\.load|read_pickle\(",
     "unpickling"),
    (r"allow_pickle\s*=\s*True", "np.load with allow_pickle=True"),
    (r"trust_remote_code\s*[:=]\s*(?:bool\s*=\s*)?True", "trust_remote_code=True as a value or default"),
    (r"\byaml\.load\(|yaml\.unsafe_load|yaml\.full_load|Loader\s*=\s*yaml\.(?:Full)?Loader", "unsafe YAML loading"),
    (r"use_safetensors\s*=\s*False", "forcing pickle checkpoints"),
]


def test_source_never_unpickles_or_trusts_remote_code():
    offenders = []
    for path in _source_files():
        text = path.read_text(encoding="utf-8")
        code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
        for pattern, what in FORBIDDEN:
            for match in re.finditer(pattern, code):
                number = code.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(SRC)}:{number}: {what}: {match.group(0)}")
        for call in _calls(code, "torch.load"):
            if not re.search(r"weights_only\s*=\s*True", call):
                offenders.append(f"{path.relative_to(SRC)}: torch.load without weights_only=True: {call[:80]}")
    assert offenders == [], "\n".join(offenders)


@pytest.fixture
def booby_trapped_unpicklers(monkeypatch):
    """Make every way of unpickling fail loudly for the duration of a test."""
    def trap(*args, **kwargs):
        raise AssertionError("steerid tried to unpickle")

    monkeypatch.setattr(pickle, "load", trap)
    monkeypatch.setattr(pickle, "loads", trap)
    monkeypatch.setattr(pickle, "Unpickler", trap)
    monkeypatch.setattr(torch, "load", trap)


def _pickles(tmp_path: Path) -> list[Path]:
    zipped = tmp_path / "zip.safetensors"
    torch.save({"direction": torch.ones(8)}, zipped)
    bare = tmp_path / "bare.safetensors"
    bare.write_bytes(pickle.dumps({"direction": np.ones(8)}, protocol=4))
    legacy = tmp_path / "legacy.pt"
    buffer = io.BytesIO()
    torch.save({"direction": torch.ones(8)}, buffer, _use_new_zipfile_serialization=False)
    legacy.write_bytes(buffer.getvalue())
    protocol0 = tmp_path / "p0.safetensors"
    protocol0.write_bytes(pickle.dumps({"direction": [1.0] * 8}, protocol=0))
    return [zipped, bare, legacy, protocol0]


def test_pickle_vectors_are_refused_without_unpickling(tmp_path, booby_trapped_unpicklers):
    for path in _pickles(tmp_path):
        with pytest.raises(VectorError) as info:
            SteeringVector.load(path)
        assert "pickle" in str(info.value) or "not a valid safetensors" in str(info.value), str(info.value)


def test_pickle_files_are_refused_by_the_importers(tmp_path, booby_trapped_unpicklers):
    from steerid.interop import read_gguf, read_steering_vectors_file

    for path in _pickles(tmp_path):
        with pytest.raises(VectorError):
            read_steering_vectors_file(path)
        with pytest.raises(Exception) as info:  # gguf files have their own magic; a pickle is not one
            read_gguf(path)
        assert not isinstance(info.value, AssertionError), "read_gguf tried to unpickle"


class _Payload:
    """Unpickling this runs ``os.mkdir(marker)``: the proof that a pickle was executed."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_malicious_pickle_checkpoint_is_refused_and_never_runs(tmp_path):
    from steerid.models import load_model

    lm = load_model("tiny:llama")
    folder = tmp_path / "evil-model"
    lm.model.save_pretrained(folder)
    lm.tokenizer.save_pretrained(folder)
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "PAYLOAD-RAN"
    torch.save({"model.embed_tokens.weight": _Payload(str(marker))}, folder / "pytorch_model.bin")
    with pytest.raises(ModelError) as info:
        load_model(str(folder))
    assert not marker.exists(), "the pickle payload was executed"
    assert "could not load model" in str(info.value) and "\n" not in str(info.value)


def test_trust_remote_code_is_off_unless_passed(tmp_path, monkeypatch):
    """What reaches ``from_pretrained`` for a local model directory, through the API and the CLI."""
    import steerid.models.loader as loader
    from steerid.cli import main

    seen = []

    def record(source, *args, **kwargs):
        seen.append(kwargs.get("trust_remote_code"))
        raise OSError("stopped by the test")

    for auto in ("AutoTokenizer", "AutoModelForCausalLM"):
        monkeypatch.setattr(getattr(loader, auto), "from_pretrained", record)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"positive": "good", "negative": "bad"}\n{"positive": "nice", "negative": "mean"}\n',
                     encoding="utf-8")

    for kwargs in ({}, {"trust_remote_code": True}):
        with pytest.raises(ModelError):
            loader.load_model(str(folder), **kwargs)
    assert seen == [False, True]
    seen.clear()
    for extra in ([], ["--trust-remote-code"]):
        with pytest.raises(SystemExit):
            main(["extract", str(folder), "--pairs", str(pairs), "--out", str(tmp_path / "v.safetensors"), *extra])
    assert seen == [False, True]


def test_every_cli_option_for_remote_code_defaults_to_off():
    import inspect

    import typer

    from steerid.cli import app
    from steerid.models.loader import load_model

    assert inspect.signature(load_model).parameters["trust_remote_code"].default is False

    def commands(group):
        for command in group.commands.values():
            if hasattr(command, "commands"):
                yield from commands(command)
            else:
                yield command

    found = 0
    for command in commands(typer.main.get_command(app)):
        for param in command.params:
            if "remote" in param.name:
                found += 1
                assert param.default is False, f"{command.name}: --{param.name} defaults to {param.default}"
    assert found >= 2


# ---------------------------------------------------------------------------------------------
# report escaping

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '" onmouseover="alert(2)'
INJECTIONS = (SCRIPT, ATTRIBUTE, "<img src=x onerror=alert(3)>")


def _inject(value, key=""):
    """Replace every continuation / example / text-like string in the results with an attack."""
    if isinstance(value, dict):
        return {k: _inject(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_inject(v, key) for v in value]
    if isinstance(value, str) and key in {"continuation", "text", "prompt", "none", "+v", "-v"}:
        return value + " " + " ".join(INJECTIONS)
    return value


def _continuation_maps(value):
    if isinstance(value, dict):
        if "continuations" in value and isinstance(value["continuations"], dict):
            yield value["continuations"]
        for v in value.values():
            yield from _continuation_maps(v)
    elif isinstance(value, list):
        for v in value:
            yield from _continuation_maps(v)


@pytest.mark.skipif(report_missing_reason() is not None, reason=report_missing_reason() or "")
def test_report_escapes_model_text(audit_runs, zygote, tmp_path):
    """Attack strings in every example continuation and prompt of a real results.json, rendered
    with ``steerid report`` (in a forked process that has the report stack imported)."""
    import json
    import shutil

    run = tmp_path / "run"
    shutil.copytree(audit_runs["ref"], run)
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    maps = list(_continuation_maps(results))
    assert maps, "no example continuations in results.json to attack"
    for continuations in maps:
        for name in list(continuations):
            continuations[name] = f"{continuations[name]} {' '.join(INJECTIONS)}"
    results["model"]["name"] = SCRIPT  # a local model directory's name is user text too
    (run / "results.json").write_text(json.dumps(_inject(results)), encoding="utf-8")
    (run / "report.html").unlink()
    rc, out, err = zygote.run(["report", str(run)], tmp_path, name="report-escape")
    assert rc == 0, err
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, "the continuation is not shown at all"
    for attack in ("<script>alert(1)", "<img src=x", 'onmouseover="alert(2)'):
        assert attack not in html, f"unescaped model text in the report: {attack}"


@pytest.mark.skipif(report_missing_reason() is not None, reason=report_missing_reason() or "")
def test_report_command_on_a_bad_directory_is_one_line(tmp_path, capsys):
    from steerid.cli import main

    for target, words in ((tmp_path / "nope", "does not exist"), (tmp_path, "has no results.json")):
        with pytest.raises(SystemExit) as info:
            main(["report", str(target)])
        assert info.value.code == 2
        assert_one_clear_line(capsys.readouterr().err, words)
    (tmp_path / "results.json").write_text("{", encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["report", str(tmp_path)])
    assert_one_clear_line(capsys.readouterr().err, "not valid JSON")
    assert not (tmp_path / "report.html").exists()
