"""In-process ``steerid`` CLI runs for the API tests: exit code and captured output."""

from __future__ import annotations

from typing import NamedTuple

from steerid.cli import main


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``steerid.cli.main(argv)``; a clean return is exit 0."""
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class Output(NamedTuple):
    """Captured stdout and stderr of one CLI run."""

    out: str
    err: str


def run_ok(argv: list[str], capsys) -> Output:
    """Captured output of ``steerid.cli.main(argv)``, which must exit 0 (its stderr is the failure message)."""
    code, out, err = run_main(argv, capsys)
    assert code == 0, err
    return Output(out, err)
