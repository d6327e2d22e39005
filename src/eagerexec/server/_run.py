"""Run the app on uvicorn, with draining on SIGTERM.

Strategy: a ``uvicorn.Server`` whose first SIGTERM or SIGINT starts a drain instead of stopping
at once: ``/healthz`` answers 503 and new sessions are refused, running programs finish (up to
``drain_timeout``), then uvicorn shuts down as usual (open connections are closed, each session
reaps its worker, the lifespan closes the warm pool). A second signal stops at once. The process
exits with status 0 after a drain (the signal is handled, not re-raised).
"""

from __future__ import annotations

import asyncio
import math
import socket
from types import FrameType

import uvicorn

from ._app import create_app
from ._config import ServerConfig
from ._manager import SessionManager

__all__ = ["DrainingServer", "serve"]


class DrainingServer(uvicorn.Server):
    """``uvicorn.Server`` that drains the session manager before it stops."""

    def __init__(self, config: uvicorn.Config, manager: SessionManager, drain_timeout: float) -> None:
        super().__init__(config)
        self.manager = manager
        self.drain_timeout = drain_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve until stopped (see ``uvicorn.Server.serve``)."""
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First signal: drain, then stop. Second: stop now."""
        if self._loop is None or self.manager.draining:
            super().handle_exit(sig, frame)
            return
        self.manager.draining = True
        self._loop.call_soon_threadsafe(self._begin_drain)

    def _begin_drain(self) -> None:
        self._drain = asyncio.get_running_loop().create_task(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        await self.manager.drain(self.drain_timeout)
        self.should_exit = True


def serve(config: ServerConfig, *, log_level: str = "info") -> None:
    """Serve ``config`` until SIGTERM/SIGINT (blocking).

    Args:
        config: the server's configuration (``check_exposure`` must have passed).
        log_level: uvicorn's log level.
    """
    manager = SessionManager(config)
    app = create_app(config, manager=manager)
    uv_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level=log_level,
        ws_max_size=config.max_message,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=max(5, math.ceil(config.drain_timeout)),
        lifespan="on",
    )
    DrainingServer(uv_config, manager, config.drain_timeout).run()
