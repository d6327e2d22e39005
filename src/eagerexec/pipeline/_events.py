"""The one typed record of a run: the events a caller receives, in order, as the run goes.

Strategy (h11's ``_events.py``): every event is a frozen, slotted, keyword-only dataclass and
``Event`` is their union. They carry everything a consumer needs, so the CLI's live view, the
benchmark harness, the repair loop (and later a server or a framework adapter) read events and
never re-chunk the stream or re-parse a traceback:

* ``DeltaReceived``    a text delta arrived from the source (``offset`` of its first character);
* ``ChunkReady``       the chunker released statement ``index``: the ``Chunk`` itself (text, code,
                       lines, kind, syntax error) and when its last character was generated;
* ``BatchStarted``     a backend call starts running chunks ``chunks`` (indices) as batch ``index``;
* ``OutputReceived``   the program wrote ``text`` to ``stream`` (``figure``: a PNG path;
                       ``display``/``result``: a MIME ``bundle``, notebook mode) during
                       batch ``batch``; ``skipped`` characters before it (of a bundle: of its
                       own rich types) were dropped by the output limit;
* ``BatchEnded``       the call ended: its ``Outcome`` (with structured traceback frames) and, when
                       it failed, the ``RunError`` the run records (origin, failing chunk, frames);
* ``StateLost``        the session's interpreter was restarted: variables and imports are gone;
* ``GenerationStopped``generation was stopped before the stream ended (early interruption);
* ``RunFinished``      the run is over: its ``Result``.

Times are seconds since the run began (the request start), on the host's monotonic clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..backends import Outcome
from ..chunker import Chunk
from ._result import Result, RunError

__all__ = [
    "BatchEnded",
    "BatchStarted",
    "ChunkReady",
    "DeltaReceived",
    "Event",
    "GenerationStopped",
    "OutputReceived",
    "RunFinished",
    "StateLost",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeltaReceived:
    """A text delta arrived from the source."""

    time: float
    text: str
    offset: int
    """Character offset of ``text`` in the whole program."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkReady:
    """The chunker released one top-level statement (or a syntax error)."""

    time: float
    index: int
    chunk: Chunk
    generated_at: float
    """When the chunk's last character arrived (``time`` is when its completeness was certain)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchStarted:
    """A backend call starts: batch ``index`` runs ``chunks`` (chunk indices, in order)."""

    time: float
    index: int
    chunks: tuple[int, ...]
    first_line: int
    last_line: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputReceived:
    """Output of the program, live. ``stream`` ``figure`` carries a PNG path in ``text``;
    ``display`` and ``result`` (notebook mode: ``display(obj)``, a figure shown, the value of a
    top-level expression statement) carry their MIME ``bundle`` and its ``text/plain`` in ``text``.

    The output limit: a text event with ``skipped`` and empty ``text`` says, once, that the
    limit of its stream is reached (the stream's tail comes with the result). A bundle kept as
    its ``text/plain`` alone (too large for what the limit had left) comes with ``skipped`` =
    the characters of its other types; a ``display``/``result`` event with no ``bundle`` (and
    ``skipped``) says, once, that bundles are being dropped from the middle (the last ones come
    with the result, ``Result.outputs``)."""

    time: float
    stream: Literal["stdout", "stderr", "figure", "display", "result"]
    text: str
    batch: int | None = None
    skipped: int = 0
    """Characters dropped by the output limit just before ``text`` (head and tail are kept)."""
    bundle: dict[str, Any] | None = None
    """The MIME bundle of a ``display`` or ``result`` ({mime: value}, binary types base64); None
    for the notice that the limit started dropping bundles."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchEnded:
    """A backend call ended. ``error`` is what the run records when the call failed."""

    time: float
    index: int
    chunks: tuple[int, ...]
    outcome: Outcome
    error: RunError | None = None

    @property
    def ok(self) -> bool:
        """The call ran every chunk without error and the session survived."""
        return self.outcome.ok


@dataclass(frozen=True, slots=True, kw_only=True)
class StateLost:
    """The session's interpreter was restarted: what earlier statements defined is gone."""

    time: float
    reason: str
    batch: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationStopped:
    """Generation was stopped before the stream ended; ``reason`` says why."""

    time: float
    reason: str
    error: RunError | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished:
    """The run is over; nothing follows this event."""

    time: float
    result: Result


Event = (
    DeltaReceived
    | ChunkReady
    | BatchStarted
    | OutputReceived
    | BatchEnded
    | StateLost
    | GenerationStopped
    | RunFinished
)
"""Any event of a run."""
