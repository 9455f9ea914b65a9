"""Guarantee 6 — every user mistake gives one clear line, exit code 2, no traceback, no output.

The corpus is the table ``CASES`` below: append a :class:`Case` to extend it. Each case is run
through ``steerid.cli.main`` in-process (cheap) and must:

* exit with code 2 (``SystemExit(2)``; any other exception escaping ``main`` is a traceback);
* print exactly one non-empty line on stderr, ``steerid: error: <problem> — fix: <fix>``,
  containing the case's expected text(s) (which name the problem);
* leave no output behind: nothing under ``{out}`` and no ``.*.tmp`` file anywhere in the case's
  directory.

A handful of cases are re-run as real processes (a fork of a pre-imported server, and the real
``steerid`` entry point for a usage error) to check what a user's terminal actually receives:
no traceback, no library warning, one line.

Placeholders in argv: ``{tmp}`` (the case's directory) and ``{out}`` (``{tmp}/out``, which must
stay empty).
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from _reliability import assert_one_clear_line, audit_missing_reason, files_under, temp_leftovers
from steerid.cli import main
from steerid.models import load_model
from steerid.provenance import Provenance
from steerid.vector import SteeringVector

HIDDEN = 48  # every tiny:<family> model
N_LAYERS = 3


@dataclass
class Kit:
    """What setup functions need: the tiny model's weights hash, to write matching vectors."""

    weights_hash: str

    def vector(self, path: Path, direction=None, *, weights_hash: str | None = None, site: str = "in:1",
               norm: float = 3.0) -> Path:
        values = np.asarray(direction if direction is not None else np.eye(HIDDEN)[0], dtype=np.float64)
        prov = Provenance(model_spec="tiny:llama", model_name="tiny:llama",
                          weights_hash=self.weights_hash if weights_hash is None else weights_hash,
                          site=site, method="mean_diff")
        SteeringVector(direction=values, norm=norm, provenance=prov).save(path)
        return path


@dataclass
class Case:
    id: str
    argv: list[str]
    expect: str | tuple[str, ...]
    setup: Callable[[Path, Kit], None] | None = None
    patch: Callable[[pytest.MonkeyPatch], None] | None = None
    needs_audit: bool = False
    marks: list = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# setup helpers


PAIRS = [{"prompt": "How was your day?", "positive": "Wonderful, thank you!", "negative": "Awful, honestly."},
         {"prompt": "How is the food?", "positive": "Delicious and fresh.", "negative": "Stale and cold."},
         {"prompt": "How was the film?", "positive": "A joy to watch.", "negative": "A chore to sit through."}]


def write_lines(name: str, lines: list, raw: bytes | None = None):
    def setup(tmp: Path, kit: Kit) -> None:
        data = raw if raw is not None else "".join(json.dumps(x) + "\n" for x in lines).encode()
        (tmp / name).write_bytes(data)
    return setup


def pairs_ok(tmp: Path, kit: Kit) -> None:
    write_lines("pairs.jsonl", PAIRS)(tmp, kit)


def vector_ok(tmp: Path, kit: Kit) -> None:
    kit.vector(tmp / "v.safetensors")


def both(*setups):
    def setup(tmp: Path, kit: Kit) -> None:
        for s in setups:
            s(tmp, kit)
    return setup


def vec(**kwargs):
    def setup(tmp: Path, kit: Kit) -> None:
        kit.vector(tmp / "v.safetensors", **kwargs)
    return setup


def nan_vector(value: float):
    def setup(tmp: Path, kit: Kit) -> None:
        direction = np.eye(HIDDEN)[0]
        direction[3] = value
        kit.vector(tmp / "v.safetensors", direction)
    return setup


def raw_safetensors(tensors: dict, norm: str | None = None):
    """A safetensors file written by hand (valid provenance, ``norm`` metadata as given)."""
    def setup(tmp: Path, kit: Kit) -> None:
        metadata = None
        if norm is not None:
            prov = Provenance(model_spec="tiny:llama", model_name="tiny:llama", weights_hash=kit.weights_hash,
                              site="in:1", method="mean_diff")
            metadata = {"format": "steerid", "norm": norm, "provenance": json.dumps(prov.to_dict())}
        save_file(tensors, str(tmp / "v.safetensors"), metadata=metadata)
    return setup


