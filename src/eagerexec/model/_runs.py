"""Inputs of the latency model measured elsewhere: from a recorded run, or from a source file.

Strategy: ``estimate_from_run`` reads the per-mode JSON that ``eager replay --json`` emits
(timeline of chunks and batches, all times relative to the request start) and turns it into the
model's inputs, spreading each batch's execution time over its chunks. ``token_lengths`` cuts a
source file with the chunker and counts each chunk's tokens. Both are re-exported by
``eagerexec.model``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._exceptions import UsageError
from ._predict import Prediction, predict

__all__ = ["RunEstimate", "SourceProfile", "estimate_from_run", "source_profile", "token_lengths"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEstimate:
    """Model inputs derived from one recorded run (the keyword arguments of ``predict``).

    Attributes:
        lengths: tokens per chunk (``chunks[].tokens``).
        tps: the rate of the run (``tps``; else tokens over the streaming time).
        ttft: ``timeline.stream.first_token`` (else ``metrics.ttft``).
        exe: execution time per chunk, split from its batch (0 for chunks never executed).
        setup: median of the batches' ``setup`` fields (0 when none is recorded).
        deltas: ``ready_at - generated_at`` per chunk, clamped at 0.
        tail_tokens: streamed tokens not in any chunk.
        calls: number of batches (execution calls) in the run.
        deferred: per chunk, whether its ``kind`` is ``"definition"`` (gated by the executor).
        notes: caveats found while reading the run (errors, unexecuted chunks...).
    """

    lengths: tuple[float, ...]
    tps: float
    ttft: float
    exe: tuple[float, ...]
    setup: float
    deltas: tuple[float, ...]
    tail_tokens: float
    calls: int
    deferred: tuple[bool, ...] = ()
    notes: tuple[str, ...] = ()

    def predict(self) -> Prediction:
        """``predict`` with these inputs."""
        return predict(
            self.lengths,
            tps=self.tps,
            ttft=self.ttft,
            exe=self.exe,
            setup=self.setup,
            deltas=self.deltas,
            tail_tokens=self.tail_tokens,
            deferred=self.deferred or None,
        )


def _get(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(obj, Mapping) or key not in obj:
        raise UsageError(f"run: missing '{where}{key}'")
    return obj[key]


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def _req(obj: Mapping[str, Any], key: str, where: str) -> float:
    x = _num(_get(obj, key, where))
    if x is None:
        raise UsageError(f"run: '{where}{key}' must be a finite number, got {obj[key]!r}")
    return x


def estimate_from_run(run: Mapping[str, Any]) -> RunEstimate:
    """Derive the model's inputs from one recorded run (one mode of ``eager replay --json``).

    Each batch's execution time is ``end - start - setup`` (its own ``setup`` field, else the
    median setup), split over its chunks in proportion to their ``exec_end - exec_start`` when
    every chunk of the batch has them, evenly otherwise.

    Args:
        run: ``{"tps", "metrics": {...}, "error", "timeline": {"stream": {...}, "chunks": [...],
            "batches": [...]}}``.

    Returns:
        A ``RunEstimate``; ``.predict()`` runs the model on it.

    Raises:
        UsageError: a required field is missing or not a number.
    """
    if not isinstance(run, Mapping):
        raise UsageError("run: expected a JSON object")
    timeline = _get(run, "timeline", "")
    stream = _get(timeline, "stream", "timeline.")
    chunks = sorted(_get(timeline, "chunks", "timeline."), key=lambda c: _req(c, "index", "chunks[]."))
    batches = _get(timeline, "batches", "timeline.")
    if not chunks:
        raise UsageError("run: 'timeline.chunks' is empty")
    notes: list[str] = []
    pos = {int(_req(c, "index", "chunks[].")): k for k, c in enumerate(chunks)}
    lengths = tuple(_req(c, "tokens", "chunks[].") for c in chunks)
    deltas = tuple(_delta(c) for c in chunks)

    setups = [x for b in batches if (x := _num(b.get("setup"))) is not None]
    setup = max(0.0, statistics.median(setups)) if setups else 0.0
    exe = [0.0] * len(chunks)
    executed: set[int] = set()
    for b in batches:
        members = [pos[i] for i in _get(b, "chunks", "batches[].") if i in pos]
        own_setup = _num(b.get("setup"))
        span = _req(b, "end", "batches[].") - _req(b, "start", "batches[].")
        work = max(0.0, span - (setup if own_setup is None else own_setup))
        if not members:
            continue
        measured = [_measured(chunks[k]) for k in members]
        weights: list[float]
        if all(m is not None for m in measured) and math.fsum(m or 0.0 for m in measured) > 0:
            weights = [m or 0.0 for m in measured]
        else:
            weights = [1.0] * len(members)
        scale = math.fsum(weights)
        for k, w in zip(members, weights, strict=True):
            exe[k] += work * w / scale
            executed.add(k)
    if len(executed) < len(chunks):
        notes.append(f"{len(chunks) - len(executed)} chunk(s) never executed (counted as 0 s)")
    if run.get("error"):
        notes.append("the run stopped at an error; the model assumes the whole program runs")

    tokens_streamed = _num(stream.get("tokens"))
    tail = max(0.0, tokens_streamed - math.fsum(lengths)) if tokens_streamed is not None else 0.0
    ttft = _num(stream.get("first_token"))
    if ttft is None:
        ttft = _req(_get(run, "metrics", ""), "ttft", "metrics.")
    tps = _num(run.get("tps"))
    if tps is None or tps <= 0:
        tps = _rate(stream)
    return RunEstimate(
        lengths=lengths,
        tps=tps,
        ttft=max(0.0, ttft),
        exe=tuple(exe),
        setup=setup,
        deltas=deltas,
        tail_tokens=tail,
        calls=len(batches),
        deferred=tuple(c.get("kind") == "definition" for c in chunks),
        notes=tuple(notes),
    )


def _delta(chunk: Mapping[str, Any]) -> float:
    gen, ready = _num(chunk.get("generated_at")), _num(chunk.get("ready_at"))
    if gen is None or ready is None:
        return 0.0
    return max(0.0, ready - gen)


def _measured(chunk: Mapping[str, Any]) -> float | None:
    start, end = _num(chunk.get("exec_start")), _num(chunk.get("exec_end"))
    if start is None or end is None or end < start:
        return None
    return end - start


def _rate(stream: Mapping[str, Any]) -> float:
    tokens, first, last = (_num(stream.get(k)) for k in ("tokens", "first_token", "last_token"))
    if tokens is None or first is None or last is None or last <= first or tokens < 2:
        raise UsageError("run: no usable 'tps' and the stream is too short to measure one")
    return (tokens - 1) / (last - first)


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceProfile:
    """What the model needs from a source file.

    Attributes:
        lengths: tokens per non-blank chunk (blank chunks count toward the next one).
        tail_tokens: tokens after the last non-blank chunk (trailing comments).
        deferred: per chunk, whether the executor's gating defers it (a definition).
    """

    lengths: tuple[int, ...]
    tail_tokens: int
    deferred: tuple[bool, ...]


def source_profile(source: str) -> SourceProfile:
    """Cut ``source`` with ``eagerexec.Chunker`` and count each chunk's tokens.

    Tokens are counted per chunk text with the replay source's counter (cl100k_base).
    """
    from ..chunker._chunker import Chunker
    from ..chunker._events import ChunkKind
    from ..sources import count_tokens

    chunker = Chunker()
    chunks = [*chunker.feed(source), *chunker.close()]
    count = count_tokens
    lengths: list[int] = []
    deferred: list[bool] = []
    pending = 0
    for chunk in chunks:
        pending += count(chunk.text)
        if not chunk.is_blank:
            lengths.append(pending)
            deferred.append(chunk.kind is ChunkKind.DEFINITION)
            pending = 0
    return SourceProfile(lengths=tuple(lengths), tail_tokens=pending, deferred=tuple(deferred))


def token_lengths(source: str) -> tuple[tuple[int, ...], int]:
    """Tokens per chunk of ``source``: ``(lengths, tail_tokens)`` of ``source_profile``."""
    profile = source_profile(source)
    return profile.lengths, profile.tail_tokens
