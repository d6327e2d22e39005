"""The host's half of the worker wire protocol: frames, requests, replies.

Strategy: pure functions, no I/O. A frame is a 4-byte big-endian length, then a body of one type
byte and a UTF-8 JSON object. ``encode_request`` turns an ``ExecRequest`` into an ``E`` frame;
``split_frames`` takes the complete frames off the front of a receive buffer; ``outcome_of``
turns an ``R`` reply (plus the call's output, collected elsewhere) into an ``Outcome``, with
structured traceback frames that say which ones are in the program's own file.

The worker (``_worker.py`` and its sibling files) keeps its own copy of the codec: it is
stdlib-only and runs under Python 3.7 to 3.13 inside sandboxes and containers, so it cannot import
this module. The two must agree; the worker's module docstring documents the protocol and is the
reference. Fields:

- request ``E``: ``i`` call id, ``src`` code, ``line`` first line, ``fig`` (only when false),
  ``cuts`` (split_at, when any), ``idle`` (``more``, when set), ``end`` (``end``, when set: after
  the code the worker joins non-daemon threads, runs ``atexit``, replies and exits), ``show``
  (``show_traceback``, when set: the worker prints an uncaught exception on the program's stderr
  as Python does), ``nb`` (``notebook``, when set), ``tp`` (``part_marks``, when set and the call
  has several parts: the host times each part on its own).
- part ``P`` (with ``tp``, as each part after the first starts): ``i``, ``k`` the part's index.
- display ``D`` (notebook mode, during a call, after the worker flushed the program's output):
  ``i``, ``kind`` (``display`` or ``result``), ``data`` (the MIME bundle), ``w`` (the worker
  waits for ``ACK_FRAME`` on its request channel, sent once the output written before the bundle
  is read); ``display_event``.
- hello ``H``: ``pid``, ``python``, ``program``, ``preload_errors``.
- reply ``R``: ``i``, ``s``/``e`` start and end (worker ``time.monotonic()``), ``err`` (type,
  message, traceback, line, line_text, frames as [filename, line, name, source], ``printed``:
  already written on the program's stderr, ``internal``: the worker itself failed), ``x`` exit
  code, ``f`` figure paths, ``p`` part times, ``q`` the worker exits after this reply.
- control channel (no frame): the 4-byte big-endian id of the call to interrupt; id 0 asks the
  worker to flush the program's buffered output now (``FLUSH_MESSAGE``).

An ``internal`` error becomes ``ExecError(type=WORKER_ERROR, internal=True)``: never the type of
an exception the program could raise, so it cannot pass for the program's own error.
"""

from __future__ import annotations

import json
import struct
from json.encoder import encode_basestring_ascii as _json_str
from typing import Any

from ._outcome import ExecError, ExecRequest, Outcome, OutputEvent, TracebackFrame

__all__ = [
    "ACK_FRAME",
    "FLUSH_MESSAGE",
    "PROGRAM_FILE",
    "WORKER_ERROR",
    "display_event",
    "encode_request",
    "error_of",
    "interrupt_message",
    "outcome_of",
    "split_frames",
]

PROGRAM_FILE = "program.py"
"""The program's file name in the session's working directory (the worker's ``__file__``)."""

WORKER_ERROR = "eagerexec.WorkerError"
"""``ExecError.type`` of a failure of the worker itself (``ExecError.internal``)."""

_HEADER = struct.Struct(">I")
_CALL_ID = struct.Struct(">I")

ACK_FRAME = _HEADER.pack(3) + b"A{}"
"""The acknowledgement of a ``D`` frame that asked for one (``w``), on the request channel."""

FLUSH_MESSAGE = _CALL_ID.pack(0)
"""What the control channel carries to ask the worker to flush the program's output now."""
# One encoder/decoder per process: json.dumps/loads with options build a new one per call.
_encode = json.JSONEncoder(separators=(",", ":")).encode
_decode = json.JSONDecoder().decode


def _json(value: object) -> bytes:
    """``value`` as ASCII JSON (a str or an int without the general encoder)."""
    if type(value) is str:
        return _json_str(value).encode("ascii")
    if type(value) is int:
        return b"%d" % value
    return _encode(value).encode("ascii")


