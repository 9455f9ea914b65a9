"""User-facing error families.

Every mistake a user can make maps to one subclass of :class:`SteerIdError`. The message is
one line that names the problem *and* the fix; the CLI prints it to stderr and exits with 2.
"""

from __future__ import annotations


class SteerIdError(Exception):
    """Base class: a user error with a one-line message that names the problem and a fix."""

    exit_code = 2

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        message = problem if fix is None else f"{problem} — fix: {fix}"
        super().__init__(" ".join(message.split()))


class ModelError(SteerIdError):
    """Unknown model spec, missing weights, corrupt checkpoint, hub unreachable."""


class SiteError(SteerIdError):
    """Layer out of range or unknown site point / architecture."""


class VectorError(SteerIdError):
    """NaN/inf/zero vector, wrong hidden size, model mismatch, unreadable vector file."""


class DataError(SteerIdError):
    """Empty, malformed or non-UTF-8 prompt/pair/trait files, duplicates, unknown trait."""


class ConfigError(SteerIdError):
    """Bad audit config: unknown profile, invalid value, newer config version, changed config."""


class OutputError(SteerIdError):
    """Output directory unwritable, disk full, or locked by another run."""


class ScorerError(SteerIdError):
    """Scorer missing, untrained or given unusable input."""
