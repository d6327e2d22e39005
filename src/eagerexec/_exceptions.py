"""The exceptions eagerexec raises, in one place.

Hierarchy::

    EagerError                      base of everything raised on purpose
    ├── UsageError                  the API was misused (feed after close, unknown option, ...)
    │   └── UnknownBackendError     open_backend() got a name it does not know
    ├── BackendError                an execution backend could not do what was asked
    │   ├── BackendUnavailableError the backend cannot start here (no engine, no kernel, no bwrap)
    │   └── SessionDiedError        the session's interpreter died and could not be brought back
    ├── SourceError                 a token source failed
    │   ├── SourceConnectionError   the endpoint is unreachable or refused us (HTTP 401/429/5xx, DNS)
    │   ├── StreamInterruptedError  the stream dropped or sent malformed events mid-way
    │   └── NoCodeError             the answer held no code to run
    └── BenchError                  the benchmark harness got bad input (missing corpus, bad file)

Errors in the *generated* program are never raised: they are data (``ExecError`` in an
``Outcome``, a ``syntax_error`` chunk). Library errors from dependencies (``openai``, ``docker``,
``jupyter_client``) are mapped at the boundary with ``raise ... from``.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BackendUnavailableError",
    "BenchError",
    "EagerError",
    "NoCodeError",
    "SessionDiedError",
    "SourceConnectionError",
    "SourceError",
    "StreamInterruptedError",
    "UnknownBackendError",
    "UsageError",
]


class EagerError(Exception):
    """Base class of every exception eagerexec raises on purpose."""


class UsageError(EagerError, ValueError):
    """The API was used in a way it does not support."""


class UnknownBackendError(UsageError):
    """``open_backend`` was given a backend name it does not know."""


class BackendError(EagerError):
    """An execution backend failed."""


class BackendUnavailableError(BackendError):
    """The backend cannot run on this machine (missing binary, engine, kernel...)."""


class SessionDiedError(BackendError):
    """The interpreter session died and could not be restarted."""


class SourceError(EagerError):
    """A token source failed."""


class SourceConnectionError(SourceError):
    """The model endpoint could not be reached or refused the request."""


class StreamInterruptedError(SourceError):
    """The stream ended abnormally or carried malformed events."""


class NoCodeError(SourceError):
    """The model's answer contained no code."""


class BenchError(EagerError):
    """The benchmark harness was given bad input."""
