"""The CLI's one error shape, and the checks that produce it.

Strategy: every usage error of every subcommand ends the same way, through ``fail``: one line
``eager: error: MESSAGE`` on stderr and exit status 2, never a traceback. ``EagerGroup`` (the
``eager`` group) runs click in non-standalone mode so that click's own usage errors (unknown
option, missing argument, bad value) and the library's ``UsageError`` family
(``UnknownOptionError``, ``UnknownBackendError``, ``MissingExtraError`` naming the extra) and
``BackendError`` reach ``fail`` instead of click's multi-line report. ``Number`` is a click type
for finite floats in a range (``inf`` and ``nan`` are refused), ``Count`` one for whole numbers
(``1e6`` accepted); ``read_source`` reads a program file or fails with one line (missing, a
directory, unreadable, not UTF-8, binary). ``dumps`` is the one JSON writer: always valid JSON
(non-finite floats become null). ``interruptible`` runs the work of a command so that Ctrl-C
(SIGINT, through the event loop's signal handling) cancels it cleanly instead of unwinding a
``KeyboardInterrupt`` through it: the caller then prints what it has and exits 130.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import signal
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, NoReturn, TypeVar

import click

from .._exceptions import EagerError

__all__ = [
    "INTERRUPTED_STATUS",
    "Count",
    "EagerGroup",
    "Interruptible",
    "Number",
    "dumps",
    "fail",
    "finite",
    "interruptible",
    "read_source",
]

INTERRUPTED_STATUS = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells report it."""

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    """Print ``eager: error: MESSAGE`` (one line) on stderr and exit with status 2.

    Args:
        message: the error; runs of whitespace (newlines included) are folded into one space.

    Raises:
        SystemExit: always, with status 2.
    """
    click.echo(f"eager: error: {' '.join(message.split())}", err=True)
    sys.exit(2)


class Number(click.ParamType[float]):
    """A finite float, optionally bounded below (``min``, exclusive when ``min_open``) and above
    (``max``, inclusive)."""

    name = "number"

    def __init__(self, min: float | None = None, *, min_open: bool = False, max: float | None = None) -> None:
        self.min = min
        self.min_open = min_open
        self.max = max

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """Parse ``value``; refuse what is not a finite number in range."""
        if isinstance(value, float | int) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.min is not None and (number < self.min or (self.min_open and number == self.min)):
            bound = f"> {self.min:g}" if self.min_open else f">= {self.min:g}"
            self.fail(f"{value!r} must be {bound}", param, ctx)
        if self.max is not None and number > self.max:
            self.fail(f"{value!r} must be <= {self.max:g}", param, ctx)
        return number


class Count(click.ParamType[int]):
    """A whole number at or above ``min`` (written ``4194304``, ``4e6`` or ``4_000_000``)."""

    name = "integer"

    def __init__(self, min: int = 0) -> None:
        self.min = min

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """Parse ``value``; refuse what is not a whole number >= ``min``."""
        if isinstance(value, int) and not isinstance(value, bool):
            count = value
        else:
            text = str(value).strip()
            try:
                count = int(text)
            except ValueError:
                try:
                    number = float(text)
                except ValueError:
                    self.fail(f"{value!r} is not a whole number", param, ctx)
                if not math.isfinite(number) or number != int(number):
                    self.fail(f"{value!r} is not a whole number", param, ctx)
                count = int(number)
        if count < self.min:
            self.fail(f"{value!r} must be >= {self.min}", param, ctx)
        return count


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (inf, nan) inside it replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, *, indent: int | None = 2) -> str:
    """Valid JSON for ``value`` (RFC 8259: no ``Infinity``/``NaN``; those become null).

    Args:
        value: JSON-able data.
        indent: as ``json.dumps``.

    Returns:
        The JSON text.
    """
    return json.dumps(finite(value), indent=indent, allow_nan=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Interruptible(Generic[T]):
    """What ``interruptible`` returns: the work's value, or ``interrupted`` (Ctrl-C)."""

    value: T | None
    interrupted: bool


async def interruptible(work: Coroutine[Any, Any, T]) -> Interruptible[T]:
    """Run ``work`` as a task that the first SIGINT (Ctrl-C) cancels.

    The work unwinds through its own ``finally``/``async with`` blocks (sessions close, their
    workers are reaped and their temporary directories removed) while the loop keeps running, so
    the caller can still print what the work recorded. A second Ctrl-C during that clean-up
    raises ``KeyboardInterrupt`` as usual. Where the loop cannot handle signals (not the main
    thread, Windows), ``work`` simply runs.

    Args:
        work: the command's coroutine.

    Returns:
        ``Interruptible(value=..., interrupted=False)`` when it finished, or
        ``Interruptible(value=None, interrupted=True)`` when Ctrl-C cancelled it.

    Raises:
        Whatever ``work`` raises (other than its cancellation by Ctrl-C).
    """
    loop = asyncio.get_running_loop()
    task = loop.create_task(work)
    hit = asyncio.Event()

    def on_sigint() -> None:
        hit.set()
        task.cancel()
        with contextlib.suppress(Exception):  # the next Ctrl-C interrupts the clean-up itself
            loop.remove_signal_handler(signal.SIGINT)

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):
        installed = False
    try:
        return Interruptible(value=await task, interrupted=False)
    except asyncio.CancelledError:
        if not hit.is_set():
            raise
        return Interruptible(value=None, interrupted=True)
    finally:
        if installed and not hit.is_set():
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signal.SIGINT)


def read_source(file: str) -> str:
    """The text of the program file ``file`` (UTF-8, an optional BOM dropped).

    Args:
        file: a path.

    Returns:
        The file's text.

    Raises:
        SystemExit: (through ``fail``) when the file is missing, a directory, unreadable, not
            UTF-8, or binary (it holds NUL bytes, which Python refuses in source code).
    """
    path = Path(file)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        fail(f"no such file: {file}")
    except IsADirectoryError:
        fail(f"{file} is a directory, not a program file")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    if b"\0" in data:
        fail(f"{file} is a binary file (it holds NUL bytes), not Python source")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(f"{file} is not valid UTF-8: {exc.reason} at byte {exc.start}")


class EagerGroup(click.Group):
    """The ``eager`` group: every usage error ends as one ``eager: error:`` line and status 2."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; see ``click.Group.main``.

        Exit status: what the subcommand exits with; 2 for usage errors (click's or the
        library's) and backend errors; 130 when interrupted. ``eager`` alone prints the help
        on stderr and exits 2, as click does.
        """
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # `eager` alone: the help, as click does
            click.echo(exc.ctx.get_help() if exc.ctx is not None else str(exc), err=True)
            sys.exit(2)
        except click.Abort:
            click.echo("eager: interrupted", err=True)
            sys.exit(INTERRUPTED_STATUS)
        except click.ClickException as exc:
            fail(exc.format_message())
        except EagerError as exc:  # UsageError family, BackendError, SourceError, BenchError
            fail(str(exc))
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)