def raw_file(name: str, data: bytes):
    def setup(tmp: Path, kit: Kit) -> None:
        (tmp / name).write_bytes(data)
    return setup


def truncated_vector(tmp: Path, kit: Kit) -> None:
    path = kit.vector(tmp / "full.safetensors", np.ones(HIDDEN))
    data = path.read_bytes()
    (tmp / "v.safetensors").write_bytes(data[: len(data) - 64])
    path.unlink()


def torch_saved_vector(tmp: Path, kit: Kit) -> None:
    torch.save({"direction": torch.ones(HIDDEN)}, tmp / "v.safetensors")


def pickled_vector(tmp: Path, kit: Kit) -> None:
    (tmp / "v.safetensors").write_bytes(pickle.dumps({"direction": [1.0] * HIDDEN}, protocol=2))


def model_dir(kind: str):
    """A local Hugging Face directory: empty, or complete but with garbage weights."""
    def setup(tmp: Path, kit: Kit) -> None:
        folder = tmp / "model"
        folder.mkdir()
        if kind == "empty":
            return
        lm = load_model("tiny:llama")
        lm.model.save_pretrained(folder)
        lm.tokenizer.save_pretrained(folder)
        weights = folder / "model.safetensors"
        if kind == "garbage":
            weights.write_bytes(b"\x00garbage, not safetensors" * 100)
        elif kind == "truncated":
            weights.write_bytes(weights.read_bytes()[:5000])
    return setup


def oserror_on(target: str, code: int):
    """Make the atomic writer's ``target`` (mkstemp / replace / fsync) fail with ``code``."""
    def patch(monkeypatch: pytest.MonkeyPatch) -> None:
        import steerid.io as io

        def fail(*args, **kwargs):
            raise OSError(code, os.strerror(code))

        if target == "mkstemp":
            monkeypatch.setattr(io.tempfile, "mkstemp", fail)
        elif target == "replace":
            monkeypatch.setattr(io.os, "replace", fail)
        elif target == "fsync":
            monkeypatch.setattr(io.os, "fsync", fail)
    return patch


def unreadable(suffix: str):
    """``open`` of a file ending in ``suffix`` fails with EACCES (we run as root: chmod is ignored)."""
    def patch(monkeypatch: pytest.MonkeyPatch) -> None:
        import builtins
        import io

        real_open = builtins.open

        def guarded(file, *args, **kwargs):
            if str(file).endswith(suffix):
                raise PermissionError(errno.EACCES, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded)
        monkeypatch.setattr(io, "open", guarded)  # pathlib's read_bytes/read_text go through io.open
    return patch


def config_file(text: str):
    def setup(tmp: Path, kit: Kit) -> None:
        (tmp / "cfg.yaml").write_text(text, encoding="utf-8")
    return setup


LONG = "word " * 200  # 1000 bytes: more than the tiny models' 512-token context (byte tokenizer)
EXTRACT = ["extract", "tiny:llama", "--layer", "1", "--out", "{out}/v.safetensors"]
EXTRACT_P = [*EXTRACT, "--pairs", "{tmp}/pairs.jsonl"]
STEER = ["steer", "tiny:llama", "--vector", "{tmp}/v.safetensors", "--max-new-tokens", "2"]
AUDIT = ["audit", "tiny:llama", "--traits", "truthfulness", "--out", "{out}/run"]
IDENTIFY = ["identify", "tiny:llama", "--profile", "smoke", "--trait", "truthfulness", "--out", "{out}/run"]

