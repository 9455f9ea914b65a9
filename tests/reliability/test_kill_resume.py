"""Guarantees 2, 4 and 5 (audit part) — kill and resume, the run-directory lock, determinism.

One small audit (the ``smoke`` profile on ``tiny:llama``, trait ``truthfulness`` whose scorers are
rule-based, E1 + likelihood: 6 units) is run as separate processes (forks of a pre-imported
server, see ``_zygote.py``) and SIGKILLed at scripted points:

* after the 1st checkpoint line appears;
* on resume, after the 3rd line — and while that resumed run holds the lock, a second audit on
  the same directory is started and must be refused with one clear line;
* then the last checkpoint line is cut in half by hand (a write torn by a crash) and a resumed
  run is killed again after the 5th line;
* a resumed run gets SIGINT (Ctrl-C) once it holds the lock: exit 130, one line, no traceback;
* a final resume completes the audit.

Its ``results.json`` must be byte-identical to an uninterrupted run's (and two uninterrupted
runs must agree byte for byte: determinism), the torn line must be reported and its unit redone,
and a corrupt line that is *not* the last one must stop the run instead of being used.

The scripted sequence itself is the session fixture ``audit_runs`` in ``conftest.py`` (the
security tests reuse its results to render a report).
"""

from __future__ import annotations

import json
import signal

import pytest

from _reliability import (AUDIT_TIMEOUT, N_UNITS, assert_one_clear_line, audit_argv, audit_missing_reason,
                          complete_lines, incomplete_final_files)

pytestmark = pytest.mark.xfail(audit_missing_reason() is not None, reason=audit_missing_reason() or "",
                               strict=False)


@pytest.fixture(scope="module")
def runs(audit_runs):
    return audit_runs


def test_uninterrupted_runs_complete(runs):
    chain = runs["chain"]
    for name, key in (("reference", "ref"), ("twin", "twin")):
        assert chain.rc[name] == 0, chain.stderr[name]
        assert (runs[key] / "results.json").is_file()
        assert complete_lines(runs[key]) == N_UNITS


def test_same_config_and_seed_give_identical_results(runs):
    """Determinism: two separate uninterrupted runs write the same bytes."""
    assert (runs["ref"] / "results.json").read_bytes() == (runs["twin"] / "results.json").read_bytes()


def test_sigkilled_audit_resumes_to_byte_identical_results(runs):
    chain = runs["chain"]
    assert [rc for _, rc in chain.kills] == [-signal.SIGKILL] * 3, chain.kills
    assert chain.rc["final"] == 0, chain.stderr["final"]
    assert (runs["run"] / "results.json").read_bytes() == (runs["ref"] / "results.json").read_bytes()
    assert (runs["run"] / "results.parquet").read_bytes() == (runs["ref"] / "results.parquet").read_bytes()
    ref_vectors = sorted((runs["ref"] / "vectors").iterdir())
    run_vectors = sorted((runs["run"] / "vectors").iterdir())
    assert [p.name for p in ref_vectors] == [p.name for p in run_vectors]
    for a, b in zip(ref_vectors, run_vectors):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} differs after resume"


def test_resume_skips_finished_units(runs):
    chain = runs["chain"]
    done = chain.lines_before_final
    assert 5 <= done < N_UNITS, chain.kills
    assert f"{N_UNITS - done} unit(s) run, {done} already done" in chain.stderr["final"], chain.stderr["final"]


def test_ctrl_c_exits_130_with_one_line_and_releases_the_lock(runs):
    """SIGINT while the audit runs: exit code 130, ``steerid: interrupted`` as the last line, no
    traceback; the final resume could take the lock afterwards."""
    chain = runs["chain"]
    err = chain.stderr["sigint"]
    assert chain.rc["sigint"] == 130, err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.strip()][-1] == "steerid: interrupted", err
    assert chain.rc["final"] == 0


