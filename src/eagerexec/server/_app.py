"""The ASGI app of ``eager serve`` (Starlette): health, the streaming WebSocket, one-shot execute.

Strategy: routes only authenticate, admit (``SessionManager.claim``) and hand over: the
WebSocket to a ``Connection``, ``/v1/execute`` to a fresh ``Session``. A bad token is refused at
the WebSocket handshake, before ``accept``, with an HTTP 401 (the ASGI denial-response extension;
a bare close where the server lacks it). A limit reached is an error record, never an exception
that escapes a route. The warm pool starts and stops with the app's lifespan.
"""

from __future__ import annotations

import contextlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from .._exceptions import BackendError
from ..pipeline import Session
from ._config import ServerConfig
from ._connection import Connection
from ._manager import LimitReached, SessionManager
from ._openapi import openapi_schema
from ._protocol import CLOSE_GOING_AWAY, CLOSE_LIMIT, error_message

__all__ = ["create_app"]

_CLOSE_POLICY = 1008
_CLOSE_INTERNAL = 1011


def create_app(config: ServerConfig | None = None, *, manager: SessionManager | None = None) -> Starlette:
    """The ASGI application.

    Args:
        config: the server's configuration (default: ``ServerConfig()``).
        manager: a session manager to use (default: a new one for ``config``).

    Returns:
        A Starlette app; ``app.state.manager`` is its ``SessionManager``.
    """
    config = config or ServerConfig()
    manager = manager or SessionManager(config)
    schema = openapi_schema()

    def authorize(headers: Any) -> str | None:
        """The caller's token ('' without authentication), or None when refused."""
        if not config.tokens:
            return ""
        scheme, _, given = str(headers.get("authorization", "")).partition(" ")
        if scheme.lower() != "bearer":
            return None
        for token in config.tokens:
            if hmac.compare_digest(given.strip().encode(), token.encode()):
                return token
        return None

    async def healthz(request: Request) -> Response:
        body = {
            "status": "draining" if manager.draining else "ok",
            "sessions": manager.sessions,
            "running": manager.running,
        }
        return JSONResponse(body, status_code=503 if manager.draining else 200)

    async def openapi(request: Request) -> Response:
        return JSONResponse(schema)

    async def execute(request: Request) -> Response:
        token = authorize(request.headers)
        if token is None:
            return _http_error(401, "Unauthorized", "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
        body = await request.body()
        if len(body) > config.max_message:
            return _http_error(413, "MessageTooBig", f"the body may hold at most {config.max_message} bytes")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            return _http_error(400, "ProtocolError", f"malformed JSON: {exc}")
        if not isinstance(payload, dict) or not isinstance(payload.get("code"), str):
            return _http_error(400, "ProtocolError", 'the body must be {"code": "..."}')
        try:
            with manager.claim(token):
                async with manager.new_session() as session:
                    with manager.program():
                        if isinstance(session, Session):
                            result = await session.run(payload["code"], last=True)
                        else:
                            result = await session.run(_once(payload["code"]))
                    node = getattr(session, "node", None)
        except LimitReached as exc:
            return _http_error(503 if exc.kind == "Draining" else 429, exc.kind, str(exc))
        except BackendError as exc:
            return _http_error(503, "BackendError", str(exc))
        return JSONResponse({**result.to_dict(), **({"node": node} if node else {})})

    async def deny(ws: WebSocket, response: JSONResponse, close_code: int) -> None:
        if "websocket.http.response" in ws.scope.get("extensions", {}):
            await ws.send_denial_response(response)
        else:
            await ws.close(close_code)

    async def stream(ws: WebSocket) -> None:
        token = authorize(ws.headers)
        if token is None:
            unauthorized = _http_error(401, "Unauthorized", "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
            await deny(ws, unauthorized, _CLOSE_POLICY)
            return
        if manager.draining:
            await deny(ws, _http_error(503, "Draining", "the server is shutting down: no new sessions"), CLOSE_GOING_AWAY)
            return
        await ws.accept()
        try:
            with manager.claim(token):
                await Connection(ws, manager).serve()
        except LimitReached as exc:
            await ws.send_text(json.dumps(error_message(exc.kind, str(exc), stop=True)))
            await ws.close(CLOSE_LIMIT)
        except BackendError as exc:  # the session could not start (its backend, its Ray actor)
            with contextlib.suppress(Exception):
                await ws.send_text(json.dumps(error_message("BackendError", str(exc), stop=True)))
                await ws.close(_CLOSE_INTERNAL)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await manager.start()
        try:
            yield
        finally:
            await manager.aclose()

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/v1/execute", execute, methods=["POST"]),
            WebSocketRoute("/v1/stream", stream),
        ],
        lifespan=lifespan,
    )
    app.state.manager = manager
    app.state.config = config
    return app


async def _once(code: str) -> AsyncIterator[str]:
    yield code


def _http_error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status, headers=headers)
