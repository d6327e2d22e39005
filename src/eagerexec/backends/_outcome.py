"""Results of one backend call: frozen, slotted, keyword-only value objects.

Times (``started_at``/``ended_at``, ``OutputEvent.time``) are read in the worker with
``time.monotonic()``. On Linux that clock is system-wide, so the host, a bubblewrap sandbox and a
Docker container share it and the pipeline can place worker times on its own timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ExecError", "ExecRequest", "Outcome", "OutputCallback", "OutputEvent", "TracebackFrame"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecRequest:
    """One backend call: the one request type every backend accepts.

    Attributes:
        code: Python code (one or more complete top-level statements).
        first_line: the 1-based line of ``code`` in the whole program, so that tracebacks and
            ``SyntaxError`` lines refer to the whole program.
        timeout: seconds before the call is interrupted (None: the backend's own timeout); with
            ``split_at``, each part (statement) gets the whole timeout.
        figures: save the figures left open (and changed) at the end of the call. A caller that
            runs a program in many calls may capture only after the last one.
        split_at: whole-program lines where later parts of ``code`` start (the statements of a
            batch); each part is timed on its own (``Outcome.part_times``) where the backend can.
        more: more code follows after a wait (the model is still writing): the session may do
            housekeeping in the wait (worker backends run a due garbage collection).
        end: the program ends after this call, as ``python prog.py`` ends: after ``code`` ran,
            non-daemon threads are joined and ``atexit`` handlers run (their output belongs to
            this call), and the interpreter exits; the next call starts a fresh one.
        show_traceback: an exception the code does not catch is printed on the program's stderr
            as ``python prog.py`` prints it (through ``sys.excepthook``), in order with the rest
            of the call's stderr; the outcome's error then says ``printed``. Without it the
            traceback is only in ``ExecError.traceback`` (unless the program set its own
            ``sys.excepthook``: that is always called, as Python calls it, and ``printed`` set).
        notebook: notebook output: the value of each top-level expression statement that is not
            None is shown (the REPL rule), ``display(obj)`` is available, figures are shown
            with ``plt.show()``; each arrives as an ``OutputEvent`` of kind ``result`` or
            ``display`` carrying its MIME bundle. Once asked, a worker session keeps it on.
    """

    code: str
    first_line: int = 1
    timeout: float | None = None
    figures: bool = True
    split_at: tuple[int, ...] = ()
    more: bool = False
    end: bool = False
    show_traceback: bool = False
    notebook: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TracebackFrame:
    """One frame of a traceback; ``line`` is in whole-program coordinates for the program file.

    ``in_program``: the frame is in the program's own file (not a library, not the stdlib).
    """

    filename: str
    line: int | None
    name: str
    source: str | None = None
    in_program: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecError:
    """An exception raised by the generated program (or its SyntaxError at compile time).

    Attributes:
        type: the exception's qualified type name, e.g. ``ZeroDivisionError``.
        message: ``str(exception)``.
        traceback: the formatted traceback, as Python would print it, line numbers and source
            lines of the whole program.
        line: the failing line of the whole program (innermost frame in the program file).
        line_text: that line's source, stripped.
        frames: the traceback's frames, outermost first.
        printed: the session already wrote this error on the call's stderr, as Python does
            (``ExecRequest.show_traceback``, or the program's own ``sys.excepthook``): it is in
            ``Outcome.stderr``, and whoever shows the output must not print it a second time.
        internal: the session's worker itself failed (a bug or a broken interpreter), not the
            program: ``type`` is then ``eagerexec.WorkerError`` (never a type the program can
            raise), ``message`` says what the worker raised, ``traceback`` is the worker's own
            and there are no program frames. The program's state is intact; report it as a
            backend failure, not as the program's error.
    """

    type: str
    message: str
    traceback: str = ""
    line: int | None = None
    line_text: str | None = None
    frames: tuple[TracebackFrame, ...] = ()
    printed: bool = False
    internal: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data (``internal`` only when set)."""
        data: dict[str, Any] = {
            "type": self.type,
            "message": self.message,
            "line": self.line,
            "line_text": self.line_text,
            "traceback": self.traceback,
        }
        if self.internal:
            data["internal"] = True
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputEvent:
    """Output produced while a call runs, delivered to the ``on_output`` callback.

    ``kind`` is ``stdout``, ``stderr`` or ``figure``; for ``figure`` ``data`` is the PNG path.
    In notebook mode (``ExecRequest.notebook``) also ``display`` (``display(obj)``, a figure
    shown) and ``result`` (the value of a top-level expression statement): ``bundle`` is the
    MIME bundle ({mime: value}, ``text/plain`` always, binary types base64) and ``data`` its
    ``text/plain``. ``skipped``: characters the output limit dropped just before ``data`` (the
    head of a call's output is delivered live, its tail when the call ends).
    """

    kind: Literal["stdout", "stderr", "figure", "display", "result"]
    data: str
    time: float
    skipped: int = 0
    bundle: dict[str, Any] | None = None


OutputCallback = Callable[[OutputEvent], None]
"""Receives each ``OutputEvent`` of a backend session as it happens."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What one ``execute()`` call did.

    Attributes:
        error: None when the code ran to the end; otherwise what it raised. A ``sys.exit(n)``
            with n not in (0, None) is an error of type ``SystemExit`` *and* sets ``exit_code``.
        stdout, stderr: text written during the call; past the backend's ``max_output`` only
            its head and tail are kept, with a marker line saying how much was dropped.
        figures: PNG paths of the matplotlib figures left open at the end of the call.
        started_at, ended_at: worker-side ``time.monotonic()`` at the start and end of the call.
        exit_code: set when the program called ``sys.exit``/raised ``SystemExit``: the status a
            ``python file.py`` run would exit with (0 for ``sys.exit()``). The program stopped.
        survived: False when the session's interpreter died during the call.
        exit_status: the dead worker's exit status (negative: killed by that signal).
        timed_out: the call hit its timeout and was interrupted (or killed).
        state_lost: the session was restarted during or because of this call; its state is gone.
        fresh_session: this call ran on a new session because the previous one had died.
        truncated: output was dropped at the backend's limit (``max_output``).
        part_times: with ``execute(split_at=...)``, the worker-side (start, end) of each part that
            ran, in order (compile included); empty when the call was not split or the backend
            cannot time parts.
    """

    error: ExecError | None = None
    stdout: str = ""
    stderr: str = ""
    figures: tuple[str, ...] = ()
    started_at: float = 0.0
    ended_at: float = 0.0
    exit_code: int | None = None
    survived: bool = True
    exit_status: int | None = None
    timed_out: bool = False
    state_lost: bool = False
    fresh_session: bool = False
    truncated: bool = False
    part_times: tuple[tuple[float, float], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the call ran without error and the session survived."""
        return self.error is None and self.survived

    @property
    def stopped(self) -> bool:
        """True when the program asked to stop (``sys.exit``) or cannot go on."""
        return self.exit_code is not None or not self.ok

    @property
    def duration(self) -> float:
        return max(0.0, self.ended_at - self.started_at)
