"""Progress written to a file or a pipe is plain lines, never rich bar frames."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from steerid.audit.progress import Reporter


def run(console: Console) -> None:
    units = [SimpleNamespace(cost=1.0, label=f"e1 · sentiment · unit {i}") for i in range(2)]
    with Reporter(units, quiet=False, console=console) as reporter:  # type: ignore[arg-type]
        for index, unit in enumerate(units):
            step = reporter.started(unit, index)
            step("experiment")
            reporter.finished(unit, 0.5, "ok")


def test_non_terminal_console_gets_one_plain_line_per_unit(capsys) -> None:
    log = io.StringIO()
    run(Console(file=log, force_terminal=False, force_jupyter=False))
    err = capsys.readouterr().err
    assert "━" not in log.getvalue() + err and "eta" not in log.getvalue() + err
    assert [line for line in err.splitlines() if line.startswith("steerid: [")] == [
        "steerid: [1/2] e1 · sentiment · unit 0: 0.5 s", "steerid: [2/2] e1 · sentiment · unit 1: 0.5 s"]


def test_terminal_console_still_draws_bars(capsys) -> None:
    screen = io.StringIO()
    run(Console(file=screen, force_terminal=True, width=100))
    assert "━" in screen.getvalue() and "steerid: [" not in capsys.readouterr().err
