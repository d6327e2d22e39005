"""One run: the asyncio driver joining a source, the chunker, the scheduler and a backend.

Strategy: one ``asyncio.TaskGroup`` per run owns two tasks and nothing outlives it:

* the **producer** pulls text deltas from the source, timestamps them, feeds the chunker and
  reports each chunk to the ``Scheduler`` (``pipeline/_scheduler.py``, where every batching,
  gating and early-stop rule lives), waking the executor;
* the **executor** asks the scheduler what to do and does it: run a batch on the backend, wait,
  fail on a syntax error, stop generation, or drain the stream.

Every exit path of the producer (end, source failure, any exception of a user's iterable, a
cancellation coming from the source's own stack) marks the stream done and wakes the executor,
so the executor can never wait forever. A source failure is recorded in the result
(``error.origin == "source"``), never raised. Cancelling the caller's task cancels both tasks:
a running call is interrupted (and the worker killed and reaped when it ignores the interrupt),
the source is closed, and ``CancelledError`` propagates.

Figures are captured once, in their final state: batches run with ``figures=False`` until the
final one (or, when the program stops some other way, one empty call after the last batch).
Output goes through one head-and-tail limit per stream per run (``backends/_output.py``), fed
from the live output events, so the result is the same in serial and eager mode; notebook
mode's display/result bundles through a limit of the same size (``BundleCap``: whole bundles,
counted by their encoded size).
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .._exceptions import SourceError
from ..backends import Backend, ExecRequest, Outcome, OutputEvent
from ..backends._output import DEFAULT_MAX_OUTPUT, BundleCap, OutputCap, drop_marker, dropped_bundle
from ..chunker import Chunk, Chunker
from ..sources import ReplaySource, Source, count_tokens
from ._events import (
    BatchEnded,
    BatchStarted,
    ChunkReady,
    DeltaReceived,
    Event,
    GenerationStopped,
    OutputReceived,
    RunFinished,
    StateLost,
)
from ._result import BatchTiming, ChunkTiming, Metrics, OutputRecord, Result, RunError, StreamTiming
from ._scheduler import AwaitStreamEnd, Done, FailSyntax, RunBatch, Scheduler, StopGeneration, Wait

__all__ = ["EventCallback", "Mode", "RunOptions", "RunState"]

Mode = Literal["eager", "serial"]
EventCallback = Callable[[Event], None]

_SYNTAX_TYPES = ("SyntaxError", "IndentationError", "TabError")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """The session's settings a run follows (see ``Session`` for each)."""

    gating: bool = True
    live_figures: bool = False
    idle_work: bool = True
    timeout: float | None = None
    show_traceback: bool = False
    notebook: bool = False


@dataclass(slots=True)
class _ChunkRec:
    chunk: Chunk
    generated_at: float
    ready_at: float
    batch: int | None = None
    timed: bool = False  # the backend timed this chunk's part of the batch
    exec_start: float | None = None
    exec_end: float | None = None


