"""Execute as you generate: the pipeline joining a token source, the chunker and a backend.

Strategy
--------
One ``asyncio.TaskGroup`` per run owns two tasks and nothing else is left running:

* the **producer** pulls text deltas from the source, timestamps them, feeds the chunker and
  appends the chunks that became ready to a list, waking the executor;
* the **executor**, whenever the session is free, takes *all* pending chunks and runs them as one
  backend call (dynamic batching: the per-call overhead is paid once per batch). Trailing
  ``definition`` chunks are held back and merged into the next batch (gating) unless the stream
  has ended; imports are never held back.

Early error interruption (default): a runtime error, a ``sys.exit``, a dead session or a
``syntax_error`` chunk stops generation at once: the source is closed (an HTTP stream's
connection is dropped, so the provider stops generating and billing) and the result keeps the
code generated so far, the error and all output. With ``stop_on_error=False`` generation goes on
to the end and the error is reported then (complete-code semantics, as serial execution gives).

Serial mode is the same code with one batch: generate everything, then execute once. It is the
baseline, measured by the same clock on the same backend.

Figures are captured once, in their final state: batches run with ``figures=False`` until the
one that ends the program (or, when the program stops some other way, one empty call after the
last batch captures them). Drawing a figure costs tens of milliseconds; capturing it after every
batch would draw it again each time a chunk touches it and show the user stale intermediate
states. ``live_figures=True`` captures after every batch instead (for live views).

The backend session starts concurrently with the first request, so interpreter start-up overlaps
the time to first token; a ``SessionPool`` keeps sessions started ahead of time.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

from ._backends import Backend, Outcome, OutputEvent, open_backend
from ._chunker import Chunker
from ._events import Chunk, ChunkKind
from ._exceptions import SourceError, UsageError
from ._pool import SessionPool
from ._result import (
    BatchTiming,
    ChunkTiming,
    Metrics,
    PipelineEvent,
    Result,
    RunError,
    StreamTiming,
)
from ._sources import Source, as_source
from ._sources.replay import ReplaySource, count_tokens

__all__ = ["Session", "run", "run_async"]

Mode = Literal["eager", "serial"]
EventCallback = Callable[[PipelineEvent], None]
SourceLike = Source | str | Iterable[str] | AsyncIterable[str]


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
        timeout: seconds each backend call may run before it is interrupted.
        pool: take the backend session from this pool instead of starting one.
        on_event: called with every ``PipelineEvent`` (for live views); must not block.
        **backend_options: passed to ``open_backend`` (``python=``, ``workdir=``, ...).
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
        pool: SessionPool | None = None,
        on_event: EventCallback | None = None,
        **backend_options: Any,
    ) -> None:
        _check_mode(mode)
        self.mode: Mode = mode
        self.stop_on_error = stop_on_error
        self.gating = gating
        self.live_figures = live_figures
        self.idle_work = idle_work
        self.timeout = timeout
        self.on_event = on_event
        self._pool = pool
        self._backend_spec = backend
        self._backend_options = backend_options
        self._backend: Backend | None = backend if isinstance(backend, Backend) else None
        if self._backend is None and pool is None:
            # Created now so that a bad name or option fails here, with one clear error.
            self._backend = open_backend(str(backend), **backend_options)
        self._start_task: asyncio.Task[None] | None = None
        self._observer: Callable[[OutputEvent], None] | None = None
        self._closed = False

    @property
    def backend(self) -> Backend:
        """The backend session (available once the session was entered)."""
        if self._backend is None:
            raise UsageError("the Session has no backend yet: use `async with Session(...)` first")
        return self._backend

    async def __aenter__(self) -> Self:
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
        """Close the backend session (idempotent; always reaps the worker)."""
        if self._closed:
            return
        self._closed = True
        if self._start_task is not None and not self._start_task.done():
            self._start_task.cancel()
            with contextlib.suppress(BaseException):
                await self._start_task
        if self._backend is not None:
            await self._backend.aclose()

    def _forward_output(self, event: OutputEvent) -> None:
        if self._observer is not None:
            self._observer(event)

    async def _ready(self) -> Backend:
        backend = self.backend
        if self._start_task is None:
            self._start_task = asyncio.get_running_loop().create_task(backend.start())
        await self._start_task
        return backend

    async def run(
        self,
        source: SourceLike,
        *,
        mode: Mode | None = None,
        stop_on_error: bool | None = None,
    ) -> Result:
        """Stream ``source`` into the session, executing statements as they complete.

        Args:
            source: a ``Source`` (replay, OpenAI...), a string, or any (async) iterable of
                text deltas.
            mode: override the session's mode for this run.
            stop_on_error: override the session's early-interruption setting for this run.

        Returns:
            The ``Result``: output, error, code generated so far and the timeline. Errors in the
            program and failures of the source are recorded in it, never raised.

        Raises:
            UsageError: the session is closed or not entered, or a bad mode.
            BackendError: the backend itself could not run (e.g. it cannot start).
        """
        if self._closed:
            raise UsageError("Session is closed")
        if self._backend is None:
            raise UsageError("enter the Session first: `async with Session(...) as s`")
        mode = mode or self.mode
        _check_mode(mode)
        src = as_source(source)
        state = _Run(
            session=self,
            source=src,
            mode=mode,
            stop_on_error=self.stop_on_error if stop_on_error is None else stop_on_error,
        )
        self._observer = state.on_output
        try:
            return await state.go()
        finally:
            self._observer = None


def _check_mode(mode: str) -> None:
    if mode not in ("eager", "serial"):
        raise UsageError(f"unknown mode {mode!r}: use 'eager' or 'serial'")


@dataclass(slots=True)
class _ChunkRec:
    chunk: Chunk
    generated_at: float
    ready_at: float
    batch: int | None = None
    timed: bool = False  # the backend timed this chunk's batch part by part
    exec_start: float | None = None  # this chunk's own execution, when timed
    exec_end: float | None = None


@dataclass
class _Run:
    """The state of one run; ``go()`` runs the producer and executor in one TaskGroup."""

    session: Session
    source: Source
    mode: Mode
    stop_on_error: bool
    t0: float = 0.0
    chunks: list[_ChunkRec] = field(default_factory=list)
    delta_ends: list[int] = field(default_factory=list)
    delta_times: list[float] = field(default_factory=list)
    code_parts: list[str] = field(default_factory=list)
    batches: list[BatchTiming] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    error: RunError | None = None
    exit_code: int | None = None
    stream_done: bool = False
    source_failed: bool = False
    stopped_early: bool = False
    stop_time: float | None = None
    executed_upto: int = 0
    figures_pending: bool = False  # a batch ran without capturing figures since the last capture
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    # -- helpers -----------------------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() - self.t0

    def emit(self, **kw: Any) -> None:
        callback = self.session.on_event
        if callback is not None:
            try:
                callback(PipelineEvent(**kw))
            except Exception:  # an observer must never break the run
                pass

    def on_output(self, event: OutputEvent) -> None:
        self.emit(kind="output", time=self.now(), stream=event.kind, text=event.data)

    async def stop_generation(self, why: str) -> None:
        if not self.stream_done:
            self.stopped_early = True
            self.stop_time = self.now()
            self.emit(kind="stopped", time=self.stop_time, text=why)
        await self.source.aclose()
        self.wake.set()

    def fail(self, error: RunError) -> None:
        if self.error is None:
            self.error = error

    # -- the two tasks -------------------------------------------------------------------------
    async def go(self) -> Result:
        self.t0 = time.monotonic()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.produce())
                tg.create_task(self.execute())
        except BaseExceptionGroup as group:
            # one task failed (e.g. the backend could not start): surface that error itself
            first = next((e for e in group.exceptions if not isinstance(e, asyncio.CancelledError)), None)
            if first is None:
                raise
            raise first from None
        finally:
            await self.source.aclose()
        return self.result()

    async def produce(self) -> None:
        chunker = Chunker(filename="<program>")
        pos = 0
        try:
            async for delta in self.source:
                t = self.now()
                self.code_parts.append(delta)
                pos += len(delta)
                self.delta_ends.append(pos)
                self.delta_times.append(t)
                self.emit(kind="delta", time=t, text=delta)
                self.accept(chunker.feed(delta), t)
                if self.stopped_early:
                    break
        except SourceError as exc:
            self.fail(RunError(type=type(exc).__name__, message=str(exc), origin="source"))
            self.source_failed = True
        if not self.stopped_early and not self.source_failed:
            # the stream ended: whatever is left is the final chunk
            self.accept(chunker.close(), self.now())
        self.stream_done = True
        self.wake.set()

    def accept(self, chunks: list[Chunk], t: float) -> None:
        for chunk in chunks:
            end = chunk.offset + len(chunk.text)
            k = bisect.bisect_left(self.delta_ends, end)
            generated = self.delta_times[min(k, len(self.delta_times) - 1)] if self.delta_times else t
            # token counts are for the timeline only: taken in result(), off the critical path
            rec = _ChunkRec(chunk=chunk, generated_at=generated, ready_at=t)
            self.chunks.append(rec)
            self.emit(kind="chunk", time=t, index=len(self.chunks) - 1)
        if chunks:
            self.wake.set()

    async def execute(self) -> None:
        backend = await self.session._ready()
        while True:
            batch = self.next_batch()
            if batch is None:
                break
            if not batch:
                self.wake.clear()
                await self.wake.wait()
                continue
            await self.run_batch(backend, batch)
            if self.error is not None or self.exit_code is not None:
                break
        if self.error is not None and self.error.origin == "source":
            await self.capture_figures(backend)
            return
        if self.error is not None or self.exit_code is not None:
            if self.stop_on_error or self.error is None:
                await self.stop_generation(str(self.error or f"the program exited ({self.exit_code})"))
            else:
                await self.drain_to_end()
        await self.capture_figures(backend)

    def next_batch(self) -> list[int] | None:
        """The chunk indices to run now: [] to wait, None when there is nothing left to do."""
        pending = list(range(self.executed_upto, len(self.chunks)))
        if self.source_failed and self.mode == "serial":
            return None  # never execute a truncated program as a whole
        if self.mode == "serial":
            if not self.stream_done:
                return []
            return pending or None
        if not pending:
            return None if self.stream_done else []
        # a syntax error ends the runnable prefix
        for k in pending:
            if self.chunks[k].chunk.kind is ChunkKind.SYNTAX_ERROR:
                before = [j for j in pending if j < k]
                if before:
                    return before
                self.on_syntax_error(k)
                return None
        if not self.stream_done and self.session.gating:
            while pending and self.chunks[pending[-1]].chunk.kind is ChunkKind.DEFINITION:
                pending.pop()
        return pending

    def on_syntax_error(self, k: int) -> None:
        chunk = self.chunks[k].chunk
        err = chunk.error
        assert err is not None
        self.fail(RunError(type=err.type, message=err.message, line=err.line, origin="syntax"))
        self.executed_upto = len(self.chunks)

    async def drain_to_end(self) -> None:
        """Complete-code semantics: keep generating to the end, execute nothing more."""
        while not self.stream_done:
            self.wake.clear()
            await self.wake.wait()
        self.executed_upto = len(self.chunks)

    async def run_batch(self, backend: Backend, batch: list[int]) -> None:
        recs = [self.chunks[k] for k in batch]
        self.executed_upto = batch[-1] + 1
        code = "".join(r.chunk.code for r in recs)
        if not code.strip() or all(r.chunk.is_blank for r in recs):
            return
        index = len(self.batches)
        for r in recs:
            r.batch = index
        host_start = self.now()
        self.emit(kind="batch_start", time=host_start, index=index, chunks=tuple(batch))
        final = self.mode == "serial" or (self.stream_done and self.executed_upto == len(self.chunks))
        figures = final or self.session.live_figures or backend.figures_every_call
        first_line = recs[0].chunk.start_line
        split_at, line = [], first_line
        for r in recs[:-1]:  # each chunk is timed on its own: where the next one starts
            line += r.chunk.code.count("\n")
            split_at.append(line)
        outcome = await backend.execute(
            code,
            first_line=first_line,
            timeout=self.session.timeout,
            figures=figures,
            split_at=split_at,
            more=not final and self.session.idle_work,
        )
        host_end = self.now()
        if outcome.part_times:
            # chunks after the one that raised (or after a session death) did not run
            times = list(outcome.part_times)[: len(recs)]
            for k, r in enumerate(recs):
                r.timed = True
                if k < len(times):
                    r.exec_start, r.exec_end = times[k][0] - self.t0, times[k][1] - self.t0
        self.figures_pending = not figures and outcome.survived
        exec_start = outcome.started_at - self.t0 if outcome.started_at else host_start
        exec_end = outcome.ended_at - self.t0 if outcome.ended_at else host_end
        setup = max(0.0, (host_end - host_start) - max(0.0, exec_end - exec_start))
        self.batches.append(
            BatchTiming(
                index=index,
                chunks=tuple(batch),
                start=host_start,
                end=host_end,
                exec_start=exec_start,
                exec_end=exec_end,
                setup=setup,
                ok=outcome.ok,
            )
        )
        self.outcomes.append(outcome)
        self.emit(kind="batch_end", time=host_end, index=index, chunks=tuple(batch), ok=outcome.ok)
        if outcome.exit_code is not None:
            self.exit_code = outcome.exit_code
        if outcome.timed_out:
            self.fail(
                RunError(
                    type="TimeoutError",
                    message=f"execution exceeded the {self.session.timeout}s timeout",
                    line=outcome.error.line if outcome.error else None,
                    origin="backend",
                )
            )
        elif not outcome.survived:
            self.fail(
                RunError(
                    type="SessionDied",
                    message=f"the interpreter session died (exit status {outcome.exit_status})",
                    origin="backend",
                )
            )
        elif outcome.error is not None and not (outcome.exit_code == 0):
            err = RunError.from_exec(outcome.error)
            if err.type in ("SyntaxError", "IndentationError", "TabError"):
                err = RunError(
                    type=err.type, message=err.message, line=err.line, traceback=err.traceback, origin="syntax"
                )
            self.fail(err)

    async def capture_figures(self, backend: Backend) -> None:
        """Capture the figures the last batches left uncaptured with one empty call; its time
        is added to the last batch (drawing is part of that call's overhead in serial mode too)."""
        if not self.figures_pending or not self.batches:
            return
        self.figures_pending = False
        next_line = max(self.chunks[k].chunk.end_line for k in self.batches[-1].chunks) + 1
        outcome = await backend.execute("", first_line=next_line, timeout=self.session.timeout, figures=True)
        self.outcomes.append(outcome)
        last = self.batches[-1]
        end = self.now()
        setup = max(0.0, (end - last.start) - max(0.0, last.exec_end - last.exec_start))
        self.batches[-1] = dataclasses.replace(last, end=end, setup=setup)

    # -- the result ------------------------------------------------------------------------------
    def result(self) -> Result:
        stats = self.source.stats
        first = (
            stats.first_token - self.t0
            if stats.first_token is not None
            else (self.delta_times[0] if self.delta_times else None)
        )
        last = self.delta_times[-1] if self.delta_times else None
        if stats.last_token is not None:
            last = max(last or 0.0, stats.last_token - self.t0)
        gen_end = last if last is not None else 0.0
        if self.stopped_early and self.stop_time is not None:
            gen_end = max(gen_end, self.stop_time)
        exec_end = max((b.end for b in self.batches), default=gen_end)
        nel = max(0.0, exec_end - gen_end)
        metrics = Metrics(t_gen=gen_end, ttft=first if first is not None else 0.0, nel=nel, e2el=gen_end + nel)
        batch_of = {b.index: b for b in self.batches}
        chunks = []
        for i, r in enumerate(self.chunks):
            b = batch_of.get(r.batch) if r.batch is not None else None
            chunks.append(
                ChunkTiming(
                    index=i,
                    start_line=r.chunk.start_line,
                    end_line=r.chunk.end_line,
                    kind=r.chunk.kind.value,
                    tokens=count_tokens(r.chunk.text),
                    generated_at=r.generated_at,
                    ready_at=r.ready_at,
                    batch=r.batch,
                    exec_start=r.exec_start if r.timed else (b.exec_start if b else None),
                    exec_end=r.exec_end if r.timed else (b.exec_end if b else None),
                )
            )
        figures: list[str] = []
        for o in self.outcomes:
            figures.extend(o.figures)
        backend = self.session._backend
        tps = self.source.tps if isinstance(self.source, ReplaySource) else None
        return Result(
            mode=self.mode,
            code="".join(self.code_parts),
            stdout="".join(o.stdout for o in self.outcomes),
            stderr="".join(o.stderr for o in self.outcomes),
            figures=tuple(figures),
            error=self.error,
            exit_code=self.exit_code,
            stopped_early=self.stopped_early,
            chunks=tuple(chunks),
            batches=tuple(self.batches),
            stream=StreamTiming(
                request_start=0.0,
                first_token=first,
                last_token=last,
                tokens=stats.tokens,
                closed_early=stats.closed_early,
            ),
            metrics=metrics,
            backend=backend.name if backend is not None else str(self.session._backend_spec),
            tps=tps,
            extra={"t0_monotonic": self.t0, "stopped_at": self.stop_time},
        )


async def run_async(source: SourceLike, *, backend: str | Backend = "local", mode: Mode = "eager", **kwargs: Any) -> Result:
    """Run one program on a fresh session and close it (the async form of ``run``)."""
    async with Session(backend, mode=mode, **kwargs) as session:
        return await session.run(source)


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
