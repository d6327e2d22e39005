"""The code tool every framework adapter shares: streamed tool-call arguments in, a running
eagerexec run out, its result cached by tool-call id until the framework asks for it.

Strategy: an agent framework streams the model's tool call (its JSON argument pieces) long before
it calls the tool. ``CodeToolSession`` owns one ``eagerexec.Session`` per agent run (state
persists across tool calls and turns). ``begin(call_id)`` opens a ``ToolCall``: its argument
pieces go through an ``asyncio.Queue`` into an async generator that decodes the ``code`` string
exactly (``JsonStringExtractor``; ``raw=True`` for tools whose input is the code itself) and is
the source of ``session.run`` in a background task, so statements run as the arguments stream.
Tool calls run one after another, in the order they began (runs share the interpreter). The
moment a statement fails (``BatchEnded.error``), the pipeline stops the source and the session's
``on_error(call_id, error)`` hook fires: that is the adapter's signal to cancel the model's
stream. When the framework finally invokes the tool, ``result(call_id)`` awaits the cached
``Result`` (or, for a call that was never streamed, runs the code it is given), and
``format_result`` renders what the model reads: the output (head and tail within the one output
limit; in notebook mode the displayed values' text in program order with the prints) and, on
failure, the error type, message, failing line and a short traceback, with the statements after
it said not to have run.

The API (small on purpose; the LangGraph and smolagents adapters use it too):

* ``CodeToolSession(backend="sandbox", *, on_error=None, max_output=..., timeout=..., **options)``:
  an async context manager; ``begin(call_id, raw=False) -> ToolCall``; ``get(call_id)``;
  ``await result(call_id, code=None) -> Result``; ``await output(call_id, code=None) -> str``
  (the text for the model; ``NOT_RUN`` for a call skipped because an earlier one failed);
  ``await run_code(code) -> Result``;
  ``end_all()`` (the response is over), ``cancel_all()`` (the user stopped the turn);
  ``session`` (the ``eagerexec.Session``), ``results`` (every finished run, in order).
* ``ToolCall``: ``feed(piece)``, ``end()``, ``cancel()``, ``error`` (the ``RunError`` as soon as
  known), ``failed`` (an ``asyncio.Event``), ``skipped`` (a call begun after a failed one gets
  no code: nothing of it runs, its result is empty), ``await wait() -> Result``, ``code_so_far``.
* ``format_result(result) -> str``; ``TOOL_NAME``, ``TOOL_DESCRIPTION``, ``CODE_SCHEMA``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Self

from ..backends import Backend
from ..pipeline import BatchEnded, Event, Result, RunError, Session
from ..sources import JsonStringExtractor

__all__ = [
    "CODE_SCHEMA",
    "NOT_RUN",
    "TOOL_DESCRIPTION",
    "TOOL_NAME",
    "CodeToolSession",
    "ErrorHook",
    "ToolCall",
    "format_result",
]

TOOL_NAME = "run_python"
TOOL_DESCRIPTION = (
    "Run Python code in a persistent sandboxed interpreter and return its output. Statements run "
    "as they are written, top to bottom; variables, imports and files persist across calls. Print "
    "what you want to see. If a statement raises, the statements after it do not run and the "
    "error is returned."
)
CODE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"code": {"type": "string", "description": "The Python code to run."}},
    "required": ["code"],
    "additionalProperties": False,
}

DEFAULT_TOOL_OUTPUT = 16_000
"""Characters of stdout (and of stderr) the model gets back per call: head and tail kept."""

_TRACEBACK_FRAMES = 4

NOT_RUN = "not run: a statement of an earlier call in this response failed"

ErrorHook = Callable[[str, RunError], None]
"""``on_error(call_id, error)``: a statement of that call failed; stop the model's stream."""

_END: Any = object()


