"""Progress of an audit: rich bars (overall + current unit, with a cost-weighted ETA) or log lines.

The ETA of a unit is ``cost(unit) · seconds_done / cost_done`` — the units' rough relative costs
(:attr:`steerid.audit.grid.Unit.cost`) scaled by the measured speed of the units finished so far.
With ``quiet`` each finished unit is one line on stderr instead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from steerid.audit.grid import Unit


class EtaColumn(ProgressColumn):
    """Remaining time of a task from its ``estimate`` field (total seconds), ``eta ?`` before any unit ran."""

    def render(self, task):  # type: ignore[override]
        estimate = task.fields.get("estimate")
        if estimate is None:
            return Text("eta ?", style="progress.remaining")
        remaining = max(0.0, estimate - (task.elapsed or 0.0))
        return Text(f"eta ~{int(remaining) // 60}:{int(remaining) % 60:02d}", style="progress.remaining")


class Reporter:
    """Progress display: rich bars (overall + current unit with ETA) on a terminal or in a notebook;
    log lines with ``quiet`` or when the console writes to a file or a pipe."""

    def __init__(self, units: list[Unit], quiet: bool, console: Any = None) -> None:
        self.units = units
        self.quiet = quiet
        self.total_cost = sum(u.cost for u in units) or 1.0
        self.done_cost = 0.0
        self.done_seconds = 0.0
        self.n_done = 0
        self.start = time.perf_counter()
        self.progress = None
        self.console = console
        self._unit_task = None

    def __enter__(self) -> "Reporter":
        console = self.console or Console(stderr=True)
        # bars only where they redraw in place (a terminal or a notebook); written to a log file or a
        # pipe they would come out as lines of "━━━ 16… 0:… eta ~0…", so print one plain line per unit
        live = bool(getattr(console, "is_terminal", False) or getattr(console, "is_jupyter", False))
        if not self.quiet and self.units and live:
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), EtaColumn(),
                                     console=console, transient=False, redirect_stdout=False, redirect_stderr=False)
            self.progress.__enter__()
            self._overall = self.progress.add_task("audit", total=len(self.units), estimate=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(None, None, None)

    def _estimate(self, unit: Unit) -> float | None:
        if self.done_cost <= 0:
            return None
        return unit.cost * self.done_seconds / self.done_cost

    def _overall_estimate(self) -> float | None:
        if self.done_cost <= 0:
            return None
        return (time.perf_counter() - self.start) * self.total_cost / self.done_cost

    def started(self, unit: Unit, index: int) -> Callable[[str], None]:
        if self.progress is None:
            return lambda _stage: None
        if self._unit_task is not None:
            self.progress.remove_task(self._unit_task)
        stages = ["model", "vector", "experiment", "done"]
        self._unit_task = self.progress.add_task(f"  {unit.label}", total=len(stages), estimate=self._estimate(unit))

        def step(stage: str) -> None:
            if stage in stages and self.progress is not None and self._unit_task is not None:
                self.progress.update(self._unit_task, completed=stages.index(stage) + 1,
                                     description=f"  {unit.label} [{stage}]")

        return step

    def finished(self, unit: Unit, seconds: float, status: str) -> None:
        self.n_done += 1
        self.done_cost += unit.cost
        self.done_seconds += seconds
        if self.progress is not None:
            self.progress.update(self._overall, advance=1, estimate=self._overall_estimate())
        else:
            note = "" if status == "ok" else f" ({status})"
            print(f"steerid: [{self.n_done}/{len(self.units)}] {unit.label}: {seconds:.1f} s{note}",
                  file=sys.stderr, flush=True)
