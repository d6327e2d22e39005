"""The eager pipeline's schedules (section 2.2.2): the per-chunk recurrence and dynamic batching.

Strategy: plain loops over per-chunk times, O(N) each; the batched schedule is an event-driven
simulation that drives the pipeline's own sans-IO ``Scheduler`` (so the batching and gating rule
exists once). ``eagerexec.model`` re-exports them and documents the model as a whole. Chunks are
0-based.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .._exceptions import UsageError

__all__ = [
    "Batch",
    "closed_form_parallel",
    "generation_times",
    "parallel_times",
    "ready_times",
    "simulate_batched",
]


def generation_times(lengths: Sequence[float], *, tps: float, ttft: float = 0.0) -> tuple[float, ...]:
    """``t_g,i = T_FT + (sum_{j<=i} l_j) / v``: when chunk i has been fully generated.

    Args:
        lengths: tokens per chunk, ``l_i``.
        tps: generation rate ``v`` in tokens per second (> 0).
        ttft: time to first token ``T_FT``.

    Returns:
        One time per chunk.
    """
    out: list[float] = []
    acc = 0.0
    for length in lengths:
        acc += length
        out.append(ttft + acc / tps)
    return tuple(out)


def ready_times(gen: Sequence[float], deltas: Sequence[float]) -> tuple[float, ...]:
    """``t_d,i = t_g,i + delta_i``: when chunk i has been detected (is ready to run)."""
    return tuple(g + d for g, d in zip(gen, deltas, strict=True))


def parallel_times(ready: Sequence[float], exe: Sequence[float], setup: float) -> tuple[float, ...]:
    """The recurrence ``t_e,i = max(t_d,i, t_e,i-1) + T_setup + T_exe,i`` (with ``t_e,0 = -inf``).

    Args:
        ready: ``t_d,i`` per chunk.
        exe: ``T_exe,i`` per chunk.
        setup: ``T_setup``, paid by every chunk's call.

    Returns:
        ``t_e,i`` per chunk; ``T_parallel`` is the last one.
    """
    out: list[float] = []
    prev = -math.inf
    for t_d, t_exe in zip(ready, exe, strict=True):
        prev = max(t_d, prev) + setup + t_exe
        out.append(prev)
    return tuple(out)


def closed_form_parallel(ready: Sequence[float], exe: Sequence[float], setup: float) -> tuple[float, int]:
    """The unrolled recurrence ``T_parallel = max_i [ t_d,i + sum_{j>=i} (T_setup + T_exe,j) ]``.

    Returns:
        ``(T_parallel, i*)`` where ``i*`` (0-based) is the chunk that starts the critical path: the
        first maximiser. ``i* = N-1`` means generation bounds the run, ``i* = 0`` execution.
    """
    best, best_i = -math.inf, 0
    tail = 0.0
    candidates: list[float] = [0.0] * len(ready)
    for i in range(len(ready) - 1, -1, -1):
        tail += setup + exe[i]
        candidates[i] = ready[i] + tail
    for i, value in enumerate(candidates):
        if value > best:
            best, best_i = value, i
    return best, best_i


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """One call of the batched executor: chunks ``first..last`` (0-based, inclusive).

    Attributes:
        index: 0-based batch number.
        first: first chunk of the batch.
        last: last chunk of the batch.
        start: when the call starts (session free and the first chunk dispatchable).
        end: ``start + T_setup + sum(T_exe of its chunks)``.
    """

    index: int
    first: int
    last: int
    start: float
    end: float

    @property
    def size(self) -> int:
        """Number of chunks in the batch."""
        return self.last - self.first + 1


def simulate_batched(
    ready: Sequence[float],
    exe: Sequence[float],
    setup: float,
    deferred: Sequence[bool] | None = None,
) -> tuple[Batch, ...]:
    """Simulate the executor's dynamic batching exactly, by driving its own ``Scheduler``.

    A simulated clock moves from event to event. Chunk i reaches the scheduler at
    ``r_i = max_{j<=i} t_d,j`` (chunks leave the chunker in order; chunks due at the same time
    arrive together) and the stream ends with the last chunk. Whenever the session is free the
    scheduler is asked what to do: a batch of chunks ``a..b`` starts now and ends at
    ``now + T_setup + sum T_exe,j``; on ``Wait`` the clock moves to the next arrival. So the rule
    (dynamic batching; with gating, trailing definitions are held back while the stream goes
    on, riding with the next chunk, and nothing is held once the stream has ended) is the
    pipeline's, written once in ``eagerexec.pipeline._scheduler``.

    It never ends later than the per-chunk recurrence when ``T_setup >= 0`` and deferred chunks
    take no execution time: by induction on the batches, if batch k holds chunks a..b and opens
    at the arrival of m (a <= m <= b; the chunks a..m-1 were held definitions), then
    ``t_e,b >= max(t_e,a-1 + sum_{a..b}, r_m + sum_{m..b})`` of ``(T_setup + T_exe,j)``, which
    is at least ``max(end_{k-1}, r_m) + T_setup + sum_{a..b} T_exe = end_k`` (``T_exe,j = 0``
    for the deferred j < m).

    Cost: O(N) work here (each chunk is fed once, each batch summed once) plus the scheduler's
    own per-decision cost.

    Args:
        ready: ``t_d,i`` per chunk.
        exe: ``T_exe,i`` per chunk.
        setup: ``T_setup``, paid once per batch.
        deferred: per chunk, whether gating defers it (a definition); ``None``: no gating.

    Returns:
        The batches in order; the last one's ``end`` is the batched ``T_parallel``.

    Raises:
        UsageError: the sequences differ in length.
    """
    from ..chunker import ChunkKind
    from ..pipeline._scheduler import RunBatch, Scheduler, Wait

    n = len(ready)
    if len(exe) != n or (deferred is not None and len(deferred) != n):
        raise UsageError(f"{n} ready times but {len(exe)} execution times / deferral flags")
    kinds = [
        ChunkKind.DEFINITION if deferred is not None and deferred[i] else ChunkKind.STATEMENT for i in range(n)
    ]
    arrival: list[float] = []
    running = -math.inf
    for t in ready:
        running = max(running, t)
        arrival.append(running)
    sched = Scheduler(mode="eager", gating=deferred is not None, stop_on_error=False)
    batches: list[Batch] = []
    now = -math.inf
    fed = 0
    if n == 0:
        sched.stream_ended()
    while True:
        # Everything that arrived by now reaches the scheduler (in order), then the stream's end.
        while fed < n and arrival[fed] <= now:
            sched.chunk_ready(kinds[fed])
            fed += 1
            if fed == n:
                sched.stream_ended()
        action = sched.next_action()
        if isinstance(action, RunBatch):
            end = now + setup + math.fsum(exe[action.first : action.last + 1])
            batches.append(Batch(index=len(batches), first=action.first, last=action.last, start=now, end=end))
            sched.batch_done()
            now = end
        elif isinstance(action, Wait) and fed < n:
            now = arrival[fed]  # the session is free: idle until the next chunk
        else:
            return tuple(batches)
