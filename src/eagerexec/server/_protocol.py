"""The WebSocket protocol of ``/v1/stream``, without I/O: client messages in, server messages out.

Strategy (sans-IO): ``parse_client`` turns one text frame into a ``Delta``, an ``End`` or a
``ProtocolError`` (never raises); ``ProgramState`` is the little state machine of one connection's
programs (idle -> streaming -> ended -> idle on ``result``; a program stopped early by an error
discards its remaining deltas until the client's ``end``); ``event_message`` maps the pipeline's
typed events to the JSON records the client reads. The app only moves frames. See
docs/protocol.md for the contract.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

from ..pipeline import BatchEnded, ChunkReady, Event, GenerationStopped, OutputReceived, RunError, StateLost

__all__ = [
    "CLOSE_BAD_DATA",
    "CLOSE_GOING_AWAY",
    "CLOSE_IDLE",
    "CLOSE_LIMIT",
    "CLOSE_TOO_BIG",
    "Delta",
    "End",
    "ErrorMessage",
    "Phase",
    "ProgramState",
    "ProtocolError",
    "error_message",
    "event_error",
    "event_message",
    "parse_client",
    "run_error_message",
]

CLOSE_GOING_AWAY = 1001
"""The server is shutting down."""
CLOSE_BAD_DATA = 1003
"""A binary frame: the protocol is JSON text."""
CLOSE_TOO_BIG = 1009
"""A message larger than the server's ``max_message``."""
CLOSE_IDLE = 4408
"""The connection was idle longer than the server's ``idle_ttl``."""
CLOSE_LIMIT = 4429
"""Too many sessions (for this token, or on the server)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Delta:
    """``{"type": "delta", "text": ...}``: the next piece of the program."""

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class End:
    """``{"type": "end"}``: the model stopped; the program is complete."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolError:
    """A message the server cannot take; the connection stays open."""

    message: str


ErrorMessage = dict[str, Any]


def parse_client(frame: str) -> Delta | End | ProtocolError:
    """Read one client text frame.

    Args:
        frame: the frame's text.

    Returns:
        The message, or a ``ProtocolError`` saying in one line what is wrong with it.
    """
    try:
        msg = json.loads(frame)
    except ValueError as exc:
        return ProtocolError(message=f"malformed JSON: {exc}")
    if not isinstance(msg, dict):
        return ProtocolError(message="a message must be a JSON object with a 'type'")
    kind = msg.get("type")
    if kind == "delta":
        text = msg.get("text")
        if not isinstance(text, str):
            return ProtocolError(message="a delta needs 'text', a string")
        return Delta(text=text)
    if kind == "end":
        return End()
    return ProtocolError(message=f"unknown message type {kind!r}: use 'delta' or 'end'")


class Phase(enum.Enum):
    """Where a connection is in its current program."""

    IDLE = "idle"
    """No program: the next delta starts one."""
    STREAMING = "streaming"
    """Deltas are flowing into a running program."""
    STOPPED = "stopped"
    """The program stopped early (an error): its remaining deltas are discarded until ``end``."""
    ENDED = "ended"
    """``end`` received: the result is on its way; a delta now is an error."""


class ProgramState:
    """The program phase of one connection (sans-IO).

    ``on_delta``/``on_end`` say what to do with a client message; ``on_stopped`` and
    ``on_result`` record what the run did.
    """

    def __init__(self) -> None:
        self.phase = Phase.IDLE

    def on_delta(self) -> str:
        """A delta arrived. Returns ``start`` (begin a program with it), ``feed``, ``drop``
        (it belongs to a program stopped early) or ``error`` (a delta after ``end``)."""
        if self.phase is Phase.IDLE:
            self.phase = Phase.STREAMING
            return "start"
        if self.phase is Phase.STREAMING:
            return "feed"
        if self.phase is Phase.STOPPED:
            return "drop"
        return "error"

    def on_end(self) -> str:
        """``end`` arrived. Returns ``start_empty`` (an empty program), ``finish`` or ``error``."""
        if self.phase is Phase.IDLE:
            self.phase = Phase.ENDED
            return "start_empty"
        if self.phase in (Phase.STREAMING, Phase.STOPPED):
            self.phase = Phase.ENDED
            return "finish"
        return "error"

    def on_stopped(self) -> None:
        """The run stopped pulling deltas before ``end`` (early stop)."""
        if self.phase is Phase.STREAMING:
            self.phase = Phase.STOPPED

    def on_result(self) -> None:
        """The result was sent: the next delta starts the next program."""
        self.phase = Phase.IDLE


def error_message(kind: str, message: str, *, stop: bool, **more: Any) -> ErrorMessage:
    """A server ``error`` record that is not the program's own error (protocol, limits)."""
    return {
        "type": "error",
        "stop": stop,
        "error": {"type": kind, "message": message, "line": None, "traceback": "", "origin": "server", **more},
    }


def run_error_message(error: RunError, *, stop: bool) -> ErrorMessage:
    """The ``error`` record of a failed statement (the ``RunError``'s JSON)."""
    return {"type": "error", "stop": stop, "error": error.to_dict()}


def event_message(event: Event, *, stop_on_error: bool = True) -> ErrorMessage | None:
    """The record a client receives for one pipeline event, or None (not sent).

    Output is ``output`` (``stdout``/``stderr`` text) or ``display``: a figure (``kind``
    ``figure``, with the PNG's ``path`` the caller replaces by its ``image/png``), ``display(obj)``
    (``kind`` ``display``) or the value of a top-level expression (``kind`` ``result``), with
    the MIME bundle in ``data``. ``error`` records are left to the caller (one per run, see
    ``run_error_message``), except that this returns None for them.
    """
    if isinstance(event, ChunkReady):
        chunk = event.chunk
        return {
            "type": "chunk",
            "index": event.index,
            "start_line": chunk.start_line,
            "end_line": chunk.end_line,
            "kind": str(chunk.kind),
            "text": chunk.text,
        }
    if isinstance(event, OutputReceived):
        if event.stream == "figure":  # the caller adds the PNG from ``path`` (and removes ``path``)
            return {"type": "display", "kind": "figure", "data": {"text/plain": "<Figure>"}, "path": event.text}
        if event.stream == "display" or event.stream == "result":  # notebook mode: a MIME bundle
            # no bundle: the output limit started dropping bundles (``data`` empty, ``skipped``)
            rich: dict[str, Any] = {"type": "display", "kind": event.stream, "data": dict(event.bundle or {})}
            if event.skipped:
                rich["skipped"] = event.skipped
            return rich
        msg: dict[str, Any] = {"type": "output", "stream": event.stream, "text": event.text}
        if event.skipped:
            msg["skipped"] = event.skipped
        return msg
    if isinstance(event, StateLost):
        return {"type": "state_lost", "reason": event.reason}
    return None


def event_error(event: Event) -> RunError | None:
    """The program error an event reports (a failed call, or the reason generation stopped)."""
    if isinstance(event, BatchEnded | GenerationStopped):
        return event.error
    return None
