"""``EagerClient``: an async Python client of ``eager serve`` (docs/protocol.md).

Strategy: one WebSocket connection is one server session (its state persists across programs).
``stream(deltas)`` sends the deltas from a task of its own while it yields the server's records,
so output and errors arrive while the model is still writing; on an ``error`` with ``stop`` it
stops reading the deltas (closing an async generator, which is how an OpenAI stream is
cancelled) and sends ``end``, then yields up to the ``result``. ``openai_deltas`` turns an OpenAI
chat-completions stream into code deltas (fenced code extracted while it streams). Errors map to
the library's: a refused or failed connection is ``BackendUnavailableError``, a connection lost
mid-program ``BackendError``. Needs the ``server`` extra (websockets, httpx).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from types import TracebackType
from typing import Any, Self

from ._exceptions import BackendError, BackendUnavailableError, UsageError, require

__all__ = ["EagerClient", "execute", "openai_deltas"]

Message = dict[str, Any]


def _urls(url: str) -> tuple[str, str]:
    """(WebSocket URL of /v1/stream, HTTP base URL) from a base URL in either scheme."""
    base = url.rstrip("/")
    for suffix in ("/v1/stream", "/v1/execute"):
        base = base.removesuffix(suffix)
    if base.startswith("http://") or base.startswith("https://"):
        http = base
    elif base.startswith("ws://") or base.startswith("wss://"):
        http = "http" + base[2:]
    else:
        raise UsageError(f"not a server URL: {url!r} (use ws://host:port or http://host:port)")
    return "ws" + http[4:] + "/v1/stream", http


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


class EagerClient:
    """A connection to ``eager serve``: one session whose state persists across programs.

    Use as ``async with EagerClient("ws://127.0.0.1:8765", token) as c: async for msg in
    c.stream(deltas): ...``.

    Args:
        url: the server (``ws://``, ``wss://``, ``http://`` or ``https://``; path optional).
        token: the bearer token (None: no ``Authorization`` header).
        open_timeout: seconds the connection may take to open.
    """

    def __init__(self, url: str = "ws://127.0.0.1:8765", token: str | None = None, *, open_timeout: float = 10.0) -> None:
        self.ws_url, self.http_url = _urls(url)
        self.token = token
        self.open_timeout = open_timeout
        self._ws: Any = None
        self._busy = False

    async def __aenter__(self) -> Self:
        require("websockets", extra="server", feature="eagerexec.client")
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus, WebSocketException

        try:
            self._ws = await connect(
                self.ws_url, additional_headers=_headers(self.token), open_timeout=self.open_timeout, max_size=None
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise BackendUnavailableError(f"eager serve refused the connection: HTTP {status} ({self.ws_url})") from exc
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise BackendUnavailableError(f"cannot connect to eager serve at {self.ws_url}: {exc}") from exc
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection (the server ends the session and reaps its worker)."""
        if self._ws is not None:
            ws, self._ws = self._ws, None
            await ws.close()

    async def _recv(self) -> Message:
        from websockets.exceptions import ConnectionClosed

        try:
            frame = await self._ws.recv()
        except ConnectionClosed as exc:
            raise BackendError(f"eager serve closed the connection: {exc}") from exc
        msg: Message = json.loads(frame)
        return msg

    async def stream(
        self, deltas: str | Iterable[str] | AsyncIterable[str], *, stop_on_error: bool = True
    ) -> AsyncIterator[Message]:
        """Run one program: send ``deltas`` then ``end``, yield every server record to ``result``.

        Args:
            deltas: the program as it is generated (a string, or an (async) iterable of deltas).
            stop_on_error: stop sending deltas at the first ``error`` with ``stop`` (the model's
                stream is closed when ``deltas`` is an async generator).

        Yields:
            The server's records (``chunk``, ``output``, ``display``, ``error``, ``state_lost``),
            the last one ``result``. A ``display`` record's ``kind`` says what it is:
            ``figure``, ``display`` or ``result`` (notebook mode), its ``data`` the MIME bundle.

        Raises:
            UsageError: not connected, or another ``stream`` of this client is running.
            BackendError: the server closed the connection before the result.
        """
        if self._ws is None:
            raise UsageError("EagerClient is not connected: use `async with EagerClient(...)`")
        if self._busy:
            raise UsageError("one program at a time per EagerClient (the server runs them in order)")
        self._busy = True
        stop = asyncio.Event()
        sender = asyncio.get_running_loop().create_task(self._send_program(deltas, stop))
        try:
            while True:
                msg = await self._recv()
                if msg.get("type") == "error" and msg.get("stop") and stop_on_error:
                    stop.set()
                yield msg
                if msg.get("type") == "result":
                    break
            await sender
        finally:
            if not sender.done():
                sender.cancel()
                with contextlib.suppress(BaseException):
                    await sender
            self._busy = False

    async def _send_program(self, deltas: str | Iterable[str] | AsyncIterable[str], stop: asyncio.Event) -> None:
        ws = self._ws
        try:
            if isinstance(deltas, str):
                await ws.send(json.dumps({"type": "delta", "text": deltas}))
            elif isinstance(deltas, AsyncIterable):
                iterator = aiter(deltas)
                try:
                    while (text := await _next_unless(iterator, stop)) is not None:
                        await ws.send(json.dumps({"type": "delta", "text": text}))
                finally:
                    aclose = getattr(iterator, "aclose", None)
                    if aclose is not None:
                        await aclose()
            else:
                for text in deltas:
                    if stop.is_set():
                        break
                    await ws.send(json.dumps({"type": "delta", "text": text}))
                    await asyncio.sleep(0)
        finally:
            with contextlib.suppress(Exception):
                await ws.send(json.dumps({"type": "end"}))

    async def run(self, deltas: str | Iterable[str] | AsyncIterable[str], *, stop_on_error: bool = True) -> Message:
        """Run one program and return its ``result`` (the JSON of ``eager replay --json``)."""
        result: Message = {}
        async for msg in self.stream(deltas, stop_on_error=stop_on_error):
            if msg.get("type") == "result":
                result = msg["result"]
        return result


async def _next_unless(iterator: AsyncIterator[str], stop: asyncio.Event) -> str | None:
    """The iterator's next delta, or None when it ends or ``stop`` is set first: a model that is
    still thinking when the error arrives is stopped then (its pending ``__anext__`` is
    cancelled, which closes an async generator such as ``openai_deltas`` and its stream), not
    when its next token comes."""
    if stop.is_set():
        return None
    step: asyncio.Future[str] = asyncio.ensure_future(anext(iterator))
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((step, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not step.done():
            step.cancel()
            with contextlib.suppress(BaseException):
                await step
    if step.cancelled():
        return None
    try:
        return step.result()
    except StopAsyncIteration:
        return None


async def execute(url: str, code: str, token: str | None = None, *, timeout: float = 300.0) -> Message:
    """``POST /v1/execute``: run a whole program in a fresh session.

    Args:
        url: the server's base URL.
        code: the program.
        token: the bearer token.
        timeout: seconds to wait for the result.

    Returns:
        The result JSON.

    Raises:
        BackendUnavailableError: the server cannot be reached or refused the request.
    """
    require("httpx", extra="server", feature="eagerexec.client.execute")
    import httpx

    _, http = _urls(url)
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(f"{http}/v1/execute", json={"code": code}, headers=_headers(token))
    except httpx.HTTPError as exc:
        raise BackendUnavailableError(f"cannot reach eager serve at {http}: {exc}") from exc
    if response.status_code != 200:
        raise BackendUnavailableError(f"eager serve refused the request: HTTP {response.status_code} {response.text}")
    body: Message = response.json()
    return body


async def openai_deltas(stream: AsyncIterable[Any], *, fenced: bool = True) -> AsyncIterator[str]:
    """The code deltas of an OpenAI chat-completions stream (``stream=True``), as they arrive.

    Pass the result to ``EagerClient.stream``: when the server reports an error, the client
    closes this generator, which closes the OpenAI stream (the model request is cancelled).

    Args:
        stream: the ``AsyncStream`` of ``ChatCompletionChunk`` (anything with
            ``.choices[0].delta.content``).
        fenced: the answer is markdown and the code is inside fences (extracted while it
            streams); False: the whole answer is code.

    Yields:
        Code text.
    """
    from .sources import FenceExtractor

    fences = FenceExtractor(bare_code_fallback=True) if fenced else None
    try:
        async for chunk in stream:
            choices = getattr(chunk, "choices", None) or []
            text = getattr(getattr(choices[0], "delta", None), "content", None) if choices else None
            if not text:
                continue
            code = fences.feed(text) if fences is not None else text
            if code:
                yield code
        if fences is not None and (rest := fences.close()):
            yield rest
    finally:
        close = getattr(stream, "close", None) or getattr(stream, "aclose", None)
        if close is not None:
            result = close()
            if asyncio.iscoroutine(result):
                await result
