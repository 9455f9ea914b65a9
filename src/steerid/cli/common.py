"""What every command module shares: the typer app, the consoles, option types and choice parsers.

Choices (``--method``, ``--pooling``, ``--device`` ...) are declared once, as a parser that
typer runs while parsing the command line: an unknown value is a usage error *before* any work,
printed by :func:`steerid.cli.main` as one line ``steerid: error: Invalid value for '--method':
unknown extraction method 'svd' — fix: use one of: mean_diff, pca, probe, lda`` with exit code 2.
(typer's own ``Literal`` / ``Enum`` choices would do the parsing too, but their message names
neither the kind of value nor the fix.)

Tables: :data:`console` renders at the natural width of what it prints when stdout is not a
terminal (a pipe, a file), so ``steerid traits | cat`` keeps whole cells whatever ``COLUMNS``
says; on a narrow terminal, :func:`new_table` keeps the name column whole (``no_wrap`` with a
minimum width) and lets the other columns fold (headers included: no "…").
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.table import Table

from steerid.errors import VectorError
from steerid.experiments.registry import names as experiment_names

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Extract, apply and audit the identifiability of activation steering vectors.")

PIPED_WIDTH = 1000
"""Width a non-terminal stdout renders at: wider than any table, so cells are never cut."""


class PipeAwareConsole(Console):
    """A rich console that, writing to a non-terminal, renders at :data:`PIPED_WIDTH` columns."""

    @property
    def size(self) -> ConsoleDimensions:
        dims = Console.size.fget(self)  # type: ignore[attr-defined]
        if not self.is_terminal:
            return ConsoleDimensions(max(dims.width, PIPED_WIDTH), dims.height)
        return dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


console = PipeAwareConsole()
err_console = Console(stderr=True)


def new_table(title: str, columns: Sequence[str], *, names: Sequence[str] = (), left: Sequence[str] = (),
              **kwargs: Any) -> Table:
    """A table whose first column (its names, e.g. trait names) is never wrapped or cut.

    Args:
        columns: column headers; the first one is left-aligned, the others right-aligned unless
            listed in ``left``.
        names: the first column's values, to size its minimum width.
    """
    table = Table(title=title, **kwargs)
    width = max([len(columns[0]), *(len(n) for n in names)]) if columns else 0
    for index, col in enumerate(columns):
        if index == 0:
            table.add_column(col, no_wrap=True, min_width=width)
        else:
            table.add_column(col, justify="left" if col in left else "right", overflow="fold")
    return table


# --------------------------------------------------------------------------------------------
# choices


class ChoiceError(typer.BadParameter):
    """A bad option value, with the fix :func:`steerid.cli.main` prints after it."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


def choice(noun: str, values: Sequence[str], *, aliases: Sequence[str] = (), fix: str | None = None
           ) -> Callable[[str], str]:
    """A typer ``parser``: the value if it is one of ``values`` (or ``aliases``), else a :class:`ChoiceError`."""
    allowed = (*values, *aliases)

    def parse(value: str) -> str:
        if value in allowed:
            return value
        raise ChoiceError(f"unknown {noun} '{value}'", fix or f"use one of: {', '.join(values)}")

    return parse


def comma_list(noun: str, values: Sequence[str], *, fix: str | None = None) -> Callable[[Any], tuple[str, ...]]:
    """A typer ``parser`` of ``a,b,c`` into a tuple, every item one of ``values``, at least one."""

    def parse(value: Any) -> tuple[str, ...]:
        if isinstance(value, tuple):
            return value
        items = tuple(item.strip() for item in str(value).split(",") if item.strip())
        bad = [item for item in items if item not in values]
        if bad or not items:
            raise ChoiceError(f"unknown or unusable {noun}(s) {bad or list(items)}",
                              fix or f"use some of: {', '.join(values)}")
        return items

    return parse


def metavar(values: Sequence[str]) -> str:
    return "[" + "|".join(values) + "]"


def choice_option(flag: str, noun: str, values: Sequence[str], help: str, *, aliases: Sequence[str] = (),
                  fix: str | None = None) -> Any:
    """``typer.Option(flag, parser=choice(...))`` with the choices as its metavar."""
    return typer.Option(flag, parser=choice(noun, values, aliases=aliases, fix=fix), metavar=metavar(values), help=help)


DTYPES = ("auto", "float32", "bfloat16", "float16")
DTYPE_ALIASES = ("fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")

ModelArg = Annotated[str, typer.Argument(help="smollm2-135m (default), gemma3-270m, tiny:<family>, a local HF dir or a hub id")]
DtypeOpt = Annotated[str, choice_option("--dtype", "dtype", DTYPES, "auto = bfloat16 on CUDA, float32 on the CPU",
                                        aliases=DTYPE_ALIASES, fix="use --dtype auto, float32 or bfloat16")]
DeviceOpt = Annotated[str, choice_option("--device", "device", DEVICES, "auto = CUDA when available, else the CPU")]
TrustOpt = Annotated[bool, typer.Option("--trust-remote-code", help="allow model code from the checkpoint (off by default)")]


# --------------------------------------------------------------------------------------------
# helpers


def quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import transformers  # the model stack: imported by the commands that need it, not by --help

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def load(model: str, dtype: str = "auto", trust_remote_code: bool = False, device: str = "auto"):
    """Load ``model`` with a status spinner; ``device`` / ``dtype`` ``auto`` resolve as in :func:`load_model`."""
    quiet_libraries()
    from steerid.models import load_model  # deferred: the model stack costs ~5 s to import

    with err_console.status(f"loading {model}…"):
        return load_model(model, dtype=dtype, trust_remote_code=trust_remote_code, device=device)


def check_alpha(alpha: float) -> float:
    if not math.isfinite(alpha):
        raise VectorError(f"alpha must be a finite number, got {alpha}", "pass e.g. --alpha 8")
    if alpha < 0:
        raise VectorError(f"alpha must be ≥ 0, got {alpha}", "use --compare to see the −v condition")
    return alpha


# Choice lists known without importing their modules (extract/registry and recover/pipeline pull
# in the numerical stack); tests/cli/test_cli.py checks that they equal the registries.
EXTRACT_METHODS = ("mean_diff", "pca", "probe", "lda")
POOLINGS = ("last", "mean")
POINTS = ("in", "out")
CONSTRAINTS = ("gauge", "sparse", "multienv", "crosslayer", "ica")
EXECUTORS = ("local", "ray")
IDENTIFY_EXPERIMENTS = experiment_names(given_vector=True)  # the registry is light: it imports no experiment