def encode_request(call_id: int, request: ExecRequest, *, part_marks: bool = False) -> bytes:
    """The ``E`` frame (header included) that asks the worker to run ``request``; with
    ``part_marks`` and ``split_at``, the worker sends a ``P`` frame as each later part starts.

    Built by formatting, not ``json.dumps`` of a dict: the code is the one string to escape
    (ASCII JSON, as the encoder's default: a lone surrogate travels as its escape), and the
    frame is on every call's path (a dict and the encoder cost ~1.6 µs more). A field of the
    wrong type is sent as JSON makes it: the worker reports it (``WORKER_ERROR``)."""
    body = b'E{"i":%d,"src":%s,"line":%s' % (call_id, _json(request.code), _json(request.first_line))
    if not request.figures:
        body += b',"fig":false'
    if request.split_at:
        body += b',"cuts":[%s]' % b",".join(_json(cut) for cut in request.split_at)
        if part_marks:
            body += b',"tp":1'
    if request.more:
        body += b',"idle":1'
    if request.end:
        body += b',"end":1'
    if request.show_traceback:
        body += b',"show":1'
    if request.notebook:
        body += b',"nb":1'
    body += b"}"
    return _HEADER.pack(len(body)) + body


def display_event(message: dict[str, Any], time: float) -> OutputEvent | None:
    """A ``D`` frame as the ``OutputEvent`` it stands for (None when it is malformed)."""
    kind, bundle = message.get("kind"), message.get("data")
    if kind not in ("display", "result") or not isinstance(bundle, dict):
        return None
    text = bundle.get("text/plain")
    return OutputEvent(kind=kind, data=text if isinstance(text, str) else "", time=time, bundle=bundle)


def interrupt_message(call_id: int) -> bytes:
    """What the control channel carries to interrupt call ``call_id``."""
    return _CALL_ID.pack(call_id & 0xFFFFFFFF)


def split_frames(buffer: bytearray) -> list[tuple[bytes, dict[str, Any]]]:
    """Take every complete frame off the front of ``buffer`` (in place).

    Returns:
        ``(kind, message)`` pairs in order; ``kind`` is the type byte (``b"H"``, ``b"R"``...).
    """
    frames: list[tuple[bytes, dict[str, Any]]] = []
    while len(buffer) >= 4:
        (size,) = _HEADER.unpack_from(buffer)
        if len(buffer) < 4 + size:
            break
        body = bytes(buffer[4 : 4 + size])
        del buffer[: 4 + size]
        frames.append((body[:1], _decode(body[1:].decode("utf-8", "replace"))))
    return frames


def error_of(err: dict[str, Any], program: str) -> ExecError:
    """The reply's ``err`` object as an ``ExecError``; ``program`` is the program file's path as
    the worker names it (frames in that file get ``in_program``). An ``internal`` error (the
    worker failed, not the program) gets type ``WORKER_ERROR`` and its message names what the
    worker raised; its traceback (the worker's own) is kept for diagnosis."""
    if err.get("internal"):
        return ExecError(
            type=WORKER_ERROR,
            message=f"{err.get('type', '?')}: {err.get('message', '')}",
            traceback=err.get("traceback", ""),
            internal=True,
        )
    return ExecError(
        type=err["type"],
        message=err["message"],
        traceback=err.get("traceback", ""),
        line=err.get("line"),
        line_text=err.get("line_text"),
        frames=tuple(
            TracebackFrame(filename=f[0], line=f[1], name=f[2], source=f[3], in_program=f[0] == program)
            for f in err.get("frames", ())
        ),
        printed=bool(err.get("printed")),
    )


def outcome_of(
    reply: dict[str, Any],
    *,
    program: str,
    stdout: str,
    stderr: str,
    truncated: bool,
    timed_out: bool,
    fresh: bool,
    state_lost: bool = False,
) -> Outcome:
    """An ``R`` reply and the call's collected output as the call's ``Outcome``."""
    err, figures, parts = reply.get("err"), reply.get("f"), reply.get("p")
    return Outcome(
        error=error_of(err, program) if err is not None else None,
        stdout=stdout,
        stderr=stderr,
        figures=tuple(figures) if figures else (),
        started_at=reply["s"],
        ended_at=reply["e"],
        exit_code=reply.get("x"),
        timed_out=timed_out,
        state_lost=state_lost,
        fresh_session=fresh,
        truncated=truncated,
        part_times=tuple((float(a), float(b)) for a, b in parts) if parts else (),
    )
