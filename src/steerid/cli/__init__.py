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
import signal
import sys
import threading
from typing import NoReturn

import typer
from typer import exceptions as typer_exceptions

# importing a command module registers its commands; this order is the order of `steerid --help`
from steerid.cli import info, vectors, scoring, auditing  # noqa: F401, I001
from steerid.cli.common import app, console, err_console
from steerid.errors import SteerIdError

__all__ = ["app", "console", "err_console", "main"]


RESUMABLE = ("audit", "identify")
"""Commands whose run directory keeps finished units: a rerun of the same command resumes."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs (hooks removed, lock released)."""


_signals: dict[str, bool] = {"terminated": False}


def _on_sigterm(signum: int, frame: object) -> None:
    if _signals["terminated"]:  # a repeated SIGTERM while cleaning up: let the clean-up finish
        return
    _signals["terminated"] = True  # typer turns any KeyboardInterrupt into a returned 130: remember which
    raise Terminated()


def _stopped(argv: list[str] | None, terminated: bool) -> NoReturn:
    """Say that the run was stopped (and, for a resumable command, that a rerun resumes); exit 143 or 130."""
    words = sys.argv[1:] if argv is None else argv
    if next((word for word in words if not word.startswith("-")), None) in RESUMABLE:
        print("steerid: finished units are saved in the run directory — run the same command again to resume",
              file=sys.stderr)
    print("steerid: terminated" if terminated else "steerid: interrupted", file=sys.stderr)
    sys.exit(128 + (signal.SIGTERM if terminated else signal.SIGINT))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning user errors into one line on stderr and exit code 2.

    Ctrl-C (SIGINT) exits 130 and SIGTERM exits 143 (128 + the signal), both after the same
    clean-up and with one line saying so; an audit or identify run then resumes when rerun.
    """
    logging.basicConfig(level=logging.WARNING, format="steerid: warning: %(message)s", stream=sys.stderr)
    command = typer.main.get_command(app)
    previous = None
    if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread only
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    _signals["terminated"] = False
    try:
        # without standalone mode, typer turns Ctrl-C (KeyboardInterrupt, and so Terminated) and
        # typer.Exit(n) into a *returned* exit code instead of raising: honour it, or an
        # interrupted run would exit 0
        try:
            code = command.main(args=argv, prog_name="steerid", standalone_mode=False)
        except (Terminated, typer.Abort):
            code = 130
        if code == 130:
            _stopped(argv, _signals["terminated"])
        if isinstance(code, int) and not isinstance(code, bool) and code != 0:
            sys.exit(code)
    except SteerIdError as exc:
        print(f"steerid: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:  # a signal while an error was being reported
        _stopped(argv, _signals["terminated"])
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
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
