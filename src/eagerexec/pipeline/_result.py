"""What a pipeline run produced: the program's output and error, and a timeline of the run.

All times in a ``Result`` are seconds relative to the request start (the moment the run began
pulling from its source), measured with ``time.monotonic()`` by the host; worker-side times
(system-wide monotonic clock on Linux) are placed on the same axis.

Metrics follow the paper's section 4.4:

* ``t_gen``: generation time, request start to the last token (TTFT included);
* ``ttft``: time to first token;
* ``nel``: non-overlapped execution latency, execution time that falls after generation ended
  (serial: all of it; eager: from the last token to the end of the last execution);
* ``e2el``: end-to-end latency, ``t_gen + nel``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..backends import ExecError, TracebackFrame

__all__ = [
    "BatchTiming",
    "ChunkTiming",
    "Metrics",
    "OutputRecord",
    "Result",
    "RunError",
    "StreamTiming",
]

Mode = Literal["eager", "serial"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunError:
    """Why a run did not complete cleanly.

    Attributes:
        type: exception type (``ZeroDivisionError``, ``SyntaxError``, ``TimeoutError``,
            ``SourceConnectionError``...).
        message: one line.
        line: the failing line of the whole program, when known.
        traceback: the formatted traceback (runtime errors), else ''.
        origin: ``runtime`` (the program raised), ``syntax`` (it does not compile),
            ``source`` (the model stream failed), ``backend`` (the session died or timed out).
        line_text: the failing line's source, stripped, when known.
        frames: the traceback's frames, outermost first (structured; no need to parse
            ``traceback``).
        chunk: index of the statement (chunk) that was running when the error happened: the
            chunk holding the outermost frame in the program, or the syntax error's chunk.
        statement_line: the first line of that statement (where a repair continues from).
        printed: the traceback is already in the program's stderr, where Python prints it
            (``Session(show_traceback=True)``, or the program's own ``sys.excepthook`` ran).
    """

    type: str
    message: str
    line: int | None = None
    traceback: str = ""
    origin: Literal["runtime", "syntax", "source", "backend"] = "runtime"
    line_text: str | None = None
    frames: tuple[TracebackFrame, ...] = ()
    chunk: int | None = None
    statement_line: int | None = None
    printed: bool = False

    @classmethod
    def from_exec(cls, err: ExecError) -> RunError:
        """The run's record of an error of the call (the program's, or the worker's own failure:
        origin ``backend``)."""
        return cls(
            type=err.type,
            message=err.message,
            line=err.line,
            traceback=err.traceback,
            line_text=err.line_text,
            frames=err.frames,
            printed=err.printed,
            origin="backend" if err.internal else "runtime",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "line": self.line,
            "line_text": self.line_text,
            "origin": self.origin,
            "traceback": self.traceback,
            "frames": [
                {"filename": f.filename, "line": f.line, "name": f.name, "source": f.source} for f in self.frames
            ],
            "chunk": self.chunk,
            "statement_line": self.statement_line,
            "printed": self.printed,
        }

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.type}: {self.message}{where}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkTiming:
    """One chunk's life: generated (its last character arrived), ready (its completeness became
    certain), and executed in batch ``batch`` between ``exec_start`` and ``exec_end``: the
    chunk's own worker-side execution where the backend times parts (worker backends), else its
    batch's; None when it never ran (e.g. it came after the statement that raised)."""

    index: int
    start_line: int
    end_line: int
    kind: str
    tokens: int
    text: str
    generated_at: float
    ready_at: float
    batch: int | None = None
    exec_start: float | None = None
    exec_end: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "kind": self.kind,
            "tokens": self.tokens,
            "text": self.text,
            "generated_at": self.generated_at,
            "ready_at": self.ready_at,
            "batch": self.batch,
            "exec_start": self.exec_start,
            "exec_end": self.exec_end,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchTiming:
    """One backend call: the chunks it ran, host-side call start/end, worker-side execution
    start/end, and ``setup`` = the call's overhead (host round trip minus worker execution)."""

    index: int
    chunks: tuple[int, ...]
    start: float
    end: float
    exec_start: float
    exec_end: float
    setup: float
    ok: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "chunks": list(self.chunks),
            "start": self.start,
            "end": self.end,
            "exec_start": self.exec_start,
            "exec_end": self.exec_end,
            "setup": self.setup,
            "ok": self.ok,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamTiming:
    """The stream as seen by the pipeline (relative seconds)."""

    request_start: float = 0.0
    first_token: float | None = None
    last_token: float | None = None
    tokens: int = 0
    closed_early: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_start": self.request_start,
            "first_token": self.first_token,
            "last_token": self.last_token,
            "tokens": self.tokens,
            "closed_early": self.closed_early,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics:
    """The paper's section 4.4 metrics, in seconds."""

    t_gen: float
    ttft: float
    nel: float
    e2el: float

    def to_dict(self) -> dict[str, float]:
        return {"t_gen": self.t_gen, "ttft": self.ttft, "nel": self.nel, "e2el": self.e2el}


