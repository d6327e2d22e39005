"""``eager serve``: eager execution as a WebSocket/HTTP service (docs/protocol.md).

Strategy: parse options into one ``ServerConfig`` (its checks give the one-line usage errors),
refuse a non-loopback host without a token, then hand over to ``server._run.serve`` (uvicorn).
The server package is imported only here, so the CLI starts without the ``server`` extra.
"""

from __future__ import annotations

import os

import click

from .._exceptions import UsageError
from ._errors import Number

__all__ = ["serve_command"]


def _parse_size(text: str | None) -> int | None:
    if text is None:
        return None
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().removesuffix("b")
    scale = units.get(t[-1:], 1)
    try:
        value = int(float(t[:-1] if t[-1:] in units else t) * scale)
    except ValueError:
        raise UsageError(f"not a size: {text!r} (use e.g. 512M or 2G)") from None
    return value


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one).")
@click.option("--token", "tokens", multiple=True, help="Accepted bearer token (repeatable; default: $EAGER_TOKEN).")
@click.option("--backend", default="sandbox", show_default=True, help="Backend of every session.")
@click.option("--python", default=None, help="Interpreter of the sessions.")
@click.option("--timeout", type=Number(0, min_open=True), default=30.0, show_default=True, help="Seconds per statement.")
@click.option("--memory", default=None, help="Memory per session (sandbox), e.g. 1G.")
@click.option(
    "--max-output",
    type=click.IntRange(2),
    default=100_000,
    show_default=True,
    help="Characters of stdout (and of stderr) kept per program, head and tail; notebook bundles get the same budget.",
)
@click.option("--notebook", is_flag=True, help="Notebook output: expression values and display() as display records.")
@click.option("--idle-ttl", type=Number(0, min_open=True), default=600.0, show_default=True, help="Seconds a connection may idle.")
@click.option("--max-message", default="1M", show_default=True, help="Largest client message.")
@click.option("--max-sessions-per-token", type=click.IntRange(1), default=8, show_default=True)
@click.option("--max-sessions", type=click.IntRange(1), default=64, show_default=True)
@click.option("--pool", "pool_size", type=click.IntRange(0), default=2, show_default=True, help="Warm sessions kept ready.")
@click.option(
    "--preload",
    default="numpy,pandas,matplotlib",
    show_default=True,
    help="Modules each warm session imports (comma-separated; those not installed are skipped).",
)
@click.option(
    "--fork/--no-fork",
    default=None,
    help="Fork warm sessions from one template that imported --preload (default: where the backend can).",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="auto",
    default=None,
    help="Place each session in a Ray actor on this cluster (default address: auto).",
)
@click.option(
    "--spin",
    type=Number(0),
    default=0.0,
    show_default=True,
    help="Seconds a worker polls for the next message before sleeping (0 suits many sessions on few cores).",
)
@click.option("--drain-timeout", type=Number(0, min_open=True), default=30.0, show_default=True)
@click.option("--log-level", default="info", show_default=True)
def serve_command(
    host: str,
    port: int,
    tokens: tuple[str, ...],
    backend: str,
    python: str | None,
    timeout: float,
    memory: str | None,
    max_output: int,
    notebook: bool,
    idle_ttl: float,
    max_message: str,
    max_sessions_per_token: int,
    max_sessions: int,
    pool_size: int,
    preload: str,
    fork: bool | None,
    ray_address: str | None,
    spin: float,
    drain_timeout: float,
    log_level: str,
) -> None:
    """Serve eager execution over WebSocket (/v1/stream) and HTTP (/v1/execute)."""
    from ..server import ServerConfig
    from ..server._run import serve

    if not tokens and os.environ.get("EAGER_TOKEN"):
        tokens = (os.environ["EAGER_TOKEN"],)
    size = _parse_size(max_message)
    assert size is not None
    config = ServerConfig(
        host=host,
        port=port,
        tokens=tokens,
        backend=backend,
        backend_options={"python": python} if python else {},
        notebook=notebook,
        timeout=timeout,
        memory=_parse_size(memory),
        max_output=max_output,
        idle_ttl=idle_ttl,
        max_message=size,
        max_sessions_per_token=max_sessions_per_token,
        max_sessions=max_sessions,
        pool_size=pool_size,
        preload=tuple(m.strip() for m in preload.split(",") if m.strip()),
        fork=fork,
        drain_timeout=drain_timeout,
        ray_address=ray_address,
        spin=spin,
    )
    config.check_exposure()
    from ..backends import open_backend

    open_backend(backend, **config.session_options())  # an unknown backend or option fails here, in one line
    if not config.tokens:
        click.echo("eager serve: no token: accepting local connections without authentication", err=True)
    serve(config, log_level=log_level)
