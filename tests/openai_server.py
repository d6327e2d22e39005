"""A loopback OpenAI-compatible chat-completions server that plays scripted streams (test fixture).

``OpenAIServer`` is a real HTTP/1.1 server on 127.0.0.1 (random port, background thread) that
answers ``POST /v1/chat/completions`` with ``stream: true`` in server-sent events, exactly as the
OpenAI API does (``data: {chunk}`` events, then ``data: [DONE]``). Each request consumes the next
queued ``Script``: content pieces and/or tool-call argument pieces sent with a delay between
them, or an HTTP error, a dropped connection, a malformed event, or a hang. Every request is
recorded (``RequestRecord``): its JSON body, and the ``time.monotonic()`` at which the server
saw the client disconnect (EOF on the socket while waiting, or a failed write).

Use the ``openai_server`` fixture, or ``with OpenAIServer() as server:``.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = ["OpenAIServer", "RequestRecord", "Script", "openai_server"]


@dataclass
class Script:
    """One scripted answer.

    Attributes:
        content: content pieces, sent in order (one SSE event each).
        tool_args: tool-call argument pieces, sent after the content (one event each).
        tool_name: the called function's name.
        delay: seconds to wait before each piece.
        first_delay: extra seconds before the first piece (time to first token).
        header_delay: seconds before the response headers are sent.
        finish_reason: sent in the last chunk.
        status: answer with this HTTP error status (and ``error_message``) instead of a stream.
        error_message: the error's message in the JSON error body.
        drop_after: close the connection abruptly after this many pieces.
        malformed_after: send an event that is not JSON after this many pieces.
        error_event_after: send an ``{"error": ...}`` event after this many pieces, then end.
        hang_after: after this many pieces, send nothing more until the client disconnects.
    """

    content: list[str] = field(default_factory=list)
    tool_args: list[str] = field(default_factory=list)
    tool_name: str = "run_python"
    delay: float = 0.0
    first_delay: float = 0.0
    header_delay: float = 0.0
    finish_reason: str | None = None
    status: int | None = None
    error_message: str = "scripted error"
    drop_after: int | None = None
    malformed_after: int | None = None
    error_event_after: int | None = None
    hang_after: int | None = None


@dataclass
class RequestRecord:
    """What the server saw of one request."""

    path: str
    headers: dict[str, str]  # lower-case names
    body: dict[str, Any]
    started: float
    pieces_sent: int = 0
    completed: bool = False  # the whole script (and [DONE]) was sent
    disconnected_at: float | None = None  # monotonic time the client's disconnect was seen
    done: threading.Event = field(default_factory=threading.Event)


class _Disconnected(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        record = RequestRecord(
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            started=time.monotonic(),
        )
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(record)
            script = owner.scripts.popleft() if owner.scripts else None
        self.close_connection = True
        try:
            if script is not None:
                self._wait(script.header_delay, record)
            if script is None:
                self._error(500, "no script queued")
            elif script.status is not None:
                self._error(script.status, script.error_message)
            else:
                self._stream(script, record, body.get("model", "scripted"))
        except _Disconnected:
            if record.disconnected_at is None:
                record.disconnected_at = time.monotonic()
        finally:
            record.done.set()

    def _error(self, status: int, message: str) -> None:
        data = json.dumps(
            {"error": {"message": message, "type": "scripted_error", "param": None, "code": str(status)}}
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    # -- streaming --------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except OSError as exc:
            raise _Disconnected from exc

    def _event(self, obj: Any) -> None:
        payload = obj if isinstance(obj, str) else json.dumps(obj)
        self._write(f"data: {payload}\n\n".encode())

    def _wait(self, seconds: float, record: RequestRecord) -> None:
        """Sleep ``seconds`` (forever if inf) unless the client disconnects first."""
        deadline = time.monotonic() + seconds
        sock = self.connection
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self.server.owner.stopping.is_set():
                raise _Disconnected
            readable, _, _ = select.select([sock], [], [], min(left, 0.05))
            if readable:
                try:
                    peek = sock.recv(1, socket.MSG_PEEK)
                except OSError:
                    peek = b""
                if not peek:
                    record.disconnected_at = time.monotonic()
                    raise _Disconnected

    def _stream(self, script: Script, record: RequestRecord, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-scripted",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        pieces: list[dict[str, Any]] = [{"content": p} for p in script.content]
        for k, args in enumerate(script.tool_args):
            call: dict[str, Any] = {"index": 0, "function": {"arguments": args}}
            if k == 0:
                call.update(id="call_scripted", type="function")
                call["function"]["name"] = script.tool_name
            pieces.append({"tool_calls": [call]})
        if pieces:
            pieces[0] = {"role": "assistant", **pieces[0]}
        self._wait(script.first_delay, record)
        for k, delta in enumerate(pieces):
            if k == script.drop_after:
                self._drop()
            if k == script.malformed_after:
                self._event('{"id": "chatcmpl-scripted", "choices": [')
            if k == script.error_event_after:
                self._event({"error": {"message": "scripted mid-stream error", "type": "server_error"}})
                self._end()
                return
            if k == script.hang_after:
                self._wait(float("inf"), record)
            self._wait(script.delay, record)
            self._event(chunk(delta))
            record.pieces_sent += 1
        n = len(pieces)
        if script.drop_after is not None and script.drop_after >= n:
            self._drop()
        if script.hang_after is not None and script.hang_after >= n:
            self._wait(float("inf"), record)
        finish = script.finish_reason or ("tool_calls" if script.tool_args else "stop")
        self._event(chunk({}, finish))
        self._event("[DONE]")
        self._end()
        record.completed = True

    def _end(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError as exc:
            raise _Disconnected from exc

    def _drop(self) -> None:
        self.connection.shutdown(socket.SHUT_RDWR)
        raise _Disconnected


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: OpenAIServer


class OpenAIServer:
    """The loopback server. ``push(script)`` queues answers; ``requests`` records what came."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.scripts: deque[Script] = deque()
        self.requests: list[RequestRecord] = []
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``http://127.0.0.1:PORT/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *scripts: Script) -> None:
        """Queue answers, played one per request in order."""
        with self.lock:
            self.scripts.extend(scripts)

    def start(self) -> OpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    """A started ``OpenAIServer``, stopped after the test."""
    with OpenAIServer() as server:
        yield server