OutputType = Literal["stdout", "stderr", "display", "result", "figure"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputRecord:
    """One piece of the program's output, in program order, as a MIME bundle (Jupyter's model).

    ``type``: ``stdout``/``stderr`` (``data`` holds ``text/plain``), ``figure`` (``image/png``
    holds the PNG's path), ``display`` (``display(obj)``) and ``result`` (the value of a top-level
    expression, notebook mode): their bundles as the object rendered them (``text/plain`` always;
    ``text/html``, ``image/png`` as base64, ...). Consecutive text of one stream is one record.
    """

    type: OutputType
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "data": dict(self.data)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """Everything a run produced; nothing computed is ever dropped, even on failure.

    Attributes:
        mode: ``eager`` or ``serial``.
        code: the program text generated (received) so far.
        stdout, stderr: the program's output.
        figures: PNG paths of figures the program produced.
        error: why the run stopped or failed, or None.
        exit_code: set when the program called ``sys.exit`` (the status ``python file.py``
            would exit with).
        stopped_early: generation was stopped before the stream ended (early interruption).
        chunks, batches, stream: the timeline.
        metrics: ``t_gen``, ``ttft``, ``nel``, ``e2el``.
        backend: the backend's name.
        tps: the replay rate, when the source was a replay.
        state_lost: the session's interpreter was restarted during the run (a death, a kill
            after a timeout): variables and imports of earlier statements are gone.
        output_dropped: characters dropped by the output limit: of stdout and stderr (the head
            and the tail of each stream are kept) and of notebook mode's display/result bundles
            (counted by their encoded size; see ``outputs_dropped``).
        outputs: every output in program order as ``OutputRecord`` MIME bundles (the same list in
            serial and eager mode); past the output limit, the kept tails come last: each
            stream's (its text opens with the drop marker), then the last bundles kept, after a
            ``display`` record whose bundle says how many were dropped (``text/plain``, and
            ``application/vnd.eagerexec.dropped+json``: ``{"outputs": N, "characters": M}``).
        outputs_dropped: display/result bundles dropped whole by the output limit (the first
            and the last ones are kept; a bundle too large for what is left is kept as its
            ``text/plain`` alone, its other types counted in ``output_dropped`` only).
    """

    mode: Mode
    code: str
    stdout: str
    stderr: str
    figures: tuple[str, ...]
    error: RunError | None
    exit_code: int | None
    stopped_early: bool
    chunks: tuple[ChunkTiming, ...]
    batches: tuple[BatchTiming, ...]
    stream: StreamTiming
    metrics: Metrics
    backend: str
    tps: float | None = None
    state_lost: bool = False
    output_dropped: int = 0
    outputs: tuple[OutputRecord, ...] = ()
    outputs_dropped: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the program ran to its end without error (``sys.exit(0)`` is fine)."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``eager replay --json`` prints one per mode)."""
        return {
            "mode": self.mode,
            "backend": self.backend,
            "tps": self.tps,
            "code": self.code,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "figures": list(self.figures),
            "error": None if self.error is None else self.error.to_dict(),
            "exit_code": self.exit_code,
            "stopped_early": self.stopped_early,
            "state_lost": self.state_lost,
            "outputs": [o.to_dict() for o in self.outputs],
            "output_dropped": self.output_dropped,
            "outputs_dropped": self.outputs_dropped,
            "metrics": self.metrics.to_dict(),
            "timeline": {
                "stream": self.stream.to_dict(),
                "chunks": [c.to_dict() for c in self.chunks],
                "batches": [b.to_dict() for b in self.batches],
            },
            **({"extra": self.extra} if self.extra else {}),
        }
