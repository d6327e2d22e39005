"""The CLI's one error shape, and the checks that produce it.

Strategy: every usage error of every subcommand ends the same way, through ``fail``: one line
``eager: error: MESSAGE`` on stderr and exit status 2, never a traceback. ``EagerGroup`` (the
``eager`` group) runs click in non-standalone mode so that click's own usage errors (unknown
option, missing argument, bad value) and the library's ``UsageError`` family
(``UnknownOptionError``, ``UnknownBackendError``, ``MissingExtraError`` naming the extra) and
``BackendError`` reach ``fail`` instead of click's multi-line report. ``Number`` is a click type
for finite floats (``inf`` and ``nan`` are refused); ``read_source`` reads a program file or
fails with one line (missing, a directory, unreadable, not UTF-8, binary).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from .._exceptions import EagerError

__all__ = ["EagerGroup", "Number", "fail", "read_source"]


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
    """A finite float, optionally bounded below (``min``, exclusive when ``min_open``)."""

    name = "number"

    def __init__(self, min: float | None = None, *, min_open: bool = False) -> None:
        self.min = min
        self.min_open = min_open

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """Parse ``value``; refuse what is not a finite number at or above ``min``."""
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
        return number


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
            sys.exit(130)
        except click.ClickException as exc:
            fail(exc.format_message())
        except EagerError as exc:  # UsageError family, BackendError, SourceError, BenchError
            fail(str(exc))
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)
