"""The eager pipeline's schedules (section 2.2.2): the per-chunk recurrence and dynamic batching.

Strategy: plain loops over per-chunk times, O(N) each; ``eagerexec.model`` re-exports them and
documents the model as a whole. Chunks are 0-based.
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
    """Simulate dynamic batching exactly: a free session runs every dispatchable chunk as one call.

    Chunk i is dispatchable at ``r_i = max_{j<=i} t_d,j`` (chunks leave the chunker in order). A
    batch starting at ``s = max(end of previous batch, r_first)`` takes every chunk with
    ``r_j <= s`` and ends at ``s + T_setup + sum T_exe,j``. Two pointers make it O(N).

    With gating (``deferred[i]`` true, e.g. for definitions) a deferred chunk never opens a batch
    on its own: the batch waits for the next non-deferred chunk (``r_m``, m the first
    non-deferred chunk from ``first`` on, or the last chunk when none is left) and then takes
    every dispatchable chunk.

    It never ends later than the per-chunk recurrence when ``T_setup >= 0`` and deferred chunks
    take no execution time: by induction on the batches, if batch k holds chunks a..b and opens
    on m (a <= m <= b) then ``t_e,b >= max(t_e,a-1 + sum_{a..b}, r_m + sum_{m..b})`` of
    ``(T_setup + T_exe,j)``, which is at least ``max(end_{k-1}, r_m) + T_setup + sum_{a..b} T_exe
    = end_k`` (``T_exe,j = 0`` for the deferred j < m).

    Args:
        ready: ``t_d,i`` per chunk.
        exe: ``T_exe,i`` per chunk.
        setup: ``T_setup``, paid once per batch.
        deferred: per chunk, whether gating defers it (default: none is).

    Returns:
        The batches in order; the last one's ``end`` is the batched ``T_parallel``.
    """
    n = len(ready)
    if len(exe) != n or (deferred is not None and len(deferred) != n):
        raise UsageError(f"{n} ready times but {len(exe)} execution times / deferral flags")
    dispatch: list[float] = []
    running = -math.inf
    for t in ready:
        running = max(running, t)
        dispatch.append(running)
    # opener[i]: the chunk whose arrival lets a batch starting at chunk i open
    opener = list(range(n))
    if deferred is not None:
        nxt = n - 1
        for i in range(n - 1, -1, -1):
            if not deferred[i]:
                nxt = i
            opener[i] = nxt
    batches: list[Batch] = []
    free = -math.inf
    i = 0
    while i < n:
        start = max(free, dispatch[opener[i]])
        j = opener[i]
        while j + 1 < n and dispatch[j + 1] <= start:
            j += 1
        free = start + setup + math.fsum(exe[i : j + 1])
        batches.append(Batch(index=len(batches), first=i, last=j, start=start, end=free))
        i = j + 1
    return tuple(batches)
