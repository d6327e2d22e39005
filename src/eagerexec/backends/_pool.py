"""Backend sessions started ahead of time: ``SessionPool``.

Strategy: a queue of started sessions and a set of refill tasks. ``acquire()`` hands out a ready
session (or starts one on the spot when none is ready) and starts a replacement in the
background, so a run never waits for interpreter start-up once the pool is warm. ``aclose()``
cancels the refills, awaits them, and closes every session still in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, Self

from .._exceptions import UsageError
from ._base import Backend, open_backend

__all__ = ["SessionPool"]


class SessionPool:
    """Backend sessions started ahead of time, so a run never waits for interpreter start-up.

    Args:
        backend: backend name (see ``open_backend``).
        size: sessions kept ready.
        preload: modules imported in each session at start (e.g. ``("numpy", "pandas")``).
        **options: passed to ``open_backend``.
    """

    def __init__(self, backend: str = "local", *, size: int = 1, preload: Iterable[str] = (), **options: Any) -> None:
        if size < 1:
            raise UsageError("SessionPool size must be at least 1")
        self._name = backend
        self._size = size
        self._options = dict(options)
        preload = tuple(preload)
        if preload:
            self._options["preload"] = preload
        self._ready: asyncio.Queue[Backend] = asyncio.Queue()
        self._filling: set[asyncio.Task[None]] = set()
        self._closed = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start ``size`` sessions and wait until they are ready."""
        await asyncio.gather(*(self._fill_one() for _ in range(self._size)))

    async def _fill_one(self) -> None:
        backend = open_backend(self._name, **self._options)
        try:
            await backend.start()
        except BaseException:
            await backend.aclose()
            raise
        if self._closed:
            await backend.aclose()
            return
        self._ready.put_nowait(backend)

    async def acquire(self) -> Backend:
        """Take a started session (start one now if none is ready) and refill in the background."""
        if self._closed:
            raise UsageError("SessionPool is closed")
        if self._ready.empty():
            await self._fill_one()
        backend = self._ready.get_nowait()
        task = asyncio.get_running_loop().create_task(self._fill_one())
        self._filling.add(task)
        task.add_done_callback(self._filling.discard)
        return backend

    async def aclose(self) -> None:
        """Close every ready session and stop refilling (idempotent)."""
        self._closed = True
        for task in list(self._filling):
            task.cancel()
        for task in list(self._filling):
            with contextlib.suppress(BaseException):
                await task
        while not self._ready.empty():
            await self._ready.get_nowait().aclose()
