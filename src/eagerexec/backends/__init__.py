"""Execution backends: one persistent interpreter session behind one small interface."""

from ._base import BACKENDS, Backend, OutputCallback, open_backend
from ._outcome import ExecError, ExecRequest, Outcome, OutputEvent, TracebackFrame
from ._pool import SessionPool

__all__ = [
    "BACKENDS",
    "Backend",
    "ExecError",
    "ExecRequest",
    "Outcome",
    "OutputCallback",
    "OutputEvent",
    "SessionPool",
    "TracebackFrame",
    "open_backend",
]
