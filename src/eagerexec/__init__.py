"""eagerexec: execute LLM-generated Python while the model is still streaming it.

The public API is flat and re-exported here; everything under ``eagerexec._*`` is private.
"""

from ._backends import (
    Backend,
    ExecError,
    Outcome,
    OutputEvent,
    TracebackFrame,
    open_backend,
)
from ._chunker import Chunker
from ._events import Chunk, ChunkKind, SyntaxErrorInfo
from ._exceptions import (
    BackendError,
    BackendUnavailableError,
    BenchError,
    EagerError,
    NoCodeError,
    SessionDiedError,
    SourceConnectionError,
    SourceError,
    StreamInterruptedError,
    UnknownBackendError,
    UsageError,
)

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BackendError",
    "BackendUnavailableError",
    "BenchError",
    "Chunk",
    "ChunkKind",
    "Chunker",
    "EagerError",
    "ExecError",
    "NoCodeError",
    "Outcome",
    "OutputEvent",
    "SessionDiedError",
    "SourceConnectionError",
    "SourceError",
    "StreamInterruptedError",
    "SyntaxErrorInfo",
    "TracebackFrame",
    "UnknownBackendError",
    "UsageError",
    "__version__",
    "open_backend",
]
