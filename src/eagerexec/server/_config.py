"""``ServerConfig``: every knob of ``eager serve`` in one frozen value, checked once.

Strategy: the CLI, the tests and the benchmark build the same value; the app reads it and never
looks at the environment. Limits are per session (statement timeout, memory, output cap, idle
time-to-live, message size) or per token (concurrent sessions), plus one server-wide cap on
concurrent sessions so that a flood of connections cannot exhaust the machine.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import UsageError

__all__ = ["DEFAULT_PRELOAD", "ServerConfig", "is_loopback"]

_WORKER_BACKENDS = ("local", "sandbox", "docker")

DEFAULT_PRELOAD = ("numpy", "pandas", "matplotlib")
"""The data stack a warm session has imported (each only when importable)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    """What ``eager serve`` runs with.

    Attributes:
        host, port: where to listen.
        tokens: accepted bearer tokens; empty: no authentication (loopback only).
        backend: backend of every session (default ``sandbox``).
        backend_options: more ``open_backend`` options (``python=``...).
        timeout: seconds a statement may run before it is interrupted (None: no limit).
        memory: bytes of memory per session (the sandbox's address-space limit; None: none).
        max_output: characters of stdout (and of stderr) kept per program, head and tail; notebook
            display/result bundles get a budget of the same size (by encoded size).
        notebook: notebook output in every session (``Session(notebook=True)``): expression
            values and ``display(obj)`` reach the client as ``display`` records.
        idle_ttl: seconds a connection may stay idle (no message, no program running).
        max_message: the largest client message, in bytes.
        max_sessions_per_token: concurrent sessions (connections and executes) per token.
        max_sessions: concurrent sessions on the whole server.
        pool_size: pre-started sessions kept warm (0: start each session on demand).
        preload: modules imported in each warm session (those not importable are left out).
        fork: fork the warm sessions from one template that imported ``preload`` once
            (``SessionPool(fork=)``: the preloads' memory shared, a session in milliseconds).
            None: whenever the backend can; False: each session starts its own interpreter.
        drain_timeout: seconds SIGTERM waits for running programs before stopping.
        spin: the worker backends' ``spin`` (seconds each side polls before sleeping). 0 by default
            on a server: sessions outnumber cores, and a worker spinning after each reply takes
            the CPU that the server and the other sessions need (measured: BENCHMARKS.md).
            None: the backend's own default.
        ray_address: place each session in a Ray actor on this cluster (``auto``, an address);
            None: sessions run on this machine.
    """

    host: str = "127.0.0.1"
    port: int = 8765
    tokens: tuple[str, ...] = ()
    backend: str = "sandbox"
    backend_options: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = 30.0
    memory: int | None = None
    max_output: int = 100_000
    notebook: bool = False
    idle_ttl: float = 600.0
    max_message: int = 1 << 20
    max_sessions_per_token: int = 8
    max_sessions: int = 64
    pool_size: int = 0
    preload: tuple[str, ...] = ()
    fork: bool | None = None
    drain_timeout: float = 30.0
    spin: float | None = 0.0
    ray_address: str | None = None

    def __post_init__(self) -> None:
        for name in ("timeout", "idle_ttl", "drain_timeout"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and 0 < value < math.inf):
                raise UsageError(f"{name} must be a positive number of seconds, got {value!r}")
        for name in ("max_output", "max_message", "max_sessions_per_token", "max_sessions"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise UsageError(f"{name} must be a positive integer, got {value!r}")
        if self.max_output < 2:
            raise UsageError(f"max_output must be at least 2, got {self.max_output}")
        if self.pool_size < 0:
            raise UsageError(f"pool_size must be 0 or more, got {self.pool_size}")
        if self.memory is not None and self.memory < 1:
            raise UsageError(f"memory must be a positive number of bytes, got {self.memory}")
        if not 0 <= self.port < 65536:
            raise UsageError(f"port must be between 0 and 65535, got {self.port}")
        if any(not t for t in self.tokens):
            raise UsageError("a token must not be empty")

    def check_exposure(self) -> None:
        """Refuse to listen beyond this machine without authentication.

        Raises:
            UsageError: ``host`` is not a loopback address and no token is configured.
        """
        if not self.tokens and not is_loopback(self.host):
            raise UsageError(
                f"refusing to listen on {self.host} without a token: pass --token or set EAGER_TOKEN "
                "(only a loopback host may run without one)"
            )

    def session_options(self) -> dict[str, Any]:
        """The backend options every session gets (limits included)."""
        options: dict[str, Any] = {**self.backend_options, "max_output": self.max_output}
        if self.spin is not None and self.backend in _WORKER_BACKENDS:
            options.setdefault("spin", self.spin)
        if self.memory is not None:
            options["memory"] = self.memory
        return options


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
