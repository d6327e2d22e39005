"""One ``/v1/stream`` connection: a reader, a writer and at most one running program.

Strategy: structured concurrency in one ``TaskGroup`` per connection. The reader takes client
frames (never blocking on a program), checks them (text only, size, JSON, phase) and feeds the
current program's delta queue; the program task runs ``Session.run`` on an async generator over
that queue and sends the ``result`` once the run is over *and* the client's ``end`` arrived; the
writer sends every record in order from one outbound queue (event callbacks only enqueue). When
the client goes away, leaving the group cancels the program: ``Session`` interrupts the call,
kills and reaps the worker, and closing the session removes its temporary directory.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.websockets import WebSocket

from .._exceptions import BackendError
from ..pipeline import Event, GenerationStopped, Result, RunFinished, Session
from ._manager import SessionManager
from ._protocol import (
    CLOSE_BAD_DATA,
    CLOSE_IDLE,
    CLOSE_TOO_BIG,
    Delta,
    End,
    ErrorMessage,
    Phase,
    ProgramState,
    error_message,
    event_error,
    event_message,
    parse_client,
    run_error_message,
)
from ._ray import RaySession

__all__ = ["Connection"]

_MAX_FIGURE = 8 << 20
_CLOSE_INTERNAL = 1011


class _Closed(Exception):
    """The connection is over (the client left, or the server closed it)."""


class Connection:
    """Serves one accepted WebSocket with one ``Session`` until either side closes it.

    Args:
        ws: the accepted WebSocket.
        manager: the server's session manager (limits, pool, drain).
        extra: fields added to every ``result`` (e.g. the node that ran it).
    """

    def __init__(self, ws: WebSocket, manager: SessionManager, *, extra: dict[str, Any] | None = None) -> None:
        self.ws = ws
        self.manager = manager
        self.extra = extra or {}
        self.state = ProgramState()
        self._out: asyncio.Queue[ErrorMessage | int] = asyncio.Queue()
        self._flushed = asyncio.Event()
        self._deltas: asyncio.Queue[str | None] | None = None
        self._ended = asyncio.Event()
        self._error_sent = False
        self._last_active = asyncio.get_running_loop().time()

    async def serve(self) -> None:
        """Run the connection until it closes; the session is closed (worker reaped) on return."""
        session = self.manager.new_session(on_event=self._on_event)
        async with session:
            node = getattr(session, "node", None)
            if node is not None:
                self.extra["node"] = node
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._writer())
                    tg.create_task(self._watchdog())
                    await self._reader(tg, session)
                    raise _Closed
            except* _Closed:
                pass

    # -- client -> server -------------------------------------------------------------------

    async def _reader(self, tg: asyncio.TaskGroup, session: Session | RaySession) -> None:
        config = self.manager.config
        loop = asyncio.get_running_loop()
        while True:
            frame = await self.ws.receive()
            self._last_active = loop.time()
            if frame["type"] == "websocket.disconnect":
                return
            text = frame.get("text")
            if text is None:
                await self._close_with(
                    error_message("ProtocolError", "binary frames are not part of the protocol: send JSON text", stop=True),
                    CLOSE_BAD_DATA,
                )
                return
            if len(text) > config.max_message or len(text.encode()) > config.max_message:
                await self._close_with(
                    error_message("MessageTooBig", f"a message may hold at most {config.max_message} bytes", stop=True),
                    CLOSE_TOO_BIG,
                )
                return
            msg = parse_client(text)
            if isinstance(msg, Delta):
                self._on_delta(msg.text, tg, session)
            elif isinstance(msg, End):
                self._on_end(tg, session)
            else:
                self._send(error_message("ProtocolError", msg.message, stop=False))

    def _on_delta(self, text: str, tg: asyncio.TaskGroup, session: Session | RaySession) -> None:
        action = self.state.on_delta()
        if action == "start":
            self._start(tg, session)
        if action in ("start", "feed"):
            assert self._deltas is not None
            self._deltas.put_nowait(text)
        elif action == "error":
            self._send(
                error_message("ProtocolError", "a delta after 'end': wait for the result, then send the next program", stop=False)
            )

    def _on_end(self, tg: asyncio.TaskGroup, session: Session | RaySession) -> None:
        action = self.state.on_end()
        if action == "start_empty":
            self._start(tg, session)
        if action in ("start_empty", "finish"):
            assert self._deltas is not None
            self._deltas.put_nowait(None)
            self._ended.set()
        else:
            self._send(error_message("ProtocolError", "'end' twice: wait for the result", stop=False))

    async def _watchdog(self) -> None:
        """Close the connection once it was idle (no message, no program ending) for ``idle_ttl``."""
        ttl = self.manager.config.idle_ttl
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if self.state.phase is Phase.ENDED:  # waiting for the result is not idling
                self._last_active = now
            left = self._last_active + ttl - now
            if left <= 0:
                await self._close_with(
                    error_message("IdleTimeout", f"no message for {ttl:g} s: session closed", stop=True), CLOSE_IDLE
                )
                raise _Closed
            await asyncio.sleep(left)

    # -- programs ---------------------------------------------------------------------------

    def _start(self, tg: asyncio.TaskGroup, session: Session | RaySession) -> None:
        self._deltas = asyncio.Queue()
        self._ended.clear()
        self._error_sent = False
        tg.create_task(self._program(session, self._deltas))

    async def _program(self, session: Session | RaySession, deltas: asyncio.Queue[str | None]) -> None:
        async def source() -> AsyncIterator[str]:
            while (text := await deltas.get()) is not None:
                yield text

        with self.manager.program():
            try:
                result = await session.run(source())
            except BackendError as exc:
                await self._ended.wait()
                await self._close_with(error_message("BackendError", str(exc), stop=True), _CLOSE_INTERNAL)
                raise _Closed from exc
        await self._ended.wait()
        self._finish(result)

    def _finish(self, result: Result) -> None:
        if result.error is not None and not self._error_sent:
            self._send(run_error_message(result.error, stop=True))
        self._send({"type": "result", "result": {**result.to_dict(), **self.extra}})
        self._last_active = asyncio.get_running_loop().time()
        self._deltas = None
        self.state.on_result()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, GenerationStopped):
            self.state.on_stopped()
        error = event_error(event)
        if error is not None and not self._error_sent:
            self._error_sent = True
            self._send(run_error_message(error, stop=True))
        if isinstance(event, RunFinished):
            return
        msg = event_message(event)
        if msg is not None:
            if msg["type"] == "display" and "path" in msg:  # a figure: the PNG goes inline
                msg = _with_png(msg)
            self._send(msg)

    # -- server -> client -------------------------------------------------------------------

    def _send(self, msg: ErrorMessage) -> None:
        self._out.put_nowait(msg)

    async def _close_with(self, msg: ErrorMessage, code: int) -> None:
        self._send(msg)
        self._out.put_nowait(code)
        await self._flushed.wait()

    async def _writer(self) -> None:
        try:
            while True:
                item = await self._out.get()
                if isinstance(item, int):
                    with contextlib.suppress(Exception):
                        await self.ws.close(item)
                    return
                await self.ws.send_text(json.dumps(item))
        except Exception as exc:  # the client is gone: the reader sees the disconnect
            raise _Closed from exc
        finally:
            self._flushed.set()


def _with_png(msg: ErrorMessage) -> ErrorMessage:
    path = Path(msg.pop("path"))
    try:
        if path.stat().st_size <= _MAX_FIGURE:
            msg["data"]["image/png"] = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError:
        pass
    return msg