CASES: list[Case] = [
    # --- models ---------------------------------------------------------------------------------
    Case("unknown model name", ["extract", "no-such-model", "--pairs", "{tmp}/pairs.jsonl", "--out", "{out}/v.safetensors"],
         "unknown model 'no-such-model'", pairs_ok),
    Case("unknown tiny family", ["extract", "tiny:nope", "--pairs", "{tmp}/pairs.jsonl", "--out", "{out}/v.safetensors"],
         "unknown tiny family 'nope'", pairs_ok),
    Case("empty model name", ["extract", "", "--pairs", "{tmp}/pairs.jsonl", "--out", "{out}/v.safetensors"],
         "empty model name", pairs_ok),
    Case("missing local model path", ["extract", "{tmp}/no/such/model", "--pairs", "{tmp}/pairs.jsonl",
                                      "--out", "{out}/v.safetensors"], ("no/such/model", "does not exist"), pairs_ok),
    Case("directory without config.json", ["extract", "{tmp}/model", "--pairs", "{tmp}/pairs.jsonl",
                                           "--out", "{out}/v.safetensors"], "has no config.json",
         both(pairs_ok, model_dir("empty"))),
    Case("corrupt checkpoint (garbage safetensors)", ["extract", "{tmp}/model", "--pairs", "{tmp}/pairs.jsonl",
                                                      "--out", "{out}/v.safetensors"], "could not load model",
         both(pairs_ok, model_dir("garbage"))),
    Case("corrupt checkpoint (truncated safetensors)", ["extract", "{tmp}/model", "--pairs", "{tmp}/pairs.jsonl",
                                                        "--out", "{out}/v.safetensors"], "could not load model",
         both(pairs_ok, model_dir("truncated"))),
    Case("hub id neither cached nor reachable", ["extract", "nobody-xyz/nothing-xyz", "--pairs", "{tmp}/pairs.jsonl",
                                                 "--out", "{out}/v.safetensors"], "is not in the local cache",
         pairs_ok),
    Case("unknown dtype", [*EXTRACT_P, "--dtype", "float8"], "unknown dtype 'float8'", pairs_ok),
    # --- sites ----------------------------------------------------------------------------------
    Case("layer negative", [*EXTRACT_P[:3], "-1", *EXTRACT_P[4:]], "layer -1 is out of range", pairs_ok),
    Case("layer too large", [*EXTRACT_P[:3], "3", *EXTRACT_P[4:]], ("layer 3 is out of range", "0 and 2"), pairs_ok),
    Case("unknown site point", [*EXTRACT_P, "--point", "middle"], "unknown site point 'middle'", pairs_ok),
    Case("bad type for --layer", [*EXTRACT_P[:3], "abc", *EXTRACT_P[4:]], ("--layer", "valid integer"), pairs_ok),
    # --- alpha ----------------------------------------------------------------------------------
    Case("negative alpha", [*STEER, "--alpha", "-1", "--prompt", "hi"], "alpha must be ≥ 0", vector_ok),
    Case("NaN alpha", [*STEER, "--alpha", "nan", "--prompt", "hi"], "alpha must be a finite number", vector_ok),
    Case("infinite alpha", [*STEER, "--alpha", "inf", "--prompt", "hi"], "alpha must be a finite number", vector_ok),
    # --- vectors --------------------------------------------------------------------------------
    Case("vector of the wrong hidden size", [*STEER, "--prompt", "hi"], ("hidden size 16", "48"),
         vec(direction=np.eye(16)[0])),
    Case("vector from another model with --strict", [*STEER, "--prompt", "hi", "--strict"],
         ("extracted from weights", "deadbeefdead"), vec(weights_hash="deadbeef" * 8)),
    Case("NaN vector", [*STEER, "--prompt", "hi"], "contains NaN or inf", nan_vector(float("nan"))),
    Case("infinite vector", [*STEER, "--prompt", "hi"], "contains NaN or inf", nan_vector(float("inf"))),
    Case("zero vector", [*STEER, "--prompt", "hi"], "all zeros", vec(direction=np.zeros(HIDDEN))),
    Case("corrupt safetensors (random bytes)", [*STEER, "--prompt", "hi"], "not a valid safetensors file",
         raw_file("v.safetensors", bytes(range(7, 250)) * 8)),
    Case("truncated safetensors", [*STEER, "--prompt", "hi"], ("v.safetensors", "safetensors"), truncated_vector),
    Case("pickle (torch.save) passed as a vector", [*STEER, "--prompt", "hi"], "pickle", torch_saved_vector),
    Case("plain pickle passed as a vector", [*STEER, "--prompt", "hi"], "pickle", pickled_vector),
    Case("missing vector file", [*STEER, "--prompt", "hi"], ("v.safetensors", "does not exist")),
    Case("unreadable vector file (EACCES)", [*STEER, "--prompt", "hi"], ("cannot read vector file", "permission denied"),
         vector_ok, unreadable("v.safetensors")),
    Case("vector path is a directory", ["steer", "tiny:llama", "--vector", "{tmp}", "--prompt", "hi"],
         "is a directory", None),
    Case("safetensors without a direction tensor", [*STEER, "--prompt", "hi"], "no 'direction' tensor",
         raw_safetensors({"weights": torch.ones(HIDDEN)})),
    Case("vector with unreadable provenance", [*STEER, "--prompt", "hi"], "unreadable provenance metadata",
         lambda tmp, kit: save_file({"direction": torch.ones(HIDDEN)}, str(tmp / "v.safetensors"),
                                    metadata={"norm": "1.0", "provenance": "{not json"})),
    Case("2-D direction tensor", [*STEER, "--prompt", "hi"], "must be 1-D",
         raw_safetensors({"direction": torch.ones(2, HIDDEN)}, norm="1.0")),
    Case("vector with an invalid recorded norm", [*STEER, "--prompt", "hi"], "invalid norm",
         raw_safetensors({"direction": torch.ones(HIDDEN)}, norm="-3")),
    Case("vector from a deeper model (site out of range)", [*STEER, "--prompt", "hi"], "layer 7 is out of range",
         vec(site="in:7")),
    # --- pairs and traits -----------------------------------------------------------------------
    Case("empty pairs file", EXTRACT_P, "file is empty", write_lines("pairs.jsonl", [], raw=b"")),
    Case("blank-lines-only pairs file", EXTRACT_P, "file is empty", write_lines("pairs.jsonl", [], raw=b"\n  \n\n")),
    Case("malformed JSON pairs file", EXTRACT_P, ("line 2", "invalid JSON"),
         write_lines("pairs.jsonl", [], raw=json.dumps(PAIRS[0]).encode() + b'\n{"positive": "a", \n')),
    Case("non-UTF-8 pairs file", EXTRACT_P, "not valid UTF-8",
         write_lines("pairs.jsonl", [], raw=b'{"positive": "caf\xe9", "negative": "bad"}\n')),
    Case("pairs file missing a field", EXTRACT_P, "field 'negative' is missing",
         write_lines("pairs.jsonl", [{"positive": "good"}, PAIRS[1]])),
    Case("pairs file with a misspelt field", EXTRACT_P, ("unknown field 'negatve'", "did you mean 'negative'"),
         write_lines("pairs.jsonl", [{"positive": "good", "negatve": "bad"}])),
    Case("pairs file holding a JSON array", EXTRACT_P, "expected a JSON object",
         write_lines("pairs.jsonl", [], raw=b"[1, 2]\n")),
    Case("only one pair", EXTRACT_P, "only 1 contrastive pair", write_lines("pairs.jsonl", PAIRS[:1])),
    Case("duplicate pairs", EXTRACT_P, ("line 3", "duplicate of line 1"),
         write_lines("pairs.jsonl", [PAIRS[0], PAIRS[1], {**PAIRS[0], "positive": "wonderful, thank you"}])),
    Case("positive equals negative", EXTRACT_P, "positive and negative are the same text",
         write_lines("pairs.jsonl", [{"positive": "Same.", "negative": "same"}, PAIRS[1]])),
    Case("missing pairs file", EXTRACT_P, ("pairs.jsonl", "missing")),
    Case("unreadable pairs file (EACCES)", EXTRACT_P, ("pairs.jsonl", "cannot read", "permission denied"), pairs_ok,
         unreadable("pairs.jsonl")),
    Case("unknown trait", [*EXTRACT, "--trait", "sarcasm"], "unknown trait 'sarcasm'"),
    Case("both --pairs and --trait", [*EXTRACT_P, "--trait", "sentiment"], "exactly one of --pairs", pairs_ok),
    Case("neither --pairs nor --trait", EXTRACT, "exactly one of --pairs"),
    # --- extraction options and outputs --------------------------------------------------------
    Case("unknown method", [*EXTRACT_P, "--method", "svd"], "unknown extraction method 'svd'", pairs_ok),
    Case("unknown pooling", [*EXTRACT_P, "--pooling", "max"], "unknown pooling 'max'", pairs_ok),
    Case("output path not .safetensors", [*EXTRACT_P[:-4], "--out", "{out}/v.pt", *EXTRACT_P[-2:]],
         "must end in .safetensors", pairs_ok),
    Case("output parent is a file", [*EXTRACT_P[:-4], "--out", "{tmp}/pairs.jsonl/v.safetensors", *EXTRACT_P[-2:]],
         ("pairs.jsonl", "a file is in the way"), pairs_ok),
    Case("unwritable output dir (EACCES)", EXTRACT_P, ("cannot write to", "permission denied"), pairs_ok,
         oserror_on("mkstemp", errno.EACCES)),
    Case("read-only output dir (EROFS on rename)", EXTRACT_P, ("cannot write to", "read-only file system"), pairs_ok,
         oserror_on("replace", errno.EROFS)),
    Case("disk full (ENOSPC)", EXTRACT_P, ("disk full", "v.safetensors"), pairs_ok, oserror_on("fsync", errno.ENOSPC)),
    # --- prompts and generation ----------------------------------------------------------------
    Case("empty --prompt", [*STEER, "--prompt", ""], "a --prompt is empty", vector_ok),
    Case("whitespace-only --prompt", [*STEER, "--prompt", "   "], "a --prompt is empty", vector_ok),
    Case("no --prompt", STEER, "no --prompt given", vector_ok),
    Case("prompt longer than the context window", [*STEER, "--prompt", LONG], "more than the model's context of 512",
         vector_ok),
    Case("prompt plus new tokens beyond the context window", [*STEER[:-1], "100", "--prompt", "x" * 450],
         ("context", "512"), vector_ok),
    Case("zero new tokens", [*STEER[:-1], "0", "--prompt", "hi"], "max_new_tokens must be ≥ 1", vector_ok),
    # --- usage ----------------------------------------------------------------------------------
    Case("unknown option", [*EXTRACT_P, "--bogus"], ("no such option: --bogus", "run 'steerid extract --help'"),
         pairs_ok),
    Case("unknown option of a sub-command", ["scorers", "train", "--bogus"],
         ("no such option: --bogus", "run 'steerid scorers train --help'")),
    Case("unknown command", ["extrakt", "tiny:llama"], ("no such command 'extrakt'", "run 'steerid --help'")),
    Case("option missing its value", [*EXTRACT_P, "--layer"], ("--layer", "requires an argument"), pairs_ok),
    Case("score: missing text file", ["score", "--trait", "sentiment_vader", "--file", "{tmp}/texts.txt"],
         "does not exist"),
    Case("score: non-UTF-8 text file", ["score", "--trait", "sentiment_vader", "--file", "{tmp}/texts.txt"],
         "not UTF-8", raw_file("texts.txt", b"caf\xe9 au lait\n")),
    Case("score: unknown trait", ["score", "--trait", "sarcasm", "--file", "{tmp}/texts.txt"], "sarcasm",
         raw_file("texts.txt", b"hello\n")),
    # --- audit configs (issue 8) ----------------------------------------------------------------
    Case("audit: profile typo", [*AUDIT, "--profile", "smok"], ("unknown profile 'smok'", "did you mean 'smoke'"),
         needs_audit=True),
    Case("audit: unknown config key", [*AUDIT, "--profile", "smoke", "--config", "{tmp}/cfg.yaml"],
         ("unknown key 'n_draw'", "did you mean 'n_draws'"), config_file("n_draw: 3\n"), needs_audit=True),
    Case("audit: unknown nested config key", [*AUDIT, "--profile", "smoke", "--config", "{tmp}/cfg.yaml"],
         "unknown key 'e1.n_prompt'", config_file("e1: {n_prompt: 5}\n"), needs_audit=True),
    Case("audit: config from a newer version", [*AUDIT, "--profile", "smoke", "--config", "{tmp}/cfg.yaml"],
         ("config_version 99", "upgrade steerid"), config_file("config_version: 99\n"), needs_audit=True),
    Case("audit: config is not valid YAML", [*AUDIT, "--profile", "smoke", "--config", "{tmp}/cfg.yaml"],
         "not valid YAML", config_file("alphas_rel: [0.5, 1.0\nseed: 3\n"), needs_audit=True),
    Case("audit: negative alpha in config", [*AUDIT, "--profile", "smoke", "--config", "{tmp}/cfg.yaml"],
         "alphas_rel", config_file("alphas_rel: [-0.5]\n"), needs_audit=True),
    Case("audit: NaN alpha in config", [*AUDIT, "--profile", "smoke", "--config", "{tmp}/cfg.yaml"],
         ("alphas_rel", "finite"), config_file("alphas_rel: [.nan]\n"), needs_audit=True),
    Case("audit: unreadable config file (EACCES)", [*AUDIT, "--profile", "smoke", "--config", "{tmp}/cfg.yaml"],
         ("cannot read config file", "permission denied"), config_file("seed: 1\n"), unreadable("cfg.yaml"),
         needs_audit=True),
    Case("audit: missing config file", [*AUDIT, "--profile", "smoke", "--config", "{tmp}/cfg.yaml"],
         "does not exist", needs_audit=True),
    Case("audit: unknown trait", ["audit", "tiny:llama", "--traits", "sarcasm", "--profile", "smoke",
                                  "--out", "{out}/run"], "unknown trait 'sarcasm'", needs_audit=True),
    Case("audit: layer out of range", [*AUDIT, "--profile", "smoke", "--config", "{tmp}/cfg.yaml"],
         "layer 9 is out of range", config_file("layers: [9]\n"), needs_audit=True),
    Case("audit: unknown executor", [*AUDIT, "--profile", "smoke", "--executor", "slurm"], "executor",
         needs_audit=True),
    Case("audit: empty --traits", ["audit", "tiny:llama", "--traits", " ", "--profile", "smoke", "--out", "{out}/run"],
         "--traits is empty", needs_audit=True),
    Case("identify: NaN vector", [*IDENTIFY, "--vector", "{tmp}/v.safetensors"], "contains NaN or inf",
         nan_vector(float("nan")), needs_audit=True),
    Case("identify: vector of the wrong hidden size", [*IDENTIFY, "--vector", "{tmp}/v.safetensors"],
         ("hidden size 16", "48"), vec(direction=np.eye(16)[0]), needs_audit=True),
    Case("identify: missing vector file", [*IDENTIFY, "--vector", "{tmp}/v.safetensors"], "does not exist",
         needs_audit=True),
    Case("identify: pickle passed as the vector", [*IDENTIFY, "--vector", "{tmp}/v.safetensors"], "pickle",
         torch_saved_vector, needs_audit=True),
    Case("identify: unknown experiment", [*IDENTIFY, "--vector", "{tmp}/v.safetensors", "--experiments", "e1,e9"],
         "e9", vector_ok, needs_audit=True),
    Case("identify: negative alpha", [*IDENTIFY, "--vector", "{tmp}/v.safetensors", "--alpha", "-0.5"],
         "alpha must be ≥ 0", vector_ok, needs_audit=True),
    Case("report: run directory does not exist", ["report", "{out}/run"], "does not exist", needs_audit=True),
    Case("report: directory without results.json", ["report", "{out}"], "has no results.json", needs_audit=True),
    Case("report: corrupt results.json", ["report", "{tmp}"], "not valid JSON", raw_file("results.json", b'{"units": ['),
         needs_audit=True),
    Case("audit: --out is a file", ["audit", "tiny:llama", "--traits", "truthfulness", "--profile", "smoke",
                                    "--out", "{tmp}/pairs.jsonl"], "not a directory", pairs_ok, needs_audit=True),
]


