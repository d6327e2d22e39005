"""Backend sessions started ahead of time: ``SessionPool``.

Strategy: a queue of started sessions and a set of refill tasks. ``acquire()`` hands out a ready
session (or starts one on the spot when none is ready) and starts a replacement in the
background, so a run never waits for interpreter start-up once the pool is warm. ``aclose()``
cancels the refills, awaits them, and closes every session still in the queue.

Forking (``fork``): with ``preload``, a backend class that can fork its sessions gives the pool
one ``ForkServer`` (the extension point: a classmethod ``fork_server_for(options) -> ForkServer |
None`` given the pool's options, preload included; ``LocalBackend`` and ``SandboxBackend`` have
it, and take a ``fork_server`` option), started before the first session and passed to every
session as the ``fork_server`` option; ``aclose()`` closes it after the ready sessions (its
template ends once the sessions handed out have ended too). A pool whose start fails is closed
before the error propagates (no template or directory outlives it).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Iterable
from typing import Any, Self

from .._exceptions import UsageError
from ._base import BACKENDS, Backend, open_backend
from ._forkserver import ForkServer

__all__ = ["SessionPool"]


class SessionPool:
    """Backend sessions started ahead of time, so a run never waits for interpreter start-up.

    Args:
        backend: backend name (see ``open_backend``).
        size: sessions kept ready.
        preload: modules imported in each session at start (e.g. ``("numpy", "pandas")``).
        fork: fork every session from one template that imported ``preload`` once (a
            ``ForkServer``) instead of starting each interpreter. Default (None): on whenever
            ``preload`` is given and the backend can fork (local and sandbox, on Linux): the
            preloads' memory is then shared by every session (numpy, pandas and matplotlib: ~6 MiB
            PSS per idle session instead of ~55 MiB, 20 sessions) and a session starts without
            importing anything, while each session still behaves as a cold one (its own process,
            state, exit status; in the sandbox its own namespaces; the differences are in
            ``_worker_template.py``'s docstring: a shared hash seed, the template's start-up
            environment). True with a backend that cannot fork, or without ``preload``:
            ``UsageError``. False: cold sessions.
        **options: passed to ``open_backend``.

    Raises:
        UsageError: a bad size, ``fork=True`` where forking is not possible.
    """

    def __init__(
        self,
        backend: str = "local",
        *,
        size: int = 1,
        preload: Iterable[str] = (),
        fork: bool | None = None,
        **options: Any,
    ) -> None:
        if size < 1:
            raise UsageError("SessionPool size must be at least 1")
        self._name = backend
        self._size = size
        self._options = dict(options)
        preload = tuple(preload)
        if preload:
            self._options["preload"] = preload
        self._fork_server: ForkServer | None = None
        self._forking: asyncio.Future[None] | None = None
        if fork is None or fork:
            factory = getattr(_backend_class(backend), "fork_server_for", None) if preload else None
            server = factory(self._options) if factory is not None else None
            if fork and server is None:
                why = "without preload" if not preload else f"the {backend} backend cannot fork here"
                raise UsageError(f"SessionPool: fork=True {why}")
            self._fork_server = server
        self._ready: asyncio.Queue[Backend] = asyncio.Queue()
        self._filling: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def fork_server(self) -> ForkServer | None:
        """The pool's fork server (None: its sessions start cold)."""
        return self._fork_server

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start ``size`` sessions and wait until they are ready."""
        await asyncio.gather(*(self._fill_one() for _ in range(self._size)))

    async def _start_fork_server(self) -> None:
        """Start the fork server once (concurrent fills share the start) and hand it on."""
        server = self._fork_server
        if server is None or "fork_server" in self._options:
            return
        if self._forking is None:
            self._forking = asyncio.ensure_future(server.start())
        await asyncio.shield(self._forking)
        self._options["fork_server"] = server

    async def _fill_one(self) -> None:
        await self._start_fork_server()
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
        """Close every ready session and stop refilling, then the fork server (whose template
        ends with the last session handed out). Idempotent."""
        self._closed = True
        for task in list(self._filling):
            task.cancel()
        for task in list(self._filling):
            with contextlib.suppress(BaseException):
                await task
        try:
            while not self._ready.empty():
                await self._ready.get_nowait().aclose()
        finally:
            if self._fork_server is not None:
                if self._forking is not None and not self._forking.done():
                    with contextlib.suppress(BaseException):
                        await self._forking
                await self._fork_server.aclose()


def _backend_class(name: str) -> type | None:
    """The class registered for backend ``name`` (None when unknown: ``open_backend`` says so)."""
    target = BACKENDS.get(name)
    if target is None:
        return None
    module_name, _, class_name = target.partition(":")
    cls: type = getattr(importlib.import_module(module_name), class_name)
    return cls
