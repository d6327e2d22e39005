"""Execution backends: one persistent interpreter session behind one small interface."""

from ._base import BACKENDS, Backend, OutputCallback, open_backend
from ._forkserver import ForkServer
from ._options import (
    CommonOptions,
    DockerOptions,
    JupyterOptions,
    LimitOptions,
    LocalOptions,
    SandboxOptions,
    WorkerOptions,
)
from ._outcome import ExecError, ExecRequest, Outcome, OutputEvent, TracebackFrame
from ._pool import SessionPool

__all__ = [
    "BACKENDS",
    "Backend",
    "CommonOptions",
    "DockerOptions",
    "ExecError",
    "ExecRequest",
    "ForkServer",
    "JupyterOptions",
    "LimitOptions",
    "LocalOptions",
    "Outcome",
    "OutputCallback",
    "OutputEvent",
    "SandboxOptions",
    "SessionPool",
    "TracebackFrame",
    "WorkerOptions",
    "open_backend",
]
