"""Command-line interface: ``steerid info / traits / extract / steer / identify / audit / report ...``.

Every user mistake surfaces as a :class:`~steerid.errors.SteerIdError` (or a usage error) and is
printed as ONE line on stderr — the problem and its fix — with exit code 2 and no traceback.

Modules: :mod:`~steerid.cli.common` (the app, consoles, option types, choice parsers),
:mod:`~steerid.cli.info` (``info``, ``traits``, ``layers``), :mod:`~steerid.cli.vectors`
(``extract``, ``steer``, ``recover``, ``recover-bench``), :mod:`~steerid.cli.scoring`
(``scorers train / validate``, ``score``) and :mod:`~steerid.cli.auditing` (``audit``,
``identify``, ``report``). Importing a command module registers its commands on :data:`app`.
The console entry point is :func:`main` (``steerid = "steerid.cli:main"``).
"""

from __future__ import annotations

import logging
import sys

import typer
from typer import exceptions as typer_exceptions

# importing a command module registers its commands; this order is the order of `steerid --help`
from steerid.cli import info, vectors, scoring, auditing  # noqa: F401, I001
from steerid.cli.common import app, console, err_console
from steerid.errors import SteerIdError

__all__ = ["app", "console", "err_console", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning user errors into one line on stderr and exit code 2."""
    logging.basicConfig(level=logging.WARNING, format="steerid: warning: %(message)s", stream=sys.stderr)
    command = typer.main.get_command(app)
    try:
        # without standalone mode, typer turns Ctrl-C (KeyboardInterrupt) and typer.Exit(n) into a
        # *returned* exit code instead of raising: honour it, or an interrupted run would exit 0
        code = command.main(args=argv, prog_name="steerid", standalone_mode=False)
        if code == 130:
            print("steerid: interrupted", file=sys.stderr)
            sys.exit(130)
        if isinstance(code, int) and not isinstance(code, bool) and code != 0:
            sys.exit(code)
    except SteerIdError as exc:
        print(f"steerid: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("steerid: interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer_exceptions.TyperException as exc:  # usage errors: unknown option, bad value, missing argument
        context = getattr(exc, "ctx", None)
        path = getattr(context, "command_path", None) or "steerid"  # e.g. "steerid scorers train"
        hint = getattr(exc, "fix", None) or f"run '{path} --help'"  # a choice's own fix (common.ChoiceError)
        formatter = getattr(exc, "format_message", None)
        message = " ".join((formatter() if callable(formatter) else str(exc)).split())
        if not message:  # bare `steerid`: help was printed
            sys.exit(0)
        print(f"steerid: error: {message} — fix: {hint}", file=sys.stderr)
        sys.exit(2)