def test_torn_last_checkpoint_line_is_reported_and_redone(runs):
    chain = runs["chain"]
    assert "torn" in chain.stderr["after_tear"], chain.stderr["after_tear"]
    lines = (runs["run"] / "checkpoint.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == N_UNITS and len({r["unit_id"] for r in records}) == N_UNITS
    assert chain.torn_unit in {r["unit_id"] for r in records}


def test_second_audit_on_the_same_directory_is_refused(runs):
    chain = runs["chain"]
    assert chain.rc["intruder"] == 2, chain.stderr["intruder"]
    assert_one_clear_line(chain.stderr["intruder"], ("another steerid audit is running", str(runs["run"])))


def test_no_partial_file_under_a_final_name_at_any_kill(runs):
    """Right after each SIGKILL every file under its final name was complete, and so is the
    finished run."""
    assert runs["chain"].incomplete == []
    assert incomplete_final_files(runs["run"]) == []
    finals = {p.name for p in runs["run"].iterdir()}
    assert {"results.json", "results.parquet", "config.yaml", "checkpoint.jsonl"} <= finals


def test_changed_config_in_the_same_directory_is_refused(runs, zygote):
    """The same --out with another seed: refused with the changed key named; the run is untouched."""
    other = runs["root"] / "cfg-seed.yaml"
    other.write_text(runs["config"].read_text(encoding="utf-8") + "seed: 7\n", encoding="utf-8")
    before = (runs["run"] / "results.json").read_bytes()
    rc, out, err = zygote.run(audit_argv(runs["run"], other), runs["root"], name="audit-changed", timeout=AUDIT_TIMEOUT)
    assert rc == 2, err
    assert_one_clear_line(err, ("different config", "seed", "--force"))
    assert (runs["run"] / "results.json").read_bytes() == before


# ---------------------------------------------------------------------------------------------
# damaged checkpoints: a bad last line is redone, a bad earlier line stops the run


def _records(run_dir):
    return (run_dir / "checkpoint.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)


def _tamper(line: str) -> str:
    """The same JSON record with one result value changed (its checksum no longer matches)."""
    record = json.loads(line)
    record["result"] = {"tampered": True, **record["result"]} if isinstance(record["result"], dict) else [record["result"]]
    return json.dumps(record, sort_keys=True) + "\n"


@pytest.mark.parametrize("damage", ["torn", "checksum", "garbage"])
def test_bad_last_line_is_dropped_never_used(runs, tmp_path, damage):
    from steerid.audit.checkpoint import Checkpoint

    lines = _records(runs["ref"])
    last = json.loads(lines[-1])["unit_id"]
    bad = {"torn": lines[-1][: len(lines[-1]) // 2], "checksum": _tamper(lines[-1]),
           "garbage": "\x00\x01 not json\n"}[damage]
    (tmp_path / "checkpoint.jsonl").write_text("".join(lines[:-1]) + bad, encoding="utf-8")
    checkpoint = Checkpoint(tmp_path)
    assert checkpoint.dropped == 1
    assert last not in checkpoint and len(checkpoint.results) == N_UNITS - 1
    assert _records(tmp_path) == lines[:-1], "the bad line must be removed from the file"


def test_last_line_without_its_newline_is_kept(runs, tmp_path):
    from steerid.audit.checkpoint import Checkpoint

    lines = _records(runs["ref"])
    (tmp_path / "checkpoint.jsonl").write_text("".join(lines)[:-1], encoding="utf-8")
    checkpoint = Checkpoint(tmp_path)
    assert checkpoint.dropped == 0 and len(checkpoint.results) == N_UNITS
    assert _records(tmp_path) == lines


@pytest.mark.parametrize("damage", ["checksum", "garbage"])
def test_bad_earlier_line_stops_the_run(runs, tmp_path, damage):
    from steerid.audit.checkpoint import Checkpoint
    from steerid.errors import OutputError

    lines = _records(runs["ref"])
    lines[1] = _tamper(lines[1]) if damage == "checksum" else "{not json\n"
    (tmp_path / "checkpoint.jsonl").write_text("".join(lines), encoding="utf-8")
    with pytest.raises(OutputError, match="line 2 is corrupt"):
        Checkpoint(tmp_path)


def test_cli_refuses_a_checkpoint_damaged_in_the_middle(runs, zygote, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs["ref"], run)
    lines = _records(run)
    lines[2] = _tamper(lines[2])
    (run / "checkpoint.jsonl").write_text("".join(lines), encoding="utf-8")
    results = (run / "results.json").read_bytes()
    rc, out, err = zygote.run(audit_argv(run, runs["config"]), tmp_path, name="audit-corrupt-middle",
                              timeout=AUDIT_TIMEOUT)
    assert rc == 2, err
    assert_one_clear_line(err, ("checkpoint.jsonl line 3 is corrupt", "--force"))
    assert (run / "results.json").read_bytes() == results
