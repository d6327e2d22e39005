"""Jupyter messages -> eagerexec values: the pure half of the jupyter backend.

The kernel's ``error`` content becomes an ``ExecError``: ANSI codes are stripped, the
``Cell In[n], line k`` / ``File path:line`` headers of IPython's traceback become frames, and the
context lines of the padding the backend puts in front of each cell (so that cell lines are
program lines) are dropped; the program's frames (file ``PROGRAM_FILENAME``) get ``in_program``.
Timestamps, ``SystemExit`` values and the capped output of one call live here too. No I/O.
"""

from __future__ import annotations

import datetime as _dt
import re
import time
from typing import Any

from ._outcome import ExecError, TracebackFrame
from ._output import OutputCap

__all__ = [
    "PROGRAM_FILENAME",
    "Collected",
    "exec_error",
    "exit_code_of",
    "exit_status",
    "monotonic_offset",
    "one_line",
    "strip_ansi",
    "wall_seconds",
]

PROGRAM_FILENAME = "<program>"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_CELL_HEADER = re.compile(r"^\s*Cell In\[(\d+)\], line (\d+)(?:, in ([^\s(]+))?")
_FILE_HEADER = re.compile(r"^\s*File (.+?):(\d+)(?:, in ([^\s(]+))?")
_CONTEXT_LINE = re.compile(r"^(-*>)?\s*(\d+)(?: (.*))?$")
_SYNTAX_FILE = re.compile(r"\((?:[^()]*\.py), line (\d+)\)$")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def monotonic_offset() -> float:
    """``time.time() - time.monotonic()``, read tightly bracketed."""
    best: tuple[float, float] | None = None
    for _ in range(5):
        m0 = time.monotonic()
        wall = time.time()
        m1 = time.monotonic()
        if best is None or (m1 - m0) < best[0]:
            best = (m1 - m0, wall - (m0 + m1) / 2)
    assert best is not None
    return best[1]


def wall_seconds(value: Any) -> float | None:
    """A Jupyter timestamp (datetime or ISO string) as POSIX seconds, or None."""
    if isinstance(value, _dt.datetime):
        stamp = value
    elif isinstance(value, str):
        try:
            stamp = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=_dt.UTC)
    return stamp.timestamp()


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_C_LONG_LONG = 1 << 63


def exit_status(code: int) -> int:
    """The status ``python file.py`` exits with for ``sys.exit(code)``, ``code`` an int (or a
    bool): its low byte, as the OS keeps it (256 -> 0, -1 -> 255); beyond a C ``long long``
    Python exits with -1, so 255."""
    return code & 0xFF if -_C_LONG_LONG <= code < _C_LONG_LONG else 0xFF


def exit_code_of(evalue: str) -> int:
    """The status ``python file.py`` exits with for a ``SystemExit`` whose ``str()`` is
    ``evalue``: 0 for ``None``, an int's (or a bool's) ``exit_status``, else 1 (Python prints the
    value on stderr). From the text alone ``sys.exit('5')`` reads as ``sys.exit(5)``: Python
    kernels get the exact status from the backend's setup instead (``PYTHON_SETUP``, below)."""
    text = evalue.strip()
    if text in ("", "None", "False"):
        return 0
    if text == "True":
        return 1
    try:
        return exit_status(int(text))
    except ValueError:
        return 1


class Collected:
    """Everything one call's messages carried; output goes through one ``OutputCap`` per stream
    (the one output limit: head passed on live, tail at the end of the call)."""

    def __init__(self, limit: int) -> None:
        self.caps: dict[str, OutputCap] = {"stdout": OutputCap(limit), "stderr": OutputCap(limit)}
        self.figures: list[str] = []
        self.error: dict[str, Any] | None = None
        self.exec_count: int | None = None
        self.idle = False
        self.notebook = False  # the call asked for notebook output (rich bundles, not stdout)

    def add(self, kind: str, text: str) -> str:
        """Take ``text`` of stream ``kind``; return the part to pass on live (the head)."""
        return self.caps[kind].feed(text)

    def tail(self, kind: str) -> tuple[str, int]:
        """The call is over: stream ``kind``'s tail and the characters dropped before it."""
        return self.caps[kind].take_tail()

    def text(self, kind: str) -> str:
        """Everything kept of stream ``kind``, with the marker where output was dropped."""
        return self.caps[kind].text()

    @property
    def truncated(self) -> bool:
        """Output of this call was dropped."""
        return any(cap.dropped for cap in self.caps.values())


