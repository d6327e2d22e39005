"""Output helpers shared by ``eager demo``, ``eager replay`` and ``eager run``.

Two views consume the pipeline's live events: ``LiveView`` (rich, on a terminal: the code as it
streams, each line marked when its chunk is ready, running, done or failed, and the program's
output below) and ``PlainView`` (anything else: one timestamped line per chunk ready / call
started / call ended, the program's output prefixed with ``|``). The views keep their own chunker
over the streamed text to know which lines each chunk covers. ``summary`` prints the metrics
table and the saving; ``fail`` is the one-line exit-2 error.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, NoReturn, TextIO

import click

from ..chunker._chunker import Chunker
from ..chunker._events import Chunk
from ..pipeline._result import PipelineEvent, Result

__all__ = ["LiveView", "PlainView", "fail", "make_view", "saving", "show_error", "summary"]


def fail(message: str) -> NoReturn:
    """Print ``eager: error: MESSAGE`` (one line) on stderr and exit with status 2."""
    click.echo(f"eager: error: {' '.join(message.split())}", err=True)
    sys.exit(2)


def saving(serial: float, eager: float) -> float | None:
    """``(serial - eager) / serial`` in percent, or None when serial is 0."""
    return None if serial <= 0 else 100.0 * (serial - eager) / serial


def _lines(chunk: Chunk) -> str:
    return (
        f"{chunk.start_line}"
        if chunk.end_line == chunk.start_line
        else f"{chunk.start_line}-{chunk.end_line}"
    )


class _Tracker:
    """Follows the events of one run: the text so far, the chunks and their state."""

    def __init__(self) -> None:
        self.chunker = Chunker()
        self.text = ""
        self.chunks: list[Chunk] = []
        self.state: dict[int, str] = {}  # chunk index -> ready/running/ok/failed
        self.output = ""
        self.time = 0.0
        self.stopped = ""
        self.closed = False

    def feed(self, event: PipelineEvent) -> None:
        self.time = max(self.time, event.time)
        if event.kind == "delta":
            self.text += event.text
            self.chunks.extend(self.chunker.feed(event.text))
        elif event.kind == "chunk" and event.index is not None:
            if event.index >= len(self.chunks) and not self.closed:
                self.closed = True
                self.chunks.extend(self.chunker.close())
            self.state[event.index] = "ready"
        elif event.kind == "batch_start":
            for i in event.chunks:
                self.state[i] = "running"
        elif event.kind == "batch_end":
            for i in event.chunks:
                self.state[i] = "ok" if event.ok else "failed"
        elif event.kind == "output" and event.stream in ("stdout", "stderr"):
            self.output += event.text
        elif event.kind == "stopped":
            self.stopped = event.text

    def chunk(self, index: int) -> Chunk | None:
        return self.chunks[index] if 0 <= index < len(self.chunks) else None

    def span(self, indices: tuple[int, ...]) -> str:
        picked = [c for c in (self.chunk(i) for i in indices) if c is not None]
        if not picked:
            return "?"
        first, last = min(c.start_line for c in picked), max(c.end_line for c in picked)
        return str(first) if first == last else f"{first}-{last}"


class PlainView:
    """Timestamped lines for pipes and logs."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.t = _Tracker()
        self._starts: dict[int, float] = {}
        self._pending = ""

    def begin(self, title: str) -> None:
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

    def __call__(self, event: PipelineEvent) -> None:
        self.t.feed(event)
        stamp = f"[{event.time:8.3f}s]"
        if event.kind == "chunk" and event.index is not None:
            chunk = self.t.chunk(event.index)
            where = f"lines {_lines(chunk)} ({chunk.kind.value})" if chunk is not None else ""
            self._echo(f"{stamp} chunk {event.index + 1} ready  {where}")
        elif event.kind == "batch_start" and event.index is not None:
            self._starts[event.index] = event.time
            names = ",".join(str(i + 1) for i in event.chunks)
            self._echo(f"{stamp} run   chunk {names}  lines {self.t.span(event.chunks)}")
        elif event.kind == "batch_end" and event.index is not None:
            self._flush_output(final=True)
            took = event.time - self._starts.get(event.index, event.time)
            self._echo(
                f"{stamp} {'done ' if event.ok else 'FAIL '} chunk "
                f"{','.join(str(i + 1) for i in event.chunks)}  ({took:.3f}s)"
            )
        elif event.kind == "output" and event.stream in ("stdout", "stderr"):
            self._pending += event.text
            self._flush_output()
        elif event.kind == "output" and event.stream == "figure":
            self._echo(f"{stamp} figure {event.text}")
        elif event.kind == "stopped":
            self._echo(f"{stamp} generation stopped: {event.text}")

    def end(self, result: Result) -> None:
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
        from rich.live import Live

        self.t = _Tracker()
        self.title = title
        self._live = Live(self, console=self.console, refresh_per_second=15, transient=False)
        self._live.start()

    def __call__(self, event: PipelineEvent) -> None:
        self.t.feed(event)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.panel import Panel
        from rich.text import Text

        t = self.t
        marks: dict[int, tuple[str, str]] = {}
        for idx, state in t.state.items():
            chunk = t.chunk(idx)
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
        return Group(
            Panel(code, title=status, title_align="left", border_style="blue"),
            Panel(Text("\n".join(out_lines)), title="output", title_align="left", border_style="dim"),
        )

    def end(self, result: Result) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        show_error(result, sys.stderr)


def make_view(live: bool | None = None) -> LiveView | PlainView:
    """A ``LiveView`` on a terminal (or when ``live``), a ``PlainView`` otherwise."""
    if live is None:
        live = sys.stdout.isatty()
    return LiveView() if live else PlainView()


def show_error(result: Result, out: TextIO) -> None:
    """Print the run's error (traceback when there is one) to ``out``."""
    err = result.error
    if err is None:
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
