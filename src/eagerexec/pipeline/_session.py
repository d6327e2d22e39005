"""``Session``: a persistent backend session that runs streamed programs as they are generated.

Strategy: the session owns one backend (by name, an instance, or from a ``SessionPool``) and
starts it as soon as it is entered, so interpreter start-up overlaps the request's time to first
token. Each ``run()`` builds a ``RunState`` (``_run.py``) that drives the source, the chunker,
the scheduler and the backend. Rules a caller can rely on:

* one run at a time: a second ``run()`` while one is active raises ``SessionBusyError`` at once
  (runs share the interpreter's state; interleaving them would interleave their statements);
* ``run()`` never raises for the program's errors or the source's failures: they are in the
  ``Result``; it raises ``UsageError`` for misuse and ``BackendError`` when the backend cannot
  run at all;
* cancelling the task that awaits ``run()`` raises ``CancelledError`` in it promptly: the running
  call is interrupted (the worker killed and reaped when it ignores the interrupt) and the source
  is closed; the session stays usable (``Result.state_lost`` of the next run says whether the
  interpreter had to be replaced);
* ``aclose()`` (and leaving ``async with``) always stops and reaps the backend, also when the
  closing task is itself being cancelled, and never swallows that cancellation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Iterable
from types import TracebackType
from typing import Any, Self

from .._exceptions import SessionBusyError, UnknownOptionError, UsageError
from ..backends import Backend, SessionPool, open_backend
from ..sources import Source, as_source
from ._result import Result
from ._run import EventCallback, Mode, RunOptions, RunState

__all__ = ["Session", "SourceLike", "run", "run_async"]

SourceLike = Source | str | Iterable[str] | AsyncIterable[str]

_SESSION_OPTIONS = (
    "mode",
    "stop_on_error",
    "gating",
    "live_figures",
    "idle_work",
    "timeout",
    "show_traceback",
    "notebook",
    "pool",
    "on_event",
)


class Session:
    """One persistent backend session that runs streamed programs as they are generated.

    Runs in the same session share state (like a REPL), which is what partial-code repair
    builds on. Use as ``async with Session("local") as s: result = await s.run(source)``.

    Args:
        backend: a backend name (``local``, ``sandbox``, ``docker``, ``jupyter``) or a
            ``Backend`` instance (the session takes ownership and closes it).
        mode: ``eager`` (default) or ``serial`` (generate everything, then execute once).
        stop_on_error: stop generation at the first error (default) or keep generating and
            report the error at the end.
        gating: defer definition-only chunks into the next batch.
        live_figures: capture figures after every batch instead of once at the end.
        idle_work: let the backend use the waits for the model (eager mode) for housekeeping
            such as a due garbage collection, which would otherwise land in a later chunk.
        timeout: seconds each statement may run before it is interrupted (then killed and the
            session restarted if it ignores the interrupt; ``state_lost`` says so).
        show_traceback: an uncaught error's traceback is also printed on the program's stderr,
            where ``python prog.py`` prints it (``RunError.printed`` then says so).
        notebook: notebook output: the value of each top-level expression statement that is not
            None is shown (the REPL rule, so serial and eager mode show the same), ``display(obj)``
            is available, ``plt.show()`` and figures left open show PNGs; ``Result.outputs``
            records them as ``display``/``result`` MIME bundles (``OutputReceived.bundle`` live).
        pool: take the backend session from this pool instead of starting one.
        on_event: called with every ``Event`` of every run (live views); must not block.
        **backend_options: passed to ``open_backend`` (``python=``, ``workdir=``, ...).

    Raises:
        UnknownOptionError: an option neither the session nor the backend takes.
        UnknownBackendError: an unknown backend name.
    """

    def __init__(
        self,
        backend: str | Backend = "local",
        *,
        mode: Mode = "eager",
        stop_on_error: bool = True,
        gating: bool = True,
        live_figures: bool = False,
        idle_work: bool = True,
        timeout: float | None = None,
        show_traceback: bool = False,
        notebook: bool = False,
        pool: SessionPool | None = None,
        on_event: EventCallback | None = None,
        **backend_options: Any,
    ) -> None:
        _check_mode(mode)
        if timeout is not None and not (isinstance(timeout, int | float) and 0 < timeout < float("inf")):
            raise UsageError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.mode: Mode = mode
        self.stop_on_error = stop_on_error
        self.gating = gating
        self.live_figures = live_figures
        self.idle_work = idle_work
        self.timeout = timeout
        self.show_traceback = show_traceback
        self.notebook = notebook
        self.on_event = on_event
        self._pool = pool
        self._backend_spec = backend
        if backend_options and (isinstance(backend, Backend) or pool is not None):
            where = "a Backend instance" if isinstance(backend, Backend) else "a pool"
            raise UnknownOptionError(f"Session with {where}", sorted(backend_options), _SESSION_OPTIONS)
        self._backend: Backend | None = backend if isinstance(backend, Backend) else None
        if self._backend is None and pool is None:
            # Created now so that a bad name or option fails here, with one clear error.
            try:
                self._backend = open_backend(str(backend), **backend_options)
            except UnknownOptionError as exc:
                raise UnknownOptionError("Session", exc.options, (*exc.valid, *_SESSION_OPTIONS)) from None
        self._start_task: asyncio.Task[None] | None = None
        self._active: RunState | None = None
        self._closed = False

    @property
    def backend(self) -> Backend:
        """The backend session (available once the session was entered)."""
        if self._backend is None:
            raise UsageError("the Session has no backend yet: use `async with Session(...)` first")
        return self._backend

    @property
    def busy(self) -> bool:
        """A run is active."""
        return self._active is not None

    async def __aenter__(self) -> Self:
        if self._closed:
            raise UsageError("Session is closed")
        if self._backend is None:
            assert self._pool is not None
            self._backend = await self._pool.acquire()
        self._backend.on_output = self._forward_output
        # Start-up overlaps whatever comes next (the request, its time to first token).
        self._start_task = asyncio.get_running_loop().create_task(self._backend.start())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the backend session (idempotent; always stops and reaps the worker)."""
        if self._closed:
            return
        self._closed = True
        task = self._start_task
        try:
            if task is not None and not task.done():
                task.cancel()
                # waits for the start to unwind without raising its outcome; a cancellation of
                # *this* task still propagates from here, after the backend below is closed
                await asyncio.wait([task])
        finally:
            if task is not None and task.done() and not task.cancelled():
                task.exception()  # retrieved: a failed start was reported by run() already
            if self._backend is not None:
                await asyncio.shield(self._backend.aclose())

    def _forward_output(self, event: Any) -> None:
        active = self._active
        if active is not None:
            active.on_output(event)

    async def _ready(self) -> Backend:
        backend = self.backend
        if self._start_task is None:
            self._start_task = asyncio.get_running_loop().create_task(backend.start())
        await asyncio.shield(self._start_task)
        return backend

    async def run(
        self,
        source: SourceLike,
        *,
        mode: Mode | None = None,
        stop_on_error: bool | None = None,
        on_event: EventCallback | None = None,
        last: bool = False,
    ) -> Result:
        """Stream ``source`` into the session, executing statements as they complete.

        Args:
            source: a ``Source`` (replay, OpenAI...), a string, or any (async) iterable of
                text deltas.
            mode: override the session's mode for this run.
            stop_on_error: override the session's early-interruption setting for this run.
            on_event: called with this run's events (after the session's own ``on_event``).
            last: the program ends with this run, as ``python prog.py`` ends: non-daemon threads
                are joined and ``atexit`` handlers run (their output is in this result); the
                next run starts on a fresh interpreter (``run()`` and ``run_async()`` set it).

        Returns:
            The ``Result``: output, error, code generated so far and the timeline. Errors in the
            program and failures of the source are recorded in it, never raised.

        Raises:
            SessionBusyError: another run of this session is active.
            UsageError: the session is closed or not entered, or a bad mode.
            BackendError: the backend itself could not run (e.g. it cannot start).
            asyncio.CancelledError: the calling task was cancelled (see the module docstring).
        """
        if self._closed:
            raise UsageError("Session is closed")
        if self._backend is None or self._start_task is None:
            raise UsageError("enter the Session first: `async with Session(...) as s`")
        if self._active is not None:
            raise SessionBusyError("session busy: a run is active on this Session (one run at a time)")
        mode = mode or self.mode
        _check_mode(mode)
        src = as_source(source)
        state = RunState(
            options=RunOptions(
                gating=self.gating,
                live_figures=self.live_figures,
                idle_work=self.idle_work,
                timeout=self.timeout,
                show_traceback=self.show_traceback,
                notebook=self.notebook,
            ),
            ready=self._ready,
            backend=self._backend,
            source=src,
            mode=mode,
            stop_on_error=self.stop_on_error if stop_on_error is None else stop_on_error,
            on_event=_both(self.on_event, on_event),
            last=last,
        )
        self._active = state
        try:
            return await state.go()
        finally:
            self._active = None