class ToolCall:
    """One streamed code tool call running in a ``CodeToolSession`` (made by ``begin``)."""

    def __init__(self, owner: CodeToolSession, call_id: str, *, raw: bool, after: asyncio.Task[Any] | None) -> None:
        self.call_id = call_id
        self.raw = raw
        self.failed = asyncio.Event()
        """Set the moment a statement of this call fails (or its arguments are not JSON)."""
        self.error: RunError | None = None
        self.skipped = False
        """Nothing of it runs (its result is empty) because a call begun before it failed."""
        self._owner = owner
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._ended = False
        self._parts: list[str] = []
        self._task = asyncio.get_running_loop().create_task(self._go(after), name=f"eagerexec tool {call_id}")

    @property
    def code_so_far(self) -> str:
        """The code decoded from the arguments received so far."""
        return "".join(self._parts)

    @property
    def done(self) -> bool:
        """The run is over (its result is ready)."""
        return self._task.done()

    def feed(self, piece: str) -> None:
        """Add a piece of the tool call's arguments (JSON text, or code when ``raw``).

        Pieces after ``end()`` or after a failure are ignored.
        """
        if piece and not self._ended:
            self._queue.put_nowait(piece)

    def end(self) -> None:
        """The arguments are complete: the run finishes with what it has."""
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(_END)

    def cancel(self) -> None:
        """Abandon the call: the running statement is interrupted; ``wait`` raises
        ``CancelledError``."""
        self.end()
        self._task.cancel()

    async def wait(self) -> Result:
        """The run's ``Result`` (waits for the arguments to end and the last statement to run).

        Raises:
            asyncio.CancelledError: the call was cancelled.
            BackendError: the backend could not run at all.
        """
        return await asyncio.shield(self._task)

    async def _deltas(self) -> AsyncIterator[str]:
        extractor = None if self.raw else JsonStringExtractor("code")
        while True:
            piece = await self._queue.get()
            if self.skipped:
                return
            if piece is _END:
                break
            code = piece if extractor is None else extractor.feed(piece)
            if code:
                self._parts.append(code)
                yield code
        if extractor is not None:
            tail = extractor.close()
            if tail:
                self._parts.append(tail)
                yield tail

    def _on_event(self, event: Event) -> None:
        if isinstance(event, BatchEnded) and event.error is not None and self.error is None:
            self._fail(event.error)

    def _fail(self, error: RunError) -> None:
        self.error = error
        self.end()  # wakes the source's pending read: the pipeline is stopping it
        self.failed.set()
        self._owner._skip_after(self)
        if self._owner.on_error is not None:
            self._owner.on_error(self.call_id, error)

    async def _go(self, after: asyncio.Task[Any] | None) -> Result:
        if after is not None:
            await asyncio.wait([after])  # one run at a time, in the order the calls began
        result = await self._owner._run(self._deltas(), self._on_event)
        if result.error is not None and self.error is None:
            self._fail(result.error)  # a source error (arguments that are not JSON)
        self.end()
        return result


class CodeToolSession:
    """One eagerexec session per agent run, fed by streamed code tool calls.

    Args:
        backend: backend name (default ``sandbox``; ``local``, ``docker``, ``jupyter``) or instance.
        on_error: called as ``on_error(call_id, error)`` the moment a statement of a call fails
            (from the event loop; must not block): cancel the model's stream there.
        max_output: characters of stdout (and of stderr) kept per call, head and tail.
        timeout: seconds each backend call may run.
        **options: other ``Session`` and backend options (``workdir=``, ``python=``...).
    """

    def __init__(
        self,
        backend: str | Backend = "sandbox",
        *,
        on_error: ErrorHook | None = None,
        max_output: int = DEFAULT_TOOL_OUTPUT,
        timeout: float | None = 60.0,
        **options: Any,
    ) -> None:
        if not isinstance(backend, Backend) and "pool" not in options:
            options["max_output"] = max_output
        self.session = Session(backend, timeout=timeout, **options)
        self.on_error = on_error
        self.results: list[Result] = []
        """Every finished run, in order."""
        self._calls: dict[str, ToolCall] = {}
        self._last: asyncio.Task[Any] | None = None
        self._anon = 0
        self._delivered: set[str] = set()

    async def __aenter__(self) -> Self:
        await self.session.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel the calls still running and close the session (reaps the interpreter)."""
        for call in self._calls.values():
            if not call.done:
                call.cancel()
        tasks = [c._task for c in self._calls.values()]
        if tasks:
            await asyncio.wait(tasks)
            for task in tasks:
                if not task.cancelled():
                    task.exception()  # retrieved (recorded or raised by wait() already)
        await self.session.aclose()

    def begin(self, call_id: str | None = None, *, raw: bool = False) -> ToolCall:
        """Start a tool call whose arguments are about to stream.

        Args:
            call_id: the framework's id for the call (a fresh one when None).
            raw: the pieces are the code itself, not JSON arguments ``{"code": ...}``.

        Returns:
            The ``ToolCall`` to ``feed`` and ``end``. A call id seen before returns its call,
            unless its result was already delivered by ``result`` (then a new call starts).
        """
        if call_id is None:
            self._anon += 1
            call_id = f"eagerexec-{self._anon}"
        call = self._calls.get(call_id)
        if call is None or call_id in self._delivered:
            self._delivered.discard(call_id)  # an id reused by a later call (fake models do)
            call = ToolCall(self, call_id, raw=raw, after=self._last)
            self._calls[call_id] = call
            self._last = call._task
        return call

    def get(self, call_id: str) -> ToolCall | None:
        """The call begun with ``call_id``, if any."""
        return self._calls.get(call_id)

    def cancel_all(self) -> None:
        """Cancel every call still running or waiting (a turn the user stopped)."""
        for call in self._calls.values():
            if not call.done:
                call.cancel()

    def _skip_after(self, failed: ToolCall) -> None:
        # the statements after a failing one never run: neither do the calls begun after it
        later = False
        for call in list(self._calls.values()):
            if later and not call.done and call.error is None:
                call.skipped = True  # its run gets no code: nothing of it runs
                call.end()
            later = later or call is failed

    def end_all(self) -> None:
        """The model's response is over: end every call still receiving arguments."""
        for call in self._calls.values():
            call.end()

    async def result(self, call_id: str | None, code: str | None = None) -> Result:
        """The result of the call ``call_id``: the run already under way, else ``code`` run now.

        Args:
            call_id: the tool call's id (None: no streamed call; run ``code``).
            code: the complete code, for calls the adapter did not see stream.

        Returns:
            The ``Result`` (errors of the program are in it, never raised).

        Raises:
            KeyError: no such call was streamed and no ``code`` was given.
        """
        call = self._calls.get(call_id) if call_id is not None and call_id not in self._delivered else None
        if call is None:
            if code is None:
                raise KeyError(call_id)
            call = self.begin(call_id, raw=True)
            call.feed(code)
        call.end()
        result = await call.wait()
        self._delivered.add(call.call_id)
        return result

    async def output(self, call_id: str | None, code: str | None = None) -> str:
        """What the model reads for the call ``call_id``: ``format_result`` of its result, or
        ``NOT_RUN`` when it was skipped because a call before it failed (see ``result``)."""
        call = self._calls.get(call_id) if call_id is not None and call_id not in self._delivered else None
        if call is not None and call.skipped:
            self._delivered.add(call.call_id)
            return NOT_RUN
        return format_result(await self.result(call_id, code))

    async def run_code(self, code: str) -> Result:
        """Run complete code as one call (after the calls already begun)."""
        return await self.result(None, code)

    async def _run(self, deltas: AsyncIterator[str], on_event: Callable[[Event], None]) -> Result:
        result = await self.session.run(deltas, on_event=on_event)
        self.results.append(result)
        return result


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters dropped ...]\n{text[-half:]}"


