"""The exceptions eagerexec raises, in one place.

Hierarchy::

    EagerError                      base of everything raised on purpose
    ├── UsageError                  the API was misused (feed after close, unknown option, ...)
    │   ├── UnknownBackendError     open_backend() got a name it does not know
    │   ├── UnknownOptionError      an option nobody knows (a misspelling): names it, lists the valid ones
    │   ├── SessionBusyError        a second run() or execute() while one is active
    │   └── MissingExtraError       a feature needs an optional extra that is not installed
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
    "MissingExtraError",
    "NoCodeError",
    "SessionBusyError",
    "SessionDiedError",
    "SourceConnectionError",
    "SourceError",
    "StreamInterruptedError",
    "UnknownBackendError",
    "UnknownOptionError",
    "UsageError",
]


class EagerError(Exception):
    """Base class of every exception eagerexec raises on purpose."""


class UsageError(EagerError, ValueError):
    """The API was used in a way it does not support."""


class UnknownBackendError(UsageError):
    """``open_backend`` was given a backend name it does not know."""


class UnknownOptionError(UsageError, TypeError):
    """An option that the callee does not take (a misspelling, most often).

    Attributes:
        options: the unknown option names.
        valid: the option names it does take.
    """

    def __init__(self, where: str, options: list[str] | tuple[str, ...], valid: list[str] | tuple[str, ...]) -> None:
        names = ", ".join(repr(o) for o in options)
        plural = "s" if len(options) > 1 else ""
        super().__init__(f"{where}: unknown option{plural} {names} (valid: {', '.join(sorted(valid))})")
        self.where = where
        self.options = tuple(options)
        self.valid = tuple(sorted(valid))


def check_options(where: str, given: object, valid: list[str] | tuple[str, ...] | set[str]) -> None:
    """Raise ``UnknownOptionError`` when ``given`` (option names) holds a name not in ``valid``."""
    unknown = [name for name in given if name not in valid]  # type: ignore[attr-defined]
    if unknown:
        raise UnknownOptionError(where, unknown, tuple(valid))


class SessionBusyError(UsageError):
    """A session runs one program (one backend call) at a time; another one was started."""


class MissingExtraError(UsageError, ImportError):
    """A feature needs an optional dependency: ``pip install 'eagerexec[<extra>]'``."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(f"{feature} needs the '{extra}' extra ({module} is not installed): "
                         f"pip install 'eagerexec[{extra}]'")
        self.extra = extra
        self.module = module


def require(module: str, *, extra: str, feature: str) -> object:
    """Import ``module`` or raise ``MissingExtraError`` naming the extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(feature, extra, module) from exc


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
