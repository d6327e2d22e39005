"""Helpers for the exactness suite (issue 13), not a test module: run a program as ``python
prog.py`` and through eagerexec, and reduce both runs to the same comparable fields.

The fields: stdout, stderr (the temp paths normalised, nothing else), the exit status (as a shell sees it), and the
error (type, message, the program's frames as (line, function)). ``python prog.py`` runs in a
fresh temp directory as ``program.py`` (the worker's file name), with stdin from /dev/null; for
the docker backend it runs in the backend's image with the image's interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from eagerexec import BatchEnded, Chunker, Event, Result, Session

PROGRAM = "program.py"
# a path ending in program.py, as tracebacks, warnings and __file__ print it
_PATH = re.compile(r"[^\s\"':]*/program\.py")
_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<name>.+))?$', re.M)
_REPEATED = re.compile(r"^  \[Previous line repeated (\d+) more times?\]$")
_LAST = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?:: (?P<message>.*))?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Observed:
    """One run, reduced to the fields the suite compares."""

    stdout: str
    stderr: str
    status: int
    error_type: str | None = None
    error_message: str | None = None
    frames: tuple[tuple[int, str], ...] = ()

    def differences(self, other: Observed) -> list[str]:
        """The names of the fields that differ."""
        names = ("stdout", "stderr", "status", "error_type", "error_message", "frames")
        return [n for n in names if getattr(self, n) != getattr(other, n)]


def shell_status(code: int) -> int:
    """An exit status as a shell sees it: death by signal N is 128 + N (``docker run`` reports
    it so; ``subprocess`` says -N)."""
    return 128 - code if code < 0 else code


def normalise(text: str) -> str:
    """Temp paths only: every ``.../program.py`` becomes ``<DIR>/program.py``."""
    return _PATH.sub("<DIR>/program.py", text)


def parse_error(stderr: str) -> tuple[str, str | None, str | None, tuple[tuple[int, str], ...]]:
    """Split Python's stderr into (what precedes the final error report, type, message, frames).

    The report is the last ``Traceback (most recent call last):`` block with everything it
    chains, or a ``SyntaxError`` report (``  File "...", line N`` then the source and carets).
    """
    lines = stderr.splitlines(keepends=True)
    if not lines:
        return stderr, None, None, ()
    m = _LAST.match(lines[-1].rstrip("\n"))
    if m is None or lines[-1].startswith(" ") or not (m.group("type").endswith(("Error", "Exception", "Interrupt", "Exit", "Warning")) or "Traceback" in stderr):
        return stderr, None, None, ()
    # where the report starts: the first "Traceback" of the final chain, or the syntax error's File line
    start = None
    for k in range(len(lines) - 1, -1, -1):
        if lines[k].startswith("Traceback (most recent call last):"):
            start = k
            # include exceptions chained before it
            while start >= 3 and lines[start - 1].strip() == "" and lines[start - 2].startswith(
                ("The above exception", "During handling")
            ):
                j = start - 3
                while j > 0 and not lines[j].startswith("Traceback (most recent call last):"):
                    j -= 1
                start = j
            break
    if start is None:
        for k in range(len(lines) - 1, -1, -1):
            if _FRAME.match(lines[k].rstrip("\n")):
                start = k
                break
    if start is None:
        return stderr, None, None, ()
    report = "".join(lines[start:])
    tail = report[report.rfind("Traceback (most recent call last):") :] if "Traceback" in report else report
    frames: list[tuple[int, str]] = []
    shown = False  # the last frame printed was the program's
    for line in tail.splitlines():
        f = _FRAME.match(line)
        if f is not None:
            shown = f.group("file").endswith("/" + PROGRAM)
            if shown:
                frames.append((int(f.group("line")), f.group("name") or "<module>"))
            continue
        r = _REPEATED.match(line)
        if r is not None and shown and frames:  # the traceback's abbreviation, expanded
            frames.extend([frames[-1]] * int(r.group(1)))
    return "".join(lines[:start]), m.group("type").rsplit(".", 1)[-1], m.group("message"), tuple(frames)


def run_python(code: str, workdir: Path, *, docker_image: str | None = None) -> Observed:
    """``python program.py`` in ``workdir`` (stdin from /dev/null)."""
    (workdir / PROGRAM).write_text(code, encoding="utf-8")
    if docker_image is None:
        argv = [sys.executable, PROGRAM]
    else:
        os.chmod(workdir, 0o777)
        argv = ["docker", "run", "--rm", "--network", "none", "-v", f"{workdir}:/w", "-w", "/w", docker_image, "python3", PROGRAM]
    # no PYTHON* settings of the host, and no coverage: under coverage a plain `python` finalizes
    # differently at exit (it is the reference, so it must run as a user runs it)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "COVERAGE"))}
    proc = subprocess.run(argv, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=120)
    stdout = normalise(proc.stdout.decode("utf-8", "replace"))
    stderr = normalise(proc.stderr.decode("utf-8", "replace"))
    status = shell_status(proc.returncode)
    _, etype, message, frames = parse_error(stderr)
    if status == 0 or etype is None or etype == "SystemExit":  # the program did not raise
        return Observed(stdout=stdout, stderr=stderr, status=status)
    return Observed(
        stdout=stdout, stderr=stderr, status=status, error_type=etype, error_message=message or "", frames=frames
    )


def observe(result: Result) -> Observed:
    """A pipeline ``Result`` reduced like a ``python`` run: its traceback joins stderr, as
    ``python`` prints it there; status 1 when the program raised."""
    stderr = result.stderr
    err = result.error
    status = shell_status(result.exit_code) if result.exit_code is not None else (1 if err is not None else 0)
    stdout = normalise(result.stdout)
    if err is None or (err.type == "SystemExit"):
        return Observed(stdout=stdout, stderr=normalise(stderr), status=status)
    stderr = normalise(stderr if err.printed else stderr + err.traceback)
    if err.printed and parse_error(stderr)[1] is None:
        # the program's sys.excepthook showed the error its own way: as for python's run, there is
        # no report on stderr to compare
        return Observed(stdout=stdout, stderr=stderr, status=status)
    frames = tuple(
        (f.line, f.name) for f in err.frames if f.filename.endswith("/" + PROGRAM) and f.line is not None
    )
    if err.origin == "syntax" and err.line is not None:
        frames = ((err.line, "<module>"),)
    return Observed(
        stdout=stdout, stderr=stderr, status=status, error_type=err.type, error_message=err.message or "", frames=frames
    )


def eager_syntax_prefix(code: str) -> str | None:
    """The text before the first statement that does not compile (None when all compile)."""
    chunker = Chunker(filename=PROGRAM)
    for chunk in chunker.feed(code) + chunker.close():
        if chunk.error is not None:
            return code[: chunk.offset]
    return None


def statements(code: str) -> list[str]:
    """The program cut at its statements (the slow rate's deltas)."""
    chunker = Chunker()
    return [c.text for c in chunker.feed(code) + chunker.close()]


async def slowly(deltas: list[str], pause: float) -> AsyncIterator[str]:
    """One delta at a time, with a pause before each but the first (a slow model)."""
    for k, delta in enumerate(deltas):
        if k:
            await asyncio.sleep(pause)
        yield delta


async def paced(deltas: list[str], ran: asyncio.Event, patience: float) -> AsyncIterator[str]:
    """One delta at a time; before each but the first, wait until a batch ran (or ``patience``
    seconds, for a statement that runs later, such as a definition kept for the next batch), so
    that in eager mode each statement is a batch of its own whatever the backend's speed."""
    for k, delta in enumerate(deltas):
        if k:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ran.wait(), patience)
            ran.clear()
        yield delta


async def run_eager(code: str, *, backend: str, mode: str, rate: str, workdir: Path, **options: object) -> Result:
    """One run of ``code`` on a fresh session, ended as ``python`` ends a program.

    ``rate``: ``fast`` gives the whole text at once (one batch); ``slow`` one statement per
    delta, each a batch of its own in eager mode (serial mode waits for the end anyway)."""
    ran = asyncio.Event()

    def on_event(event: Event) -> None:
        if isinstance(event, BatchEnded):
            ran.set()

    if rate == "fast":
        source: object = code
    elif mode == "serial":
        source = slowly(statements(code), 0.01)
    else:
        source = paced(statements(code), ran, 0.2)
    options.setdefault("show_traceback", True)  # where python prints it, in order (jupyter ignores it)
    async with Session(backend, mode=mode, workdir=workdir, timeout=60, **options) as session:  # type: ignore[arg-type]
        return await session.run(source, last=True, on_event=on_event)  # type: ignore[arg-type]