def format_error(error: RunError) -> str:
    """The error as the model reads it: type, message, failing line and a short traceback."""
    lines = [f"{error.type}: {error.message}"]
    if error.line is not None:
        where = f"line {error.line}"
        if error.line_text:
            where += f": {error.line_text}"
        lines.append(f"  at {where}")
    frames = [f for f in error.frames if f.filename]
    if len(frames) > 1:
        lines.append("Traceback (most recent call last, shortened):")
        for frame in frames[-_TRACEBACK_FRAMES:]:
            where = f"line {frame.line}" if frame.in_program else f"{frame.filename}:{frame.line}"
            lines.append(f"  {where} in {frame.name}")
            if frame.source:
                lines.append(f"    {frame.source.strip()}")
    if error.origin in ("runtime", "syntax", "backend"):
        lines.append("The statements after the failing one did not run; earlier ones did (their state is kept).")
    return "\n".join(lines)


def _in_program_order(result: Result) -> str:
    """stdout and the ``text/plain`` of display/result records (notebook mode), interleaved as the
    program produced them; figure records as ``[figure] path``. Each displayed value starts and
    ends a line, as a notebook shows it."""
    out: list[str] = []
    at_line_start = True
    for record in result.outputs:
        if record.type == "stdout":
            text = str(record.data.get("text/plain", ""))
        elif record.type in ("display", "result"):
            plain = record.data.get("text/plain")
            text = (plain if isinstance(plain, str) else "") + "\n"
            if not at_line_start:
                text = "\n" + text
        elif record.type == "figure":
            text = ("" if at_line_start else "\n") + f"[figure] {record.data.get('image/png', '')}\n"
        else:  # stderr: said on its own, below
            continue
        if text:
            out.append(text)
            at_line_start = text.endswith("\n")
    return "".join(out)


def format_result(result: Result, *, limit: int = 2 * DEFAULT_TOOL_OUTPUT) -> str:
    """What the model reads back from one code tool call.

    Args:
        result: the run's result.
        limit: characters of the output and of stderr, each, at most (the session's output
            limit already kept each stream's head and tail; this bounds what the model reads).

    Returns:
        The output, then ``stderr`` under a header, the figures' paths, then the error if any;
        ``(no output)`` when there was none. In notebook mode (``Session(notebook=True)``) the
        output is stdout with the ``text/plain`` of each displayed value (``display(obj)``, a
        bare ``df.describe()``) in program order.
    """
    parts: list[str] = []
    inline: set[str] = set()
    if any(o.type in ("display", "result") for o in result.outputs):
        main = _in_program_order(result)
        inline = {str(o.data.get("image/png")) for o in result.outputs if o.type == "figure"}
    else:
        main = result.stdout
    if main.strip():
        parts.append(_cut(main, limit).rstrip("\n"))
    stderr = result.stderr
    if result.error is not None and result.error.traceback:
        # the traceback is said below, shorter
        stderr = stderr.replace(result.error.traceback, "")
    if stderr.strip():
        parts.append("[stderr]\n" + _cut(stderr, limit).rstrip("\n"))
    figures = [path for path in result.figures if path not in inline]
    if figures:
        parts.append("[figures] " + ", ".join(figures))
    if result.state_lost:
        parts.append("[the interpreter was restarted: earlier variables and imports are gone]")
    if result.error is not None:
        parts.append("[error]\n" + format_error(result.error))
    return "\n".join(parts) if parts else "(no output)"