def exec_error(
    content: dict[str, Any], cell_first_line: dict[int, int], program_lines: dict[int, str]
) -> ExecError:
    """An ``error`` message/reply as an ``ExecError`` in whole-program coordinates.

    Args:
        content: the message content (``ename``, ``evalue``, ``traceback``).
        cell_first_line: execution count -> the program line the cell's source starts at.
        program_lines: program line -> its text, for every line run so far.

    Returns:
        The error; the traceback is stripped of ANSI codes and of the cells' padding lines.
    """
    ename = str(content.get("ename", "Error"))
    evalue = str(content.get("evalue", ""))
    blocks = [strip_ansi(str(b)) for b in content.get("traceback", []) or []]
    frames: list[TracebackFrame] = []
    cleaned: list[str] = []
    line: int | None = None
    for block in blocks:
        lines = block.split("\n")
        header = _CELL_HEADER.match(lines[0]) if lines else None
        if header is not None:
            count, lineno = int(header.group(1)), int(header.group(2))
            shift = cell_first_line.get(count, 1)
            kept = [lines[0]]
            for text in lines[1:]:
                ctx = _CONTEXT_LINE.match(text)
                if ctx is not None and int(ctx.group(2)) < shift:
                    continue  # our padding, not the program
                kept.append(text)
            block = "\n".join(kept)
            line = lineno
            frames.append(
                TracebackFrame(
                    filename=PROGRAM_FILENAME,
                    line=lineno,
                    name=header.group(3) or "<module>",
                    source=program_lines.get(lineno),
                    in_program=True,
                )
            )
        else:
            fheader = _FILE_HEADER.match(lines[0]) if lines else None
            if fheader is not None:
                frames.append(
                    TracebackFrame(
                        filename=fheader.group(1),
                        line=int(fheader.group(2)),
                        name=fheader.group(3) or "<module>",
                    )
                )
        cleaned.append(block)
    message = evalue
    if ename in ("SyntaxError", "IndentationError", "TabError"):
        found = _SYNTAX_FILE.search(evalue)
        if found is not None:
            line = int(found.group(1)) if line is None else line
            message = evalue[: found.start()] + f"({PROGRAM_FILENAME}, line {found.group(1)})"
        frames = []
    line_text = program_lines.get(line) if line is not None else None
    return ExecError(
        type=ename,
        message=message,
        traceback="\n".join(cleaned).rstrip("\n") + "\n" if cleaned else "",
        line=line,
        line_text=line_text.strip() if line_text is not None else None,
        frames=tuple(frames),
    )


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
"""A line as Python's tokenizer ends one: at ``\n``, ``\r\n`` or ``\r`` only (never at U+2028, a
form feed... as ``str.splitlines`` does)."""


def program_lines(code: str) -> list[str]:
    """``code``'s lines, without their ends, cut where Python cuts them."""
    return [line.rstrip("\r\n") for line in _LINE.findall(code)]


def split_parts(code: str, first_line: int, split_at: tuple[int, ...]) -> list[tuple[str, int]]:
    """``code`` cut at the whole-program lines ``split_at`` (ignored unless increasing and inside
    the code): [(text, its first line), ...]."""
    lines = _LINE.findall(code)
    bounds = [line - first_line for line in split_at]
    if not bounds or bounds != sorted(set(bounds)) or bounds[0] <= 0 or bounds[-1] >= len(lines):
        return [(code, first_line)]
    starts, ends = [0, *bounds], [*bounds, len(lines)]
    return [("".join(lines[a:b]), first_line + a) for a, b in zip(starts, ends, strict=True)]


# -- kernel-side set-up (Python kernels) ---------------------------------------------------
# An uncaught SystemExit as `python file.py` ends with it (Python's _Py_HandleSystemExit): None
# is status 0, an int its low byte (-1 beyond a C long long), anything else is printed on stderr
# and is status 1. IPython only reports it; this post_run_cell hook (run before ipykernel reads the
# error for its reply) prints what Python would print and leaves SystemExit(status) as the cell's
# error, so the reply's evalue is the exact status (the IOPub error keeps the original value).
# Kernel-side code: any Python 3 the kernel runs; it must never raise.
_EXIT_HOOK = """\
def _eager_exit(result=None):
    e = getattr(result, 'error_in_exec', None)
    if not isinstance(e, SystemExit):
        return
    try:
        code = e.code
        if code is None:
            status = 0
        elif isinstance(code, int):
            status = code & 255 if -2**63 <= code < 2**63 else 255
        else:
            import sys
            status = 1
            print(code, file=sys.stderr)
            sys.stderr.flush()
    except Exception:
        status = 1
    result.error_in_exec = SystemExit(status)
get_ipython().events.register('post_run_cell', _eager_exit)
del _eager_exit
"""
PYTHON_SETUP = (
    "import warnings as _eager_w\n"
    "_eager_w.filterwarnings('ignore', message='To exit: use')\n"
    "del _eager_w\n"
    # program semantics, as under `python file.py`: expression statements are not echoed
    "get_ipython().ast_node_interactivity = 'none'\n" + _EXIT_HOOK
)
"""Run silently in a Python kernel at start and after each restart."""
