"""Every ``steerid …`` line of the README's shell blocks parses against the CLI's own options.

Each line is split like a shell would (comments dropped, ``\\`` continuations joined) and handed to
the typer app's click command with ``make_context``: an unknown command or option, a missing
value, or a value a choice parser refuses fails the test. Nothing runs (no model is loaded).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from steerid.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_cli_lines() -> list[str]:
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            command = line.split(" #", 1)[0].strip()
            if command.startswith("steerid "):
                lines.append(command)
    return lines


def parse(argv: list[str]) -> str:
    """The command path ``argv`` resolves to; raises click's usage errors like the CLI would."""
    command = typer.main.get_command(app)
    ctx = command.make_context("steerid", list(argv))
    path = ["steerid"]
    while isinstance(command, typer.core.TyperGroup):  # a group: descend into its subcommand
        rest = [*(getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", None) or []), *ctx.args]
        assert rest, f"no subcommand in {argv}"
        name, rest = rest[0], rest[1:]
        sub = command.get_command(ctx, name)
        assert sub is not None, f"unknown command {name!r} in {' '.join(argv)}"
        path.append(name)
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return " ".join(path)


LINES = readme_cli_lines()


def test_the_readme_has_a_quick_tour() -> None:
    assert len(LINES) >= 10 and any(line.startswith("steerid audit") for line in LINES)


@pytest.mark.parametrize("line", LINES)
def test_readme_line_matches_the_cli(line: str) -> None:
    argv = shlex.split(line)[1:]
    path = parse(argv)
    assert path.split()[1] == argv[0], path


@pytest.mark.parametrize("bad", ["extract --trait sentiment --layr 15", "steer --alpha 8 --compares",
                                 "identify --experiments e9", "nosuchcommand"])
def test_the_check_catches_a_wrong_line(bad: str) -> None:
    with pytest.raises(Exception) as info:
        parse(shlex.split(bad))
    assert not isinstance(info.value, AssertionError) or "unknown command" in str(info.value)
