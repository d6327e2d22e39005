"""``SessionManager``: admission (limits), the warm pool, and draining, for every session.

Strategy: a session is admitted with ``claim(token)`` (a context manager counting sessions per
token and on the whole server; a limit reached raises ``LimitReached`` with a clear message, the
caller turns it into an error record). Sessions come from a ``SessionPool`` of pre-started
workers with the data stack already imported when ``pool_size`` > 0, else each starts on
demand. Every session has its own backend and so its own worker process and temporary working
directory, removed when the session closes. Draining (SIGTERM) refuses new sessions and waits
until no program is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from collections import Counter
from collections.abc import Iterator
from typing import Any

from .._exceptions import EagerError
from ..backends import SessionPool
from ..pipeline import Session
from ..pipeline._run import EventCallback
from ._config import ServerConfig
from ._ray import RaySession

__all__ = ["LimitReached", "SessionManager", "importable"]


class LimitReached(EagerError):
    """A session limit was reached (``kind``: ``SessionLimit``, ``ServerBusy``, ``Draining``)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def importable(modules: tuple[str, ...]) -> tuple[str, ...]:
    """The modules of ``modules`` this interpreter can import (the warm pool preloads those)."""
    return tuple(m for m in modules if importlib.util.find_spec(m) is not None)


class SessionManager:
    """Admits sessions, hands out backends, tracks running programs for draining.

    Args:
        config: the server's configuration.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._per_token: Counter[str] = Counter()
        self._total = 0
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._pool: SessionPool | None = None
        self.draining = False
        self.preload = importable(config.preload)
        self._ray_actor: Any = None

    @property
    def sessions(self) -> int:
        """Sessions open now."""
        return self._total

    @property
    def running(self) -> int:
        """Programs running now."""
        return self._running

    async def start(self) -> None:
        """Connect to Ray, or start the warm pool (when configured) and wait until it is ready."""
        if self.config.ray_address is not None:
            from ._ray import connect_ray

            self._ray_actor = connect_ray(self.config.ray_address)  # blocks the start-up, once
            return
        if self.config.pool_size > 0 and self._pool is None:
            pool = SessionPool(
                self.config.backend,
                size=self.config.pool_size,
                preload=self.preload,
                fork=self.config.fork if self.preload else None,
                **self.config.session_options(),
            )
            try:
                await pool.start()
            except BaseException:
                await pool.aclose()  # no template, session or directory outlives a failed start
                raise
            self._pool = pool

    async def aclose(self) -> None:
        """Close the warm pool's idle sessions (sessions in use close with their connection)."""
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None

    @contextlib.contextmanager
    def claim(self, token: str) -> Iterator[None]:
        """Count one session for ``token`` while the block runs.

        Raises:
            LimitReached: draining, the token's limit, or the server's limit is reached.
        """
        if self.draining:
            raise LimitReached("Draining", "the server is shutting down: no new sessions")
        if self._per_token[token] >= self.config.max_sessions_per_token:
            raise LimitReached(
                "SessionLimit",
                f"too many sessions for this token: {self.config.max_sessions_per_token} are open "
                "(close one, or raise --max-sessions-per-token)",
            )
        if self._total >= self.config.max_sessions:
            raise LimitReached("ServerBusy", f"the server is full: {self.config.max_sessions} sessions are open")
        self._per_token[token] += 1
        self._total += 1
        try:
            yield
        finally:
            self._per_token[token] -= 1
            if not self._per_token[token]:
                del self._per_token[token]
            self._total -= 1

    def new_session(self, *, on_event: EventCallback | None = None) -> Session | RaySession:
        """A ``Session`` (not yet entered) on its own backend, with the server's limits; in a Ray
        actor with ``ray_address``.

        Args:
            on_event: called with every event of every run.
        """
        options: dict[str, Any] = {"on_event": on_event, "notebook": self.config.notebook}
        if self._ray_actor is not None:
            return RaySession(
                self._ray_actor, self.config.backend, timeout=self.config.timeout, **options,
                **self.config.session_options(),
            )
        if self._pool is not None:
            return Session(pool=self._pool, timeout=self.config.timeout, **options)
        return Session(
            self.config.backend, timeout=self.config.timeout, **options, **self.config.session_options()
        )

    @contextlib.contextmanager
    def program(self) -> Iterator[None]:
        """Count one running program while the block runs (draining waits for them)."""
        self._running += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._running -= 1
            if not self._running:
                self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Refuse new sessions and wait until no program runs.

        Returns:
            True when every program finished within ``timeout`` seconds.
        """
        self.draining = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True
