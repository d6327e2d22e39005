"""eagerexec: execute LLM-generated Python while the model is still streaming it.

The public API is flat and re-exported here (a test checks ``__all__``); the layers live in
``chunker``, ``backends``, ``sources``, ``pipeline``, ``model``, ``bench`` and ``cli``.

Strategy: ``import eagerexec`` loads only the exceptions; every other name is imported from its
layer on first use (PEP 562 ``__getattr__``), so the import stays light whatever extras are
installed, and a name whose extra is missing fails with one line naming the extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._exceptions import (
    BackendError,
    BackendUnavailableError,
    BenchError,
    EagerError,
    MissingExtraError,
    NoCodeError,
    SessionBusyError,
    SessionDiedError,
    SourceConnectionError,
    SourceError,
    StreamInterruptedError,
    UnknownBackendError,
    UnknownOptionError,
    UsageError,
)

if TYPE_CHECKING:
    from .backends import (
        Backend,
        ExecError,
        ExecRequest,
        ForkServer,
        Outcome,
        OutputEvent,
        SessionPool,
        TracebackFrame,
        open_backend,
    )
    from .bench._timeline import plot_timeline
    from .chunker import Chunk, Chunker, ChunkKind, SyntaxErrorInfo
    from .pipeline import (
        BatchEnded,
        BatchStarted,
        BatchTiming,
        ChunkReady,
        ChunkTiming,
        DeltaReceived,
        Event,
        GenerationStopped,
        Metrics,
        OutputReceived,
        OutputRecord,
        RepairReport,
        Result,
        RunError,
        RunFinished,
        Session,
        StateLost,
        StreamTiming,
        repair_run,
        run,
        run_async,
    )
    from .sources import IterableSource, OpenAISource, ReplaySource, Source, StreamStats, as_source

__version__ = "0.1.0"

# public name -> the module that defines it (imported on first use)
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        ["Backend", "ExecError", "ExecRequest", "ForkServer", "Outcome", "OutputEvent", "SessionPool",
         "TracebackFrame", "open_backend"],
        "eagerexec.backends",
    ),
    **dict.fromkeys(["Chunk", "ChunkKind", "Chunker", "SyntaxErrorInfo"], "eagerexec.chunker"),
    **dict.fromkeys(
        ["BatchEnded", "BatchStarted", "BatchTiming", "ChunkReady", "ChunkTiming", "DeltaReceived", "Event",
         "GenerationStopped", "Metrics", "OutputReceived", "OutputRecord", "RepairReport", "Result", "RunError", "RunFinished",
         "Session", "StateLost", "StreamTiming", "repair_run", "run", "run_async"],
        "eagerexec.pipeline",
    ),
    **dict.fromkeys(
        ["IterableSource", "OpenAISource", "ReplaySource", "Source", "StreamStats", "as_source"],
        "eagerexec.sources",
    ),
    "plot_timeline": "eagerexec.bench._timeline",
}

__all__ = [
    "Backend",
    "BackendError",
    "BackendUnavailableError",
    "BatchEnded",
    "BatchStarted",
    "BatchTiming",
    "BenchError",
    "Chunk",
    "ChunkKind",
    "ChunkReady",
    "ChunkTiming",
    "Chunker",
    "DeltaReceived",
    "EagerError",
    "Event",
    "ExecError",
    "ExecRequest",
    "ForkServer",
    "GenerationStopped",
    "IterableSource",
    "Metrics",
    "MissingExtraError",
    "NoCodeError",
    "OpenAISource",
    "Outcome",
    "OutputEvent",
    "OutputReceived",
    "OutputRecord",
    "RepairReport",
    "ReplaySource",
    "Result",
    "RunError",
    "RunFinished",
    "Session",
    "SessionBusyError",
    "SessionDiedError",
    "SessionPool",
    "Source",
    "SourceConnectionError",
    "SourceError",
    "StateLost",
    "StreamInterruptedError",
    "StreamStats",
    "StreamTiming",
    "SyntaxErrorInfo",
    "TracebackFrame",
    "UnknownBackendError",
    "UnknownOptionError",
    "UsageError",
    "__version__",
    "as_source",
    "open_backend",
    "plot_timeline",
    "repair_run",
    "run",
    "run_async",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'eagerexec' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
