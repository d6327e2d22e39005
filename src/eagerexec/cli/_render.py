"""Output helpers shared by ``eager demo``, ``eager replay`` and ``eager run``.

Two views consume the pipeline's typed events (``eagerexec.pipeline._events``): ``LiveView``
(rich, on a terminal: the code as it streams, each line marked when its chunk is ready, running,
done or failed, and the program's output below) and ``PlainView`` (anything else: one
timestamped line per chunk ready / call started / call ended / state lost / generation stopped,
the program's output prefixed with ``|``). The events carry the chunks and the lines each call
covers, so the views never re-chunk the stream. ``summary`` prints the metrics table and the
saving.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

import click

from ..chunker import Chunk
from ..pipeline._events import (
    BatchEnded,
    BatchStarted,
    ChunkReady,
    DeltaReceived,
    Event,
    GenerationStopped,
    OutputReceived,
    StateLost,
)
from ..pipeline._result import Result

__all__ = ["LiveView", "PlainView", "make_view", "saving", "show_error", "summary"]


def saving(serial: float, eager: float) -> float | None:
    """``(serial - eager) / serial`` in percent, or None when serial is 0."""
    return None if serial <= 0 else 100.0 * (serial - eager) / serial


def _span(first: int, last: int) -> str:
    return str(first) if last <= first else f"{first}-{last}"


def _dropped(skipped: int) -> str:
    return f"[... {skipped} characters dropped by the output limit ...]\n"


class _Tracker:
    """Follows the events of one run: the text so far, the chunks and their state."""

    def __init__(self) -> None:
        self.text = ""
        self.chunks: dict[int, Chunk] = {}
        self.state: dict[int, str] = {}  # chunk index -> ready/running/ok/failed
        self.output = ""
        self.time = 0.0
        self.stopped = ""
        self.state_lost = ""

    def feed(self, event: Event) -> None:
        self.time = max(self.time, event.time)
        if isinstance(event, DeltaReceived):
            self.text += event.text
        elif isinstance(event, ChunkReady):
            self.chunks[event.index] = event.chunk
            self.state[event.index] = "ready"
        elif isinstance(event, BatchStarted):
            for i in event.chunks:
                self.state[i] = "running"
        elif isinstance(event, BatchEnded):
            for i in event.chunks:
                self.state[i] = "ok" if event.ok else "failed"
        elif isinstance(event, OutputReceived) and event.stream != "figure":
            self.output += (_dropped(event.skipped) if event.skipped else "") + event.text
        elif isinstance(event, GenerationStopped):
            self.stopped = event.reason
        elif isinstance(event, StateLost):
            self.state_lost = event.reason
            self.output += f"[state lost: {event.reason}: earlier variables and imports are gone]\n"


class PlainView:
    """Timestamped lines for pipes and logs."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.t = _Tracker()
        self._starts: dict[int, float] = {}
        self._pending = ""

    def begin(self, title: str) -> None:
        """Start showing a new run under ``title``."""
        self.t = _Tracker()
        self._starts.clear()
        self._pending = ""
        self._echo(f"== {title} ==")

    def _echo(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def _flush_output(self, final: bool = False) -> None:
        *whole, self._pending = self._pending.split("\n")
        if final and self._pending:
            whole.append(self._pending)
            self._pending = ""
        for line in whole:
            self._echo(f"    | {line}")

    def __call__(self, event: Event) -> None:
        """Show one event."""
        self.t.feed(event)
        stamp = f"[{event.time:8.3f}s]"
        if isinstance(event, ChunkReady):
            c = event.chunk
            self._echo(f"{stamp} chunk {event.index + 1} ready  lines {_span(c.start_line, c.end_line)} ({c.kind.value})")
        elif isinstance(event, BatchStarted):
            self._starts[event.index] = event.time
            names = ",".join(str(i + 1) for i in event.chunks)
            self._echo(f"{stamp} run   chunk {names}  lines {_span(event.first_line, event.last_line)}")
        elif isinstance(event, BatchEnded):
            self._flush_output(final=True)
            took = event.time - self._starts.get(event.index, event.time)
            self._echo(
                f"{stamp} {'done ' if event.ok else 'FAIL '} chunk "
                f"{','.join(str(i + 1) for i in event.chunks)}  ({took:.3f}s)"
            )
        elif isinstance(event, OutputReceived) and event.stream == "figure":
            self._echo(f"{stamp} figure {event.text}")
        elif isinstance(event, OutputReceived):
            self._pending += (_dropped(event.skipped) if event.skipped else "") + event.text
            self._flush_output()
        elif isinstance(event, GenerationStopped):
            self._echo(f"{stamp} generation stopped: {event.reason}")
        elif isinstance(event, StateLost):
            self._flush_output(final=True)
            self._echo(f"{stamp} state lost: {event.reason}; variables and imports of earlier statements are gone")

    def end(self, result: Result) -> None:
        """The run is over: flush its output and show its error."""
        self._flush_output(final=True)
        show_error(result, self.out)


class LiveView:
    """A rich live view: streaming code with per-line chunk marks, and the program's output."""

    _MARK: Mapping[str, tuple[str, str]] = {
        "ready": ("·", "yellow"),
        "running": ("▶", "bold yellow"),
        "ok": ("✓", "green"),
        "failed": ("✗", "bold red"),
    }

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console()
        self.t = _Tracker()
        self.title = ""
        self._live: Any = None

    def begin(self, title: str) -> None:
        """Start showing a new run under ``title``."""
        from rich.live import Live

        self.t = _Tracker()
        self.title = title
        self._live = Live(self, console=self.console, refresh_per_second=15, transient=False)
        self._live.start()

    def __call__(self, event: Event) -> None:
        """Record one event (the live display refreshes on its own)."""
        self.t.feed(event)

    def stop(self) -> None:
        """Stop the live display (idempotent)."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.panel import Panel
        from rich.text import Text

        t = self.t
        marks: dict[int, tuple[str, str]] = {}
        for idx, state in t.state.items():
            chunk = t.chunks.get(idx)
            if chunk is not None:
                for line in range(chunk.start_line, chunk.end_line + 1):
                    marks[line] = self._MARK[state]
        lines = t.text.split("\n")
        height = max(self.console.size.height - 14, 8)
        first = max(len(lines) - height, 0)
        code = Text()
        for n, row in enumerate(lines[first:], first + 1):
            mark, style = marks.get(n, (" ", ""))
            code.append(f"{mark} ", style=style)
            code.append(f"{n:4d}  ", style="dim")
            code.append(row + "\n", style=style if mark == "✗" else "")
        out_lines = t.output.rstrip("\n").split("\n")[-8:] if t.output else []
        status = f"{self.title}   t={t.time:6.2f}s   chunks {len(t.state)}"
        if t.stopped:
            status += f"   stopped: {t.stopped}"
        if t.state_lost:
            status += "   state lost"
        return Group(
            Panel(code, title=status, title_align="left", border_style="blue"),
            Panel(Text("\n".join(out_lines)), title="output", title_align="left", border_style="dim"),
        )

    def end(self, result: Result) -> None:
        """The run is over: stop the display and show its error."""
        self.stop()
        show_error(result, sys.stderr)


def make_view(live: bool | None = None) -> LiveView | PlainView:
    """A ``LiveView`` on a terminal (or when ``live``), a ``PlainView`` otherwise."""
    if live is None:
        live = sys.stdout.isatty()
    return LiveView() if live else PlainView()


def show_error(result: Result, out: TextIO) -> None:
    """Print the run's error (traceback when there is one) to ``out``, as ``python`` would.

    A program that exited through ``sys.exit`` shows nothing more: what Python prints for it
    (``sys.exit("message")``) is already in the program's own stderr.
    """
    err = result.error
    if err is None or result.exit_code is not None:
        return
    if err.traceback.strip():
        out.write(err.traceback.rstrip("\n") + "\n")
    else:
        out.write(f"error: {err}\n")
    out.flush()


def summary(results: Mapping[str, Result], *, rich: bool = False) -> None:
    """Print the metrics of each run and, when serial and eager both ran, the saving."""
    rows = []
    for mode, r in results.items():
        m = r.metrics
        status = "ok" if r.error is None else r.error.type
        if r.exit_code is not None:
            status = f"exit {r.exit_code}"
        if r.state_lost:
            status += " (state lost)"
        if r.stopped_early:
            status += " (stopped early)"
        rows.append((mode, f"{m.ttft:.3f}", f"{m.t_gen:.3f}", f"{m.nel:.3f}", f"{m.e2el:.3f}", status))
    head = ("mode", "TTFT s", "T_gen s", "NEL s", "E2EL s", "status")
    note = ""
    if "serial" in results and "eager" in results:
        s, e = results["serial"].metrics, results["eager"].metrics
        nel, e2el = saving(s.nel, e.nel), saving(s.e2el, e.e2el)
        note = (
            f"eager saved: NEL {s.nel - e.nel:.3f}s"
            + (f" ({nel:.1f}%)" if nel is not None else "")
            + f", E2EL {s.e2el - e.e2el:.3f}s"
            + (f" ({e2el:.1f}%)" if e2el is not None else "")
        )
    if rich:
        from rich.console import Console
        from rich.table import Table

        table = Table(*head, title="latency")
        for row in rows:
            table.add_row(*row)
        console = Console()
        console.print(table)
        if note:
            console.print(f"[bold green]{note}[/]")
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip())
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if note:
        click.echo(note)