def _argv(case: Case, tmp: Path) -> list[str]:
    return [a.replace("{out}", str(tmp / "out")).replace("{tmp}", str(tmp)) for a in case.argv]


def _params():
    reason = audit_missing_reason()
    params = []
    for case in CASES:
        marks = list(case.marks)
        if case.needs_audit and reason:
            marks.append(pytest.mark.xfail(reason=reason, strict=False))
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


@pytest.fixture(scope="module")
def kit():
    return Kit(weights_hash=load_model("tiny:llama").info.weights_hash)


def _prepare(case: Case, tmp: Path, kit: Kit) -> list[str]:
    (tmp / "out").mkdir()
    if case.setup is not None:
        case.setup(tmp, kit)
    return _argv(case, tmp)


def _assert_nothing_left(tmp: Path) -> None:
    assert files_under(tmp / "out") == [], f"output left behind: {files_under(tmp / 'out')}"
    assert temp_leftovers(tmp) == [], f"temporary files left behind: {temp_leftovers(tmp)}"


def test_corpus_is_large_enough():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", _params())
def test_bad_input(case: Case, tmp_path: Path, kit: Kit, capsys, monkeypatch):
    argv = _prepare(case, tmp_path, kit)
    capsys.readouterr()
    if case.patch is not None:
        case.patch(monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    monkeypatch.undo()
    captured = capsys.readouterr()
    assert exit_info.value.code == 2, f"exit code {exit_info.value.code}; stderr: {captured.err}"
    assert_one_clear_line(captured.err, case.expect)
    _assert_nothing_left(tmp_path)


# ---------------------------------------------------------------------------------------------
# the same, as real processes


def _case(name: str) -> Case:
    return next(c for c in CASES if c.id == name)


REAL_PROCESS_CASES = ["corrupt checkpoint (garbage safetensors)", "pickle (torch.save) passed as a vector",
                      "prompt longer than the context window", "non-UTF-8 pairs file", "layer too large",
                      "vector of the wrong hidden size"]


def test_real_processes_print_one_line_and_no_traceback(zygote, tmp_path, kit):
    """What a terminal receives: each case in its own (forked) process with real stderr."""
    children = []
    for index, name in enumerate(REAL_PROCESS_CASES):
        case = _case(name)
        tmp = tmp_path / f"case{index}"
        tmp.mkdir()
        argv = _prepare(case, tmp, kit)
        children.append((case, tmp, zygote.spawn(argv, tmp, name=f"bad-input-{index}")))
    for case, tmp, child in children:
        rc = zygote.wait(child, timeout=120)
        out, err = child.read()
        assert rc == 2, f"{case.id}: exit {rc}\n{err}"
        assert_one_clear_line(err, case.expect)
        assert out == "", f"{case.id}: unexpected stdout {out!r}"
        _assert_nothing_left(tmp)


def test_hash_mismatch_is_a_warning_by_default(zygote, tmp_path, kit):
    """A vector from other weights: one warning line naming both models, exit 0, it still runs."""
    tmp = tmp_path
    kit.vector(tmp / "v.safetensors", weights_hash="deadbeef" * 8)
    rc, out, err = zygote.run(["steer", "tiny:llama", "--vector", str(tmp / "v.safetensors"), "--prompt", "hi",
                               "--max-new-tokens", "2"], tmp, name="hash-warning")
    assert rc == 0, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("steerid: warning: "), err
    assert "deadbeefdead" in lines[0] and "--strict" in lines[0]
    assert "+v" in out


def test_real_entry_point_usage_error(tmp_path):
    """The installed ``steerid`` script itself (not a fork): a usage error, one line, exit 2."""
    script = Path(sys.executable).with_name("steerid")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "steerid.cli"]
    proc = subprocess.run([*command, "extract", "--layer", "abc"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert_one_clear_line(proc.stderr, ("--layer", "valid integer"))
    assert proc.stdout == ""


def test_ctrl_c_inside_a_command_exits_130_with_one_line(tmp_path, kit, capsys, monkeypatch):
    """KeyboardInterrupt raised while a command runs (here: while the vector is read)."""
    kit.vector(tmp_path / "v.safetensors")

    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(SteeringVector, "load", interrupted)
    with pytest.raises(SystemExit) as info:
        main(["steer", "tiny:llama", "--vector", str(tmp_path / "v.safetensors"), "--prompt", "hi"])
    assert info.value.code == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.strip()] == ["steerid: interrupted"]