@dataclass
class RunState:
    """The state of one run; ``go()`` runs the producer and the executor in one TaskGroup."""

    options: RunOptions
    ready: Callable[[], Awaitable[Backend]]  # the started backend (waits for its start-up)
    backend: Backend
    source: Source
    mode: Mode
    stop_on_error: bool
    on_event: EventCallback | None = None
    last: bool = False  # the program ends with this run (threads joined, atexit run)
    t0: float = 0.0
    scheduler: Scheduler = field(init=False)
    chunks: list[_ChunkRec] = field(default_factory=list)
    delta_ends: list[int] = field(default_factory=list)
    delta_times: list[float] = field(default_factory=list)
    code_parts: list[str] = field(default_factory=list)
    batches: list[BatchTiming] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    error: RunError | None = None
    exit_code: int | None = None
    stopped_early: bool = False
    stop_time: float | None = None
    state_lost: bool = False
    figures_pending: bool = False
    current_batch: int | None = None
    ended: bool = False  # the end-of-program call was made
    alive: bool = True  # the session's interpreter survived the last call
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # outputs, in order

    def __post_init__(self) -> None:
        self.scheduler = Scheduler(
            mode=self.mode, gating=self.options.gating, stop_on_error=self.stop_on_error
        )
        limit = getattr(self.backend, "max_output", None) or DEFAULT_MAX_OUTPUT
        self.caps = {"stdout": OutputCap(max(2, limit)), "stderr": OutputCap(max(2, limit))}
        self.bundles = BundleCap(max(2, limit))

    # -- helpers -----------------------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() - self.t0

    def emit(self, event: Event) -> None:
        callback = self.on_event
        if callback is not None:
            try:
                callback(event)
            except Exception:  # an observer must never break the run
                pass

    def on_output(self, event: OutputEvent) -> None:
        """Backend output, live: through the run's output limit, then to the observer."""
        t = self.now()
        if event.kind == "figure":
            self.records.append(("figure", {"image/png": event.data}))
            self.emit(OutputReceived(time=t, stream="figure", text=event.data, batch=self.current_batch))
            return
        if event.kind == "display" or event.kind == "result":  # notebook mode: a MIME bundle
            self.on_bundle(t, event.kind, dict(event.bundle or {"text/plain": event.data}))
            return
        cap = self.caps[event.kind]
        dropped_before = cap.dropped
        live = cap.feed(event.data, event.skipped)
        if live:
            self.record_text(event.kind, live)
            self.emit(OutputReceived(time=t, stream=event.kind, text=live, batch=self.current_batch))
        elif cap.dropped and not dropped_before:
            # the run's limit is reached: say so once, live; the tail comes with the result
            self.emit(OutputReceived(time=t, stream=event.kind, text="", batch=self.current_batch, skipped=cap.dropped))

    def on_bundle(self, t: float, kind: Literal["display", "result"], bundle: dict[str, Any]) -> None:
        """A display/result bundle, through the run's bundle limit: the head kept and passed on
        live, the rest kept in the tail (``outputs``) or dropped and counted."""
        cap = self.bundles
        dropped_before = cap.dropped_outputs
        kept, reduced = cap.feed(kind, bundle)
        if kept is not None:
            self.records.append((kind, kept))
            text = kept.get("text/plain")
            self.emit(
                OutputReceived(
                    time=t,
                    stream=kind,
                    text=text if isinstance(text, str) else "",
                    batch=self.current_batch,
                    skipped=reduced,
                    bundle=kept,
                )
            )
        elif cap.dropped_outputs and not dropped_before:
            # the limit is reached: say so once, live (no bundle); the last ones come with the result
            self.emit(
                OutputReceived(time=t, stream=kind, text="", batch=self.current_batch, skipped=cap.dropped_outputs_size)
            )

    def record_text(self, stream: str, text: str) -> None:
        records = self.records
        if records and records[-1][0] == stream:
            records[-1][1]["text/plain"] += text
        else:
            records.append((stream, {"text/plain": text}))

    def outputs(self) -> tuple[OutputRecord, ...]:
        """The records in program order; past the first half of the limit, each stream's kept
        tail comes last, then the bundles' (after the record saying how many were dropped)."""
        for stream, cap in self.caps.items():
            tail, dropped = cap.take_tail()  # past the first half (all of it when nothing was dropped)
            if tail or dropped:
                self.record_text(stream, (drop_marker(dropped) if dropped else "") + tail)
        tail_bundles = self.bundles.take_tail()
        if self.bundles.dropped_outputs:  # where the middle was dropped, one record says so
            bundles = self.bundles
            self.records.append(("display", dropped_bundle(bundles.dropped_outputs, bundles.dropped_outputs_size)))
        self.records.extend(tail_bundles)
        return tuple(OutputRecord(type=kind, data=data) for kind, data in self.records)  # type: ignore[arg-type]

    def fail(self, error: RunError) -> None:
        if self.error is None:
            self.error = error

    # -- the two tasks -------------------------------------------------------------------------
    async def go(self) -> Result:
        """Run to the end and return the result (``CancelledError`` when cancelled)."""
        self.t0 = time.monotonic()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.produce())
                tg.create_task(self.execute())
        except BaseExceptionGroup as group:
            # a task failed (e.g. the backend could not start): raise that error itself
            first = next((e for e in group.exceptions if not isinstance(e, asyncio.CancelledError)), None)
            if first is None:
                raise
            raise first from None
        finally:
            await _close_source(self.source)
        result = self.result()
        self.emit(RunFinished(time=self.now(), result=result))
        return result

    async def produce(self) -> None:
        chunker = Chunker(filename="<program>")
        pos = 0
        ended = False
        try:
            async for delta in self.source:
                t = self.now()
                self.code_parts.append(delta)
                self.delta_ends.append(pos + len(delta))
                self.delta_times.append(t)
                self.emit(DeltaReceived(time=t, text=delta, offset=pos))
                pos += len(delta)
                if self.scheduler.stream_done:
                    break  # generation was stopped: this delta arrived late, keep its text only
                self.accept(chunker.feed(delta), t)
            ended = True
        except SourceError as exc:
            self.source_failed(RunError(type=type(exc).__name__, message=str(exc), origin="source"))
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # our own run is being cancelled
            # the source's own stack cancelled its read (seen with httpx/anyio): a failed stream
            self.source_failed(
                RunError(type="StreamInterruptedError", message="the source's stream was cancelled", origin="source")
            )
        except Exception as exc:  # a user's iterable raised: recorded, never raised
            self.source_failed(RunError(type=type(exc).__name__, message=str(exc), origin="source"))
        finally:
            if ended and not self.scheduler.stream_done:
                # the stream ended: whatever is left is the final chunk
                self.accept(chunker.close(), self.now())
                self.scheduler.stream_ended()
            elif not self.scheduler.stream_done:
                self.scheduler.stream_failed()
            self.wake.set()

    def source_failed(self, error: RunError) -> None:
        if not self.scheduler.stream_done:
            self.fail(error)

    def accept(self, chunks: list[Chunk], t: float) -> None:
        for chunk in chunks:
            end = chunk.offset + len(chunk.text)
            k = bisect.bisect_left(self.delta_ends, end)
            generated = self.delta_times[min(k, len(self.delta_times) - 1)] if self.delta_times else t
            index = self.scheduler.chunk_ready(chunk.kind)
            self.chunks.append(_ChunkRec(chunk=chunk, generated_at=generated, ready_at=t))
            self.emit(ChunkReady(time=t, index=index, chunk=chunk, generated_at=generated))
        if chunks:
            self.wake.set()

    async def execute(self) -> None:
        backend = await self.ready()
        scheduler = self.scheduler
        while True:
            action = scheduler.next_action()
            if isinstance(action, Wait):
                self.wake.clear()
                if scheduler.next_action() == action:  # nothing arrived since
                    await self.wake.wait()
            elif isinstance(action, RunBatch):
                outcome = await self.run_batch(backend, action)
                failed = outcome is not None and self.error is not None
                exited = outcome is not None and self.exit_code is not None
                scheduler.batch_done(failed=failed, exited=exited and not failed)
            elif isinstance(action, FailSyntax):
                self.on_syntax_error(action.index)
            elif isinstance(action, StopGeneration):
                await self.stop_generation()
            elif isinstance(action, AwaitStreamEnd):
                self.wake.clear()
                if not scheduler.stream_done:
                    await self.wake.wait()
            else:
                assert isinstance(action, Done)
                break
        if self.last and not self.ended and self.alive and self.batches:
            await self.end_program(backend)
        else:
            await self.capture_figures(backend)

    async def stop_generation(self) -> None:
        if not self.scheduler.stream_done:
            self.stopped_early = True
            self.stop_time = self.now()
            why = str(self.error) if self.error is not None else f"the program exited ({self.exit_code})"
            self.emit(GenerationStopped(time=self.stop_time, reason=why, error=self.error))
        self.scheduler.generation_stopped()
        await _close_source(self.source)
        self.wake.set()

    def on_syntax_error(self, k: int) -> None:
        chunk = self.chunks[k].chunk
        err = chunk.error
        assert err is not None
        self.fail(
            RunError(
                type=err.type,
                message=err.message,
                line=err.line,
                line_text=err.text.strip() if err.text else None,
                origin="syntax",
                chunk=k,
                statement_line=chunk.start_line,
            )
        )

    async def run_batch(self, backend: Backend, action: RunBatch) -> Outcome | None:
        indices = tuple(action.indices)
        recs = [self.chunks[k] for k in indices]
        code = "".join(r.chunk.code for r in recs)
        if not code.strip() or all(r.chunk.is_blank for r in recs):
            return None
        index = len(self.batches)
        for r in recs:
            r.batch = index
        host_start = self.now()
        first_line = recs[0].chunk.start_line
        self.emit(
            BatchStarted(
                time=host_start, index=index, chunks=indices, first_line=first_line, last_line=recs[-1].chunk.end_line
            )
        )
        figures = action.final or self.options.live_figures or backend.figures_every_call
        split_at, line = [], first_line
        for r in recs[:-1]:  # each chunk is timed on its own: where the next one starts
            line += r.chunk.code.count("\n")
            split_at.append(line)
        self.current_batch = index
        try:
            outcome = await backend.execute(
                ExecRequest(
                    code=code,
                    first_line=first_line,
                    timeout=self.options.timeout,
                    figures=figures,
                    split_at=tuple(split_at),
                    more=not action.final and self.options.idle_work,
                    end=action.final and self.last,
                    show_traceback=self.options.show_traceback,
                    notebook=self.options.notebook,
                )
            )
        finally:
            self.current_batch = None
        host_end = self.now()
        self.ended = self.ended or (action.final and self.last)
        self.alive = outcome.survived
        if outcome.part_times:
            times = list(outcome.part_times)[: len(recs)]  # chunks after a failure did not run
            for k, r in enumerate(recs):
                r.timed = True
                if k < len(times):
                    r.exec_start, r.exec_end = times[k][0] - self.t0, times[k][1] - self.t0
        self.figures_pending = not figures and outcome.survived
        self.figures.extend(outcome.figures)
        exec_start = outcome.started_at - self.t0 if outcome.started_at else host_start
        exec_end = outcome.ended_at - self.t0 if outcome.ended_at else host_end
        setup = max(0.0, (host_end - host_start) - max(0.0, exec_end - exec_start))
        self.batches.append(
            BatchTiming(
                index=index,
                chunks=indices,
                start=host_start,
                end=host_end,
                exec_start=exec_start,
                exec_end=exec_end,
                setup=setup,
                ok=outcome.ok,
            )
        )
        self.outcomes.append(outcome)
        if outcome.state_lost or outcome.fresh_session:
            self.state_lost = True
            why = "the session was restarted" if outcome.fresh_session else "the session's interpreter was lost"
            self.emit(StateLost(time=host_end, reason=why, batch=index))
        if outcome.exit_code is not None:
            self.exit_code = outcome.exit_code
        error = self.error_of(outcome, recs, indices)
        if error is not None:
            self.fail(error)
        self.emit(BatchEnded(time=host_end, index=index, chunks=indices, outcome=outcome, error=error))
        return outcome

    def error_of(self, outcome: Outcome, recs: list[_ChunkRec], indices: tuple[int, ...]) -> RunError | None:
        """The run's record of a failed call, with the statement that was running located from
        the structured frames (or, failing that, the part timings)."""
        if outcome.timed_out:
            line = outcome.error.line if outcome.error else None
            base = RunError(
                type="TimeoutError",
                message=f"a statement exceeded the {self.options.timeout:g}s timeout",
                line=line,
                origin="backend",
            )
        elif not outcome.survived:
            base = RunError(
                type="SessionDied",
                message=f"the interpreter session died (exit status {outcome.exit_status})",
                origin="backend",
            )
        elif outcome.error is not None and outcome.exit_code != 0:
            base = RunError.from_exec(outcome.error)
            if base.type in _SYNTAX_TYPES and base.origin == "runtime":
                base = dataclasses.replace(base, origin="syntax")
        else:
            return None
        k = self.failing_chunk(outcome, recs)
        if k is None:
            return base
        return dataclasses.replace(base, chunk=indices[k], statement_line=recs[k].chunk.start_line)

    @staticmethod
    def failing_chunk(outcome: Outcome, recs: list[_ChunkRec]) -> int | None:
        """Position in ``recs`` of the statement that was running when the call failed."""
        lines: list[int] = []
        if outcome.error is not None:
            for frame in outcome.error.frames:
                if frame.line is not None and frame.in_program:
                    lines.append(frame.line)
            if outcome.error.line is not None:
                lines.append(outcome.error.line)
        for line in lines:  # outermost frame in the program first: the statement running
            for k, r in enumerate(recs):
                if r.chunk.start_line <= line <= r.chunk.end_line:
                    return k
        if outcome.part_times:  # the part that started last is the one that failed
            return min(len(outcome.part_times), len(recs)) - 1
        return 0 if recs else None

    async def capture_figures(self, backend: Backend) -> None:
        """Capture the figures the last batches left uncaptured with one empty call; its time is
        added to the last batch (drawing is part of that call's overhead in serial mode too)."""
        if not self.figures_pending or not self.batches:
            return
        await self.closing_call(backend, end=False)

    async def end_program(self, backend: Backend) -> None:
        """The program stopped before its final batch (an error, an exit, a stop): end it as
        Python would (join threads, run atexit) in one empty call that also captures figures."""
        self.ended = True
        await self.closing_call(backend, end=True)

    async def closing_call(self, backend: Backend, *, end: bool) -> None:
        self.figures_pending = False
        next_line = max(self.chunks[k].chunk.end_line for k in self.batches[-1].chunks) + 1
        self.current_batch = self.batches[-1].index
        try:
            outcome = await backend.execute(
                ExecRequest(
                    code="",
                    first_line=next_line,
                    timeout=self.options.timeout,
                    figures=True,
                    end=end,
                    show_traceback=self.options.show_traceback,
                    notebook=self.options.notebook,
                )
            )
        finally:
            self.current_batch = None
        self.outcomes.append(outcome)
        self.figures.extend(outcome.figures)
        if outcome.exit_code is not None and self.exit_code is None:
            self.exit_code = outcome.exit_code
        if outcome.error is not None and self.error is None and outcome.exit_code != 0:
            self.fail(RunError.from_exec(outcome.error))
        batch = self.batches[-1]
        t_end = self.now()
        setup = max(0.0, (t_end - batch.start) - max(0.0, batch.exec_end - batch.exec_start))
        self.batches[-1] = dataclasses.replace(batch, end=t_end, setup=setup)

    # -- the result ------------------------------------------------------------------------------
    def exit_status(self) -> int | None:
        """``sys.exit``'s status; when the program ended with this run (``last``), the status
        ``python prog.py`` exits with: 1 after an uncaught error or a syntax error."""
        code = self.exit_code
        if code is not None and code < 0:
            code = 128 - code  # ended by signal N (an uncaught KeyboardInterrupt: SIGINT): as a shell sees it
        if self.last and self.error is not None:
            if self.error.type == "TimeoutError" or (self.error.origin in ("runtime", "syntax") and not code):
                return 1
        return code

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
                    text=r.chunk.text,
                    generated_at=r.generated_at,
                    ready_at=r.ready_at,
                    batch=r.batch,
                    exec_start=r.exec_start if r.timed else (b.exec_start if b else None),
                    exec_end=r.exec_end if r.timed else (b.exec_end if b else None),
                )
            )
        out, err = self.caps["stdout"], self.caps["stderr"]
        stdout, stderr = out.text(), err.text()
        dropped = out.dropped + err.dropped + self.bundles.dropped
        outputs = self.outputs()
        tps = self.source.tps if isinstance(self.source, ReplaySource) else None
        return Result(
            mode=self.mode,
            code="".join(self.code_parts),
            stdout=stdout,
            stderr=stderr,
            figures=tuple(self.figures),
            error=self.error,
            exit_code=self.exit_status(),
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
            backend=self.backend.name,
            tps=tps,
            state_lost=self.state_lost,
            output_dropped=dropped,
            outputs=outputs,
            outputs_dropped=self.bundles.dropped_outputs,
            extra={"t0_monotonic": self.t0, "stopped_at": self.stop_time},
        )


async def _close_source(source: Source) -> None:
    """Close the source; a failure to close is not the run's failure (cancellation still is)."""
    try:
        await source.aclose()
    except Exception:
        pass
