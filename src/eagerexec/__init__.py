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
from ._pipeline import Session, run, run_async
from ._pool import SessionPool
from ._repair import RepairReport, repair_run
from ._result import BatchTiming, ChunkTiming, Metrics, PipelineEvent, Result, RunError, StreamTiming
from ._sources import IterableSource, OpenAISource, ReplaySource, Source, StreamStats, as_source
from ._timeline import plot_timeline

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BackendError",
    "BackendUnavailableError",
    "BatchTiming",
    "BenchError",
    "Chunk",
    "ChunkKind",
    "ChunkTiming",
    "Chunker",
    "EagerError",
    "ExecError",
    "IterableSource",
    "Metrics",
    "NoCodeError",
    "OpenAISource",
    "Outcome",
    "OutputEvent",
    "PipelineEvent",
    "RepairReport",
    "ReplaySource",
    "Result",
    "RunError",
    "Session",
    "SessionDiedError",
    "SessionPool",
    "Source",
    "SourceConnectionError",
    "SourceError",
    "StreamInterruptedError",
    "StreamStats",
    "StreamTiming",
    "SyntaxErrorInfo",
    "TracebackFrame",
    "UnknownBackendError",
    "UsageError",
    "__version__",
    "as_source",
    "open_backend",
    "plot_timeline",
    "repair_run",
    "run",
    "run_async",
]
