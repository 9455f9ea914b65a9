"""SIGTERM (``kill -TERM``, what a job scheduler or ``timeout`` sends) is handled like Ctrl-C.

The smoke profile on ``tiny:llama`` (trait sentiment, scored by its embedding head; E1, E6 and E7:
6 units) runs once uninterrupted and once SIGTERMed after its first checkpoint line, then
resumed. The terminated run exits 143 with one line saying a rerun resumes (no traceback, lock
released) and the resumed ``results.json`` is byte-identical to the uninterrupted one — E6/E7
included, whose results used to carry wall times and whose scores used to depend (≈ 1e-7) on the
embeddings earlier units had cached in the process.
"""

from __future__ import annotations

import os
import signal

import pytest

from _reliability import AUDIT_TIMEOUT, audit_missing_reason, complete_lines, holds_flock, wait_for

pytestmark = pytest.mark.xfail(audit_missing_reason() is not None, reason=audit_missing_reason() or "",
                               strict=False)

CONFIG = """\
traits: [sentiment]
experiments: [e1, e6, e7]
"""
N_UNITS = 6  # sentiment × L1 × mean_diff: E1 α {0.5, 1} × 2 environments, E6 and E7 at α 0.5


def argv(run_dir, config) -> list[str]:
    return ["audit", "tiny:llama", "--profile", "smoke", "--config", str(config), "--out", str(run_dir), "--quiet"]


@pytest.fixture(scope="module")
def sigterm_runs(zygote, tmp_path_factory):
    root = tmp_path_factory.mktemp("sigterm")
    config = root / "cfg.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    ref, run = root / "ref", root / "run"
    reference = zygote.spawn(argv(ref, config), root, name="sigterm-ref")
    first = zygote.spawn(argv(run, config), root, name="sigterm-first")
    wait_for(lambda: complete_lines(run) >= 1, AUDIT_TIMEOUT, "the first checkpoint line")
    assert holds_flock(first.pid), first.read()[1]
    os.kill(first.pid, signal.SIGTERM)
    out = {"rc_term": zygote.wait(first, AUDIT_TIMEOUT), "err_term": first.read()[1],
           "lines_at_term": complete_lines(run)}
    rc, _, err = zygote.run(argv(run, config), root, name="sigterm-resume", timeout=AUDIT_TIMEOUT)
    out.update(rc_resume=rc, err_resume=err, rc_ref=zygote.wait(reference, AUDIT_TIMEOUT),
               err_ref=reference.read()[1], ref=ref, run=run)
    return out


def test_sigterm_exits_143_with_a_resume_hint_and_no_traceback(sigterm_runs):
    err = sigterm_runs["err_term"]
    assert sigterm_runs["rc_term"] == 143, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == "steerid: terminated", err
    assert "run the same command again to resume" in lines[-2], err
    assert 1 <= sigterm_runs["lines_at_term"] < N_UNITS


def test_sigterm_resume_is_byte_identical(sigterm_runs):
    assert sigterm_runs["rc_ref"] == 0, sigterm_runs["err_ref"]
    assert sigterm_runs["rc_resume"] == 0, sigterm_runs["err_resume"]
    ref, run = sigterm_runs["ref"], sigterm_runs["run"]
    assert complete_lines(ref) == complete_lines(run) == N_UNITS
    assert (run / "results.json").read_bytes() == (ref / "results.json").read_bytes()
    assert (run / "results.parquet").read_bytes() == (ref / "results.parquet").read_bytes()
