"""Execution backends: one persistent interpreter session behind one small interface."""

from ._base import BACKENDS, Backend, OutputCallback, open_backend
from ._outcome import ExecError, Outcome, OutputEvent, TracebackFrame

__all__ = [
    "BACKENDS",
    "Backend",
    "ExecError",
    "Outcome",
    "OutputCallback",
    "OutputEvent",
    "TracebackFrame",
    "open_backend",
]
