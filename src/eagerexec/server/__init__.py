"""``eager serve``: eager execution as a service, for agents in any language.

Layers: ``_config`` (the knobs), ``_protocol`` (the WebSocket protocol, sans-IO), ``_manager``
(admission, limits, warm pool, draining), ``_connection`` (one streaming connection),
``_app`` (the Starlette routes), ``_openapi`` (the HTTP description), ``_run`` (uvicorn with
SIGTERM draining). Needs the ``server`` extra (starlette, uvicorn).
"""

from __future__ import annotations

from .._exceptions import require

require("starlette", extra="server", feature="eager serve")

from ._app import create_app  # noqa: E402
from ._config import DEFAULT_PRELOAD, ServerConfig  # noqa: E402
from ._manager import SessionManager  # noqa: E402

__all__ = ["DEFAULT_PRELOAD", "ServerConfig", "SessionManager", "create_app"]