def _both(a: EventCallback | None, b: EventCallback | None) -> EventCallback | None:
    if a is None or b is None:
        return a or b

    def call(event: Any) -> None:
        a(event)
        b(event)

    return call


def _check_mode(mode: str) -> None:
    if mode not in ("eager", "serial"):
        raise UsageError(f"unknown mode {mode!r}: use 'eager' or 'serial'")


async def run_async(source: SourceLike, *, backend: str | Backend = "local", mode: Mode = "eager", **kwargs: Any) -> Result:
    """Run one program on a fresh session and close it (the async form of ``run``).

    Args:
        source: a ``Source``, a string or an (async) iterable of text deltas.
        backend: backend name or instance.
        mode: ``eager`` or ``serial``.
        **kwargs: ``Session`` options and backend options.

    Returns:
        The run's ``Result``.
    """
    async with Session(backend, mode=mode, **kwargs) as session:
        return await session.run(source, last=True)


def run(source: SourceLike, *, backend: str | Backend = "local", mode: Mode = "eager", **kwargs: Any) -> Result:
    """Blocking convenience: run one streamed program on a fresh session.

    Args:
        source: a ``Source``, a string or an iterable of text deltas.
        backend: backend name or instance.
        mode: ``eager`` or ``serial``.
        **kwargs: ``Session`` options (``stop_on_error``, ``timeout``, backend options...).

    Returns:
        The run's ``Result``.

    Raises:
        UsageError: called from a running event loop (use ``Session`` there) or bad options.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run_async(source, backend=backend, mode=mode, **kwargs))
    raise UsageError("eagerexec.run() cannot be called from a running event loop: use `async with Session(...)`")
