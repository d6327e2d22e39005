"""The pipeline layer: a pure scheduler driven by asyncio, the session, the run's typed record.

``Session`` runs streamed programs on a backend; ``Scheduler`` (``_scheduler.py``) holds every
batching, gating and early-stop rule as a sans-IO state machine; ``_events.py`` is the one typed
record a caller receives; ``Result`` is what a run produced.
"""

from ._events import (
    BatchEnded,
    BatchStarted,
    ChunkReady,
    DeltaReceived,
    Event,
    GenerationStopped,
    OutputReceived,
    RunFinished,
    StateLost,
)
from ._repair import RepairReport, repair_run
from ._result import BatchTiming, ChunkTiming, Metrics, OutputRecord, Result, RunError, StreamTiming
from ._scheduler import Scheduler
from ._session import Session, SourceLike, run, run_async

__all__ = [
    "BatchEnded",
    "BatchStarted",
    "BatchTiming",
    "ChunkReady",
    "ChunkTiming",
    "DeltaReceived",
    "Event",
    "GenerationStopped",
    "Metrics",
    "OutputReceived",
    "OutputRecord",
    "RepairReport",
    "Result",
    "RunError",
    "RunFinished",
    "Scheduler",
    "Session",
    "SourceLike",
    "StateLost",
    "StreamTiming",
    "repair_run",
    "run",
    "run_async",
]
