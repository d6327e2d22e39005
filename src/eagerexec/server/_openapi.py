"""The OpenAPI 3.1 description of the HTTP part of ``eager serve`` (served at ``/openapi.json``).

Strategy: one literal document, written next to the routes it describes and checked by the tests
against the app's routes; the WebSocket protocol is documented in docs/protocol.md (OpenAPI does
not describe WebSockets).
"""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_schema"]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def openapi_schema() -> dict[str, Any]:
    """The OpenAPI document (a fresh dict)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "eager serve",
            "version": "1",
            "description": (
                "Execute LLM-generated Python while the model streams it. Streaming clients use the "
                "WebSocket /v1/stream (see docs/protocol.md); POST /v1/execute runs a whole program."
            ),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": _ERROR,
                "ExecuteRequest": {
                    "type": "object",
                    "required": ["code"],
                    "properties": {"code": {"type": "string", "description": "the whole Python program"}},
                },
                "Result": {
                    "type": "object",
                    "description": "the same JSON as `eager replay --json` prints for one run",
                    "required": ["mode", "backend", "code", "stdout", "stderr", "error", "exit_code", "metrics"],
                    "properties": {
                        "mode": {"type": "string"},
                        "backend": {"type": "string"},
                        "code": {"type": "string"},
                        "stdout": {"type": "string"},
                        "stderr": {"type": "string"},
                        "figures": {"type": "array", "items": {"type": "string"}},
                        "error": {"type": ["object", "null"]},
                        "exit_code": {"type": ["integer", "null"]},
                        "stopped_early": {"type": "boolean"},
                        "state_lost": {"type": "boolean"},
                        "output_dropped": {"type": "integer"},
                        "outputs_dropped": {"type": "integer"},
                        "metrics": {"type": "object"},
                        "timeline": {"type": "object"},
                    },
                },
            },
        },
        "paths": {
            "/healthz": {
                "get": {
                    "summary": "Liveness and load (no authentication)",
                    "responses": {
                        "200": {"description": "serving: open sessions and running programs"},
                        "503": {"description": "draining (shutting down)"},
                    },
                }
            },
            "/v1/execute": {
                "post": {
                    "summary": "Run a whole program in a fresh session",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ExecuteRequest"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "the run's result (the program's own errors are in it)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Result"}}},
                        },
                        "400": _error_response("malformed request"),
                        "401": _error_response("missing or wrong bearer token"),
                        "413": _error_response("request larger than the server's max message"),
                        "429": _error_response("too many sessions for this token, or on the server"),
                        "503": _error_response("the server is draining"),
                    },
                }
            },
        },
    }
