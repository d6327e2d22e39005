"""``LoopThread``: an asyncio event loop in a daemon thread, for frameworks that call us from
synchronous code (smolagents) or from either kind (LangChain's ``invoke`` and ``ainvoke``).

Strategy: the ``CodeToolSession`` (and so the eagerexec ``Session`` and its worker process) is
bound to the loop it was entered in. Running that loop in a thread of its own lets one session
serve a whole agent run whatever thread or loop the framework calls from: ``call`` runs a
function in the loop and returns its value, ``post`` queues one without waiting (feeding argument
pieces as a stream arrives), ``submit`` schedules a coroutine and returns a
``concurrent.futures.Future`` (``asyncio.wrap_future`` makes it awaitable from another loop).
``close`` stops the loop and joins the thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .._exceptions import UsageError
from ..backends import Backend
from ..pipeline import Result
from ._common import CodeToolSession, ToolCall

__all__ = ["LoopThread", "ThreadedCodeTool"]

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread (started at construction).

    Args:
        name: the thread's name.
    """

    def __init__(self, name: str = "eagerexec-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._closed = False
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    @property
    def in_loop(self) -> bool:
        """The caller runs in this loop's thread."""
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` in the loop; its result arrives in the returned future.

        Raises:
            UsageError: the loop thread was closed.
        """
        if self._closed:
            coro.close()
            raise UsageError("the eagerexec session of this integration is closed")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in the loop's thread and return its value (blocks the caller)."""
        if self.in_loop:
            return fn(*args)

        async def once() -> T:
            return fn(*args)

        return self.submit(once()).result()

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)`` to run in the loop's thread, in order, without waiting."""
        if not self._closed:
            self.loop.call_soon_threadsafe(fn, *args)

    def close(self) -> None:
        """Stop the loop and join its thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if not self.in_loop:
            # the executor's threads (process waits) end first: none outlives the loop
            done = asyncio.run_coroutine_threadsafe(self.loop.shutdown_default_executor(), self.loop)
            try:
                done.result(timeout=10)
            except (TimeoutError, concurrent.futures.TimeoutError):
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        if not self.in_loop:
            self._thread.join(timeout=10)


class ThreadedCodeTool:
    """A ``CodeToolSession`` living in its own ``LoopThread``, callable from any thread or loop.

    Args:
        backend: backend name or instance (see ``CodeToolSession``).
        **options: ``CodeToolSession`` options (``timeout=``, ``max_output=``, ``workdir=``...).

    Raises:
        UnknownOptionError: an option the session does not take.
    """

    def __init__(self, backend: str | Backend = "sandbox", **options: Any) -> None:
        self._thread = LoopThread()

        async def open_session() -> CodeToolSession:
            session = CodeToolSession(backend, **options)
            await session.__aenter__()
            return session

        try:
            self.tools = self._thread.submit(open_session()).result()
        except BaseException:
            self._thread.close()
            raise
        self._closed = False

    @property
    def closed(self) -> bool:
        """``close()`` was called."""
        return self._closed

    def begin(self, call_id: str | None, *, raw: bool = False) -> ToolCall:
        """Start a streamed call (``CodeToolSession.begin``) and return its ``ToolCall``."""
        return self._thread.call(lambda: self.tools.begin(call_id, raw=raw))

    def feed(self, call: ToolCall, piece: str) -> None:
        """Queue a piece of the call's arguments (or code, when raw); never blocks."""
        self._thread.post(call.feed, piece)

    def end(self, call: ToolCall) -> None:
        """The call's arguments are complete."""
        self._thread.post(call.end)

    def result(self, call_id: str | None, code: str | None = None) -> Result:
        """The call's ``Result`` (blocks; see ``CodeToolSession.result``)."""
        return self._thread.submit(self.tools.result(call_id, code)).result()

    async def aresult(self, call_id: str | None, code: str | None = None) -> Result:
        """The call's ``Result``, awaited from any event loop."""
        return await asyncio.wrap_future(self._thread.submit(self.tools.result(call_id, code)))

    def close(self) -> None:
        """Close the session (the interpreter is reaped) and stop the thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._thread.submit(self.tools.aclose()).result()
        finally:
            self._thread.close()
