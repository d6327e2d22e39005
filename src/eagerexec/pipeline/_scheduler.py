"""The executor's decisions as one pure state machine: batching, gating and early stop.

Strategy (h11's ``_connection.py``): no I/O, no clock, no asyncio. The driver tells the
scheduler what happened (``chunk_ready``, ``stream_ended``, ``stream_failed``, ``batch_done``)
and asks ``next_action()`` what to do now. The asyncio pipeline and the latency model's
simulation (``eagerexec.model.simulate_batched``) both drive this class, so the rule exists once
and is tested without processes.

The rules
---------
Chunks are numbered 0, 1, ... in the order the chunker releases them; ``pending`` is every chunk
from the first one not yet dispatched to the last one received.

1. Dynamic batching (eager mode): when no call is running, all pending chunks run as one call
   (the per-call overhead is paid once per batch).
2. Gating: while the stream goes on, trailing ``definition`` chunks are held back and ride with
   the next chunk (a definition alone rarely costs anything; its call would). Imports and
   statements are never held. At the end of the stream nothing is held.
3. A ``syntax_error`` chunk ends the runnable prefix: the chunks before it run first; when it is
   the first pending chunk the run fails on it (``FailSyntax``) and stops.
4. Serial mode: nothing runs before the stream has ended; then everything runs as one call. A
   stream that failed runs nothing in serial mode (a truncated program is never run as a whole);
   in eager mode the chunks already received still run. A program holding a ``syntax_error``
   chunk runs nothing in serial mode (``FailSyntax`` on the first one), as Python refuses it.
5. Early stop: when a call fails or the program exits, nothing more runs. With
   ``stop_on_error`` (or when the program exited on its own) generation is stopped
   (``StopGeneration``); otherwise the stream is drained to its end (``AwaitStreamEnd``) and the
   error reported then (complete-code semantics).
6. A call is ``final`` when it runs the program's last chunk: serial mode, or the stream has
   ended and the call takes every chunk. The driver captures figures on final calls only.

States: ``RUNNING`` (dispatching), ``BUSY`` (a call runs), ``STOPPING`` (stop generation, then
done), ``DRAINING`` (wait for the stream's end, then done), ``DONE``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .._exceptions import UsageError
from ..chunker import ChunkKind

__all__ = [
    "Action",
    "AwaitStreamEnd",
    "Done",
    "FailSyntax",
    "RunBatch",
    "Scheduler",
    "StopGeneration",
    "Wait",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunBatch:
    """Run chunks ``first..last`` (inclusive) as one call; ``final``: it ends the program."""

    first: int
    last: int
    final: bool

    @property
    def indices(self) -> range:
        """The chunk indices of the batch."""
        return range(self.first, self.last + 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Wait:
    """Nothing to do until the next input (a chunk, the stream's end)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FailSyntax:
    """Chunk ``index`` does not compile and nothing runnable precedes it: the run fails on it."""

    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StopGeneration:
    """Stop the source now (early interruption); then the run is done."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AwaitStreamEnd:
    """Let the source run to its end without executing anything more; then the run is done."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Done:
    """Nothing is left to do."""


Action = RunBatch | Wait | FailSyntax | StopGeneration | AwaitStreamEnd | Done


class _State(enum.Enum):
    RUNNING = "running"
    BUSY = "busy"
    STOPPING = "stopping"
    DRAINING = "draining"
    DONE = "done"


_WAIT = Wait()
_DONE = Done()
_DRAIN = AwaitStreamEnd()


class Scheduler:
    """Decides, from what happened so far, what the executor does next (see the module rules).

    Args:
        mode: ``eager`` or ``serial``.
        gating: hold trailing definitions back while the stream goes on (rule 2).
        stop_on_error: stop generation at the first failure (rule 5).
    """

    __slots__ = (
        "_first_syntax",
        "_kinds",
        "_last_plain",
        "_next",
        "_state",
        "_stop_error",
        "_stream_done",
        "_stream_failed",
        "gating",
        "mode",
        "stop_on_error",
    )

    def __init__(self, *, mode: str = "eager", gating: bool = True, stop_on_error: bool = True) -> None:
        if mode not in ("eager", "serial"):
            raise UsageError(f"unknown mode {mode!r}: use 'eager' or 'serial'")
        self.mode = mode
        self.gating = gating
        self.stop_on_error = stop_on_error
        self._kinds: list[ChunkKind] = []
        self._next = 0  # first chunk not yet dispatched
        self._first_syntax = -1  # the first syntax_error chunk (-1: none); nothing runs past it
        self._last_plain = -1  # the last chunk that is not a definition (-1: none)
        self._state = _State.RUNNING
        self._stream_done = False
        self._stream_failed = False
        self._stop_error = False

    # -- inputs ---------------------------------------------------------------------------
    def chunk_ready(self, kind: ChunkKind) -> int:
        """A chunk of this kind left the chunker; returns its index."""
        if self._stream_done:
            raise UsageError("chunk_ready() after the stream ended")
        index = len(self._kinds)
        self._kinds.append(kind)
        if kind is ChunkKind.SYNTAX_ERROR and self._first_syntax < 0:
            self._first_syntax = index
        if kind is not ChunkKind.DEFINITION:
            self._last_plain = index
        return index

    def stream_ended(self) -> None:
        """The source ended normally (every chunk, the final one included, was reported)."""
        self._stream_done = True

    def stream_failed(self) -> None:
        """The source failed: no more chunks will come (rule 4)."""
        self._stream_done = True
        self._stream_failed = True

    def batch_done(self, *, failed: bool = False, exited: bool = False) -> None:
        """The running call ended; ``failed``: it raised or the session died or timed out;
        ``exited``: the program asked to stop (``sys.exit``)."""
        if self._state is not _State.BUSY:
            raise UsageError("batch_done() without a running batch")
        if failed or exited:
            self._stop(error=failed)
        else:
            self._state = _State.RUNNING

    def generation_stopped(self) -> None:
        """The driver stopped the source (after ``StopGeneration``)."""
        self._stream_done = True
        if self._state is _State.STOPPING:
            self._state = _State.DONE

    # -- state ----------------------------------------------------------------------------
    @property
    def chunks(self) -> int:
        """Number of chunks received."""
        return len(self._kinds)

    @property
    def dispatched(self) -> int:
        """Number of chunks dispatched (run, or skipped after a stop)."""
        return self._next

    @property
    def stream_done(self) -> bool:
        """The stream ended, failed or was stopped."""
        return self._stream_done

    @property
    def done(self) -> bool:
        """Nothing is left to do."""
        return self._state is _State.DONE

    # -- output ---------------------------------------------------------------------------
    def next_action(self) -> Action:
        """What the executor does now (calling it again without new input gives the same)."""
        state = self._state
        if state is _State.DONE:
            return _DONE
        if state is _State.BUSY:
            return _WAIT
        if state is _State.STOPPING:
            if self._stream_done:
                self._state = _State.DONE
                return _DONE
            return StopGeneration(reason="error" if self._stop_error else "exit")
        if state is _State.DRAINING:
            if self._stream_done:
                self._skip_rest()
                self._state = _State.DONE
                return _DONE
            return _DRAIN
        return self._dispatch()

    def _dispatch(self) -> Action:
        first, end = self._next, len(self._kinds)
        if self.mode == "serial":
            if not self._stream_done:
                return _WAIT
            if self._stream_failed or first >= end:
                self._state = _State.DONE
                return _DONE
            if self._first_syntax >= first:
                # Python refuses a file that does not compile: nothing of it runs
                self._next = end
                self._stop_error = True
                self._state = _State.DONE
                return FailSyntax(index=self._first_syntax)
            return self._start(first, end - 1)
        if first >= end:
            if self._stream_done:
                self._state = _State.DONE
                return _DONE
            return _WAIT
        # O(1) per decision: the first syntax error and the last non-definition are kept up to
        # date by chunk_ready (a run of definitions costs nothing to re-examine).
        k = self._first_syntax
        if k >= first:
            if k == first:
                self._next = end
                self._stop_error = True
                self._state = _State.STOPPING if self.stop_on_error else _State.DRAINING
                return FailSyntax(index=k)
            return self._start(first, k - 1)
        last = end - 1
        if self.gating and not self._stream_done:
            last = self._last_plain
            if last < first:
                return _WAIT
        return self._start(first, last)

    def _start(self, first: int, last: int) -> RunBatch:
        self._next = last + 1
        self._state = _State.BUSY
        final = self.mode == "serial" or (self._stream_done and self._next == len(self._kinds))
        return RunBatch(first=first, last=last, final=final)

    def _stop(self, *, error: bool) -> None:
        self._stop_error = error
        if error and not self.stop_on_error:
            self._state = _State.DRAINING
        else:
            self._state = _State.STOPPING
        self._skip_rest()

    def _skip_rest(self) -> None:
        self._next = len(self._kinds)
