"""Output helpers shared by ``eager demo``, ``eager replay`` and ``eager run``.

Two views consume the pipeline's typed events (``eagerexec.pipeline._events``), both complete:
every character of output the run kept is shown, live as it arrives, and what the output limit
held back (the tail after the head) is shown from the ``Result`` when the run ends, after a line
saying how much was dropped.

* ``LiveView`` (rich, on a terminal) prints into the scrollback as the run goes: each call's
  code (dim, with line numbers) when it starts, then the program's output line by line (stderr
  in red), figures' paths, lost state, early stops. Below the scrollback a small transient area
  shows the progress: the code generated but not run yet, tokens, chunks ready and run, and the
  statement running now. Lines are printed through the ``Live``'s console, so they land above
  the progress area and stay when it goes.
* ``PlainView`` (pipes and logs) writes timestamped lines per chunk ready / call started / call
  ended / state lost / generation stopped, and the program's output prefixed with ``|``; no
  terminal codes.

``Tracker`` follows one run's events (both views use it; ``--json`` runs use a bare one) and is
what a Ctrl-C reports from: the code and output so far. ``summary`` prints the metrics table
and the saving.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

import click

from ..backends._output import DROPPED_MIME
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

__all__ = [
    "LiveView",
    "PlainView",
    "Tracker",
    "interrupted_note",
    "make_view",
    "saving",
    "show_error",
    "summary",
]

_STREAMS = ("stdout", "stderr")
_RICH = ("display", "result")  # notebook mode's MIME bundles; the views print their text/plain


def _rich_types(bundle: Mapping[str, Any] | None) -> str:
    """The MIME types of ``bundle`` beyond text/plain, for the line before its text (or "")."""
    return ", ".join(sorted(k for k in bundle or {} if k not in ("text/plain", DROPPED_MIME)))


def saving(serial: float, eager: float) -> float | None:
    """``(serial - eager) / serial`` in percent, or None when serial is 0."""
    return None if serial <= 0 else 100.0 * (serial - eager) / serial


def _span(first: int, last: int) -> str:
    return str(first) if last <= first else f"{first}-{last}"


def _limit_reached(skipped: int) -> str:
    return (
        f"[... {skipped} characters dropped by the output limit (--max-output); "
        "the last part of the output is shown at the end ...]\n"
    )


def _bundles_dropped(skipped: int) -> str:
    return (
        f"[... displayed outputs dropped by the output limit (--max-output), {skipped} characters so far; "
        "the last ones are shown at the end ...]"
    )


def _reduced(stream: str, skipped: int) -> str:
    return f"{stream}: text only ({skipped} characters over the output limit dropped)"


def _continue_line(cut: set[str], stream: str, text: str) -> str:
    """``text`` of ``stream`` to print next. A line printed unfinished (at the end of a call, before
    another event) was ended on screen; when the stream then goes on with its newline, that newline
    is already shown and is dropped here (``cut`` remembers the streams left so)."""
    if stream in cut and text:
        cut.discard(stream)
        if text.startswith("\n"):
            return text[1:]
    return text


class Tracker:
    """Follows the events of one run: the code so far, the chunks and their state, the output."""

    def __init__(self, title: str = "") -> None:
        self.title = title
        self.t0 = time.monotonic()
        self.text = ""
        self.chunks: dict[int, Chunk] = {}
        self.state: dict[int, str] = {}  # chunk index -> ready/running/ok/failed
        self.deltas = 0
        """Text deltas received (a model sends about one token per delta)."""
        self.time = 0.0
        self.stopped = ""
        self.state_lost = ""
        self.running: tuple[int, ...] = ()
        self.figures: list[str] = []
        self.output: dict[str, list[str]] = {"stdout": [], "stderr": []}
        """The output shown live, per stream (the head the output limit passes on)."""
        self.dropped = 0
        self.bundles_shown = 0
        """Display/result bundles shown live (the head the output limit passes on)."""

    def feed(self, event: Event) -> None:
        """Take one event of the run."""
        self.time = max(self.time, event.time)
        if isinstance(event, DeltaReceived):
            self.text += event.text
            self.deltas += 1
        elif isinstance(event, ChunkReady):
            self.chunks[event.index] = event.chunk
            self.state[event.index] = "ready"
        elif isinstance(event, BatchStarted):
            self.running = event.chunks
            for i in event.chunks:
                self.state[i] = "running"
        elif isinstance(event, BatchEnded):
            self.running = ()
            for i in event.chunks:
                self.state[i] = "ok" if event.ok else "failed"
        elif isinstance(event, OutputReceived):
            if event.stream == "figure":
                self.figures.append(event.text)
            elif event.stream in _RICH:
                # notebook mode's bundles: shown by the views, kept in ``Result.outputs``
                if event.bundle is not None:
                    self.bundles_shown += 1
            else:
                self.output[event.stream].append(event.text)
                self.dropped += event.skipped
        elif isinstance(event, GenerationStopped):
            self.stopped = event.reason
        elif isinstance(event, StateLost):
            self.state_lost = event.reason

    def stream(self, name: str) -> str:
        """What was shown live of stream ``name`` (``stdout`` or ``stderr``)."""
        return "".join(self.output[name])

    def rest(self, result: Result) -> list[tuple[str, str]]:
        """What ``result`` kept that was not shown live: per stream, the drop marker and the
        tail after the head (empty when everything was shown)."""
        out = []
        for name in _STREAMS:
            kept: str = getattr(result, name)
            shown = self.stream(name)
            if len(kept) > len(shown) and kept.startswith(shown):
                out.append((name, kept[len(shown) :]))
        return out

    def rest_bundles(self, result: Result) -> list[tuple[str, dict[str, Any]]]:
        """The display/result records ``result`` kept that were not shown live (the limit's
        tail, after the record saying how many were dropped), as ``(type, bundle)``."""
        rich: list[tuple[str, dict[str, Any]]] = [(o.type, o.data) for o in result.outputs if o.type in _RICH]
        return rich[self.bundles_shown :]

    def counts(self) -> tuple[int, int]:
        """Chunks ready so far, and chunks whose call ended."""
        done = sum(1 for s in self.state.values() if s in ("ok", "failed"))
        return len(self.state), done

    def partial(self, mode: str) -> dict[str, Any]:
        """The JSON record of an interrupted run: what it had generated and printed."""
        ready, done = self.counts()
        return {
            "mode": mode,
            "code": self.text,
            "stdout": self.stream("stdout"),
            "stderr": self.stream("stderr"),
            "figures": list(self.figures),
            "output_dropped": self.dropped,
            "elapsed": time.monotonic() - self.t0,
            "chunks_ready": ready,
            "chunks_run": done,
        }


def interrupted_note(tracker: Tracker, kept: str = "the output so far is above") -> str:
    """The line that says where Ctrl-C stopped a run, and where what it did is (``kept``)."""
    ready, done = tracker.counts()
    where = f"{tracker.title}: " if tracker.title else ""
    return (
        f"interrupted: {where}stopped after {time.monotonic() - tracker.t0:.2f}s, {ready} chunk(s) generated, "
        f"{done} run; {kept}"
    )


class PlainView:
    """Timestamped lines for pipes and logs; the program's output complete, prefixed ``|``."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.t = Tracker()
        self._starts: dict[int, float] = {}
        self._partial = {"stdout": "", "stderr": ""}
        self._cut: set[str] = set()

    def begin(self, title: str) -> None:
        """Start showing a new run under ``title``."""
        self.t = Tracker(title)
        self._starts.clear()
        self._partial = {"stdout": "", "stderr": ""}
        self._cut = set()
        self._echo(f"== {title} ==")

    def _echo(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def _output(self, stream: str, text: str, final: bool = False) -> None:
        text = _continue_line(self._cut, stream, self._partial[stream] + text)
        *whole, rest = text.split("\n")
        if final and rest:
            whole.append(rest)
            rest = ""
            self._cut.add(stream)
        self._partial[stream] = rest
        for line in whole:
            self._echo(f"    | {line}")

    def _flush(self) -> None:
        for stream in _STREAMS:
            self._output(stream, "", final=True)

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
            self._flush()
            took = event.time - self._starts.get(event.index, event.time)
            self._echo(
                f"{stamp} {'done ' if event.ok else 'FAIL '} chunk "
                f"{','.join(str(i + 1) for i in event.chunks)}  ({took:.3f}s)"
            )
        elif isinstance(event, OutputReceived) and event.stream == "figure":
            self._flush()
            self._echo(f"{stamp} figure {event.text}")
        elif isinstance(event, OutputReceived) and event.stream in _RICH:
            self._flush()
            if event.bundle is None:  # the limit started dropping bundles
                self._echo(f"{stamp} {_bundles_dropped(event.skipped)}")
                return
            self._bundle(event.stream, event.bundle, stamp, event.skipped)
        elif isinstance(event, OutputReceived):
            if event.skipped:
                self._flush()
                self._echo(f"{stamp} {_limit_reached(event.skipped).rstrip()}")
            self._output(event.stream, event.text)
        elif isinstance(event, GenerationStopped):
            self._flush()
            self._echo(f"{stamp} generation stopped: {event.reason}")
        elif isinstance(event, StateLost):
            self._flush()
            self._echo(f"{stamp} state lost: {event.reason}; variables and imports of earlier statements are gone")

    def _bundle(self, kind: str, bundle: Mapping[str, Any], stamp: str = "", skipped: int = 0) -> None:
        lead = f"{stamp} " if stamp else ""
        rich = _rich_types(bundle)
        if skipped:
            self._echo(lead + _reduced(kind, skipped))
        elif rich:
            self._echo(f"{lead}{kind} {rich}")
        text = bundle.get("text/plain")
        for line in (text if isinstance(text, str) else "").split("\n"):
            self._echo(f"    | {line}")

    def _finish(self, result: Result | None) -> None:
        if result is not None:
            for name, text in self.t.rest(result):
                self._output(name, text, final=True)
        self._flush()
        if result is not None:
            for kind, bundle in self.t.rest_bundles(result):
                self._bundle(kind, bundle)
            for path in result.figures:
                if path not in self.t.figures:
                    self._echo(f"figure {path}")

    def end(self, result: Result) -> None:
        """The run is over: show the output the limit held back, its figures and its error."""
        self._finish(result)
        show_error(result, self.out)

    def interrupted(self) -> None:
        """Ctrl-C stopped the run: flush its output and say where it stopped."""
        self._finish(None)
        self._echo(interrupted_note(self.t))


class LiveView:
    """On a terminal: the run's code and output streamed into the scrollback, progress below."""

    _MARK: Mapping[str, tuple[str, str]] = {
        "ready": ("·", "yellow"),
        "running": ("▶", "bold yellow"),
        "ok": ("✓", "green"),
        "failed": ("✗", "bold red"),
    }
    _PENDING_LINES = 6

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console if console is not None else Console()
        self.t = Tracker()
        self._live: Any = None
        self._partial = {"stdout": "", "stderr": ""}
        self._cut: set[str] = set()

    # -- the scrollback ------------------------------------------------------------------------
    def _print(self, text: str, style: str = "") -> None:
        from rich.text import Text

        console = self._live.console if self._live is not None else self.console
        console.print(Text(text, style=style), soft_wrap=True, highlight=False, markup=False)

    def _output(self, stream: str, text: str, final: bool = False) -> None:
        pending = _continue_line(self._cut, stream, self._partial[stream] + text)
        cut = len(pending) if final else pending.rfind("\n") + 1
        if final and pending and not pending.endswith("\n"):
            self._cut.add(stream)
        self._partial[stream] = pending[cut:]
        if cut:
            self._print(pending[:cut].removesuffix("\n"), "red" if stream == "stderr" else "")

    def _flush(self) -> None:
        for stream in _STREAMS:
            if self._partial[stream]:
                self._output(stream, "", final=True)

    def begin(self, title: str) -> None:
        """Start showing a new run under ``title``."""
        from rich.live import Live

        self.stop()
        self.t = Tracker(title)
        self._partial = {"stdout": "", "stderr": ""}
        self._cut = set()
        self._print(f"── {title} ──", "bold blue")
        self._live = Live(self, console=self.console, refresh_per_second=10, transient=True)
        self._live.start()

    def __call__(self, event: Event) -> None:
        """Show one event: print what belongs in the scrollback (the progress refreshes itself)."""
        self.t.feed(event)
        if isinstance(event, BatchStarted):
            self._flush()
            for i in event.chunks:
                chunk = self.t.chunks.get(i)
                if chunk is not None:
                    for n, row in enumerate(chunk.text.rstrip("\n").split("\n"), chunk.start_line):
                        self._print(f"{n:4d} │ {row}", "dim")
        elif isinstance(event, BatchEnded):
            self._flush()
            if not event.ok:
                err = event.error
                what = f": {err.type}: {err.message}" if err is not None else ""
                self._print(f"✗ lines {_span(*self._lines(event.chunks))} failed{what}", "bold red")
        elif isinstance(event, OutputReceived) and event.stream == "figure":
            self._flush()
            self._print(f"figure saved: {event.text}", "cyan")
        elif isinstance(event, OutputReceived) and event.stream in _RICH:
            self._flush()
            if event.bundle is None:  # the limit started dropping bundles
                self._print(_bundles_dropped(event.skipped), "yellow")
            else:
                self._bundle(event.stream, event.bundle, event.skipped)
        elif isinstance(event, OutputReceived):
            if event.skipped:
                self._flush()
                self._print(_limit_reached(event.skipped).rstrip("\n"), "yellow")
            self._output(event.stream, event.text)
        elif isinstance(event, GenerationStopped):
            self._flush()
            self._print(f"generation stopped: {event.reason}", "yellow")
        elif isinstance(event, StateLost):
            self._flush()
            self._print(f"state lost: {event.reason}: earlier variables and imports are gone", "bold yellow")

    def _lines(self, chunks: tuple[int, ...]) -> tuple[int, int]:
        known = [self.t.chunks[i] for i in chunks if i in self.t.chunks]
        if not known:
            return (0, 0)
        return (min(c.start_line for c in known), max(c.end_line for c in known))

    # -- the progress area ---------------------------------------------------------------------
    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        t = self.t
        run_to = max((c.end_line for i, c in t.chunks.items() if t.state.get(i) != "ready"), default=0)
        lines = t.text.split("\n")
        pending = [(n, row) for n, row in enumerate(lines, 1) if n > run_to and (row or n < len(lines))]
        parts: list[Any] = []
        for n, row in pending[-self._PENDING_LINES :]:
            complete = any(c.start_line <= n <= c.end_line for c in t.chunks.values())
            mark, style = self._MARK["ready"] if complete else (" ", "")
            line = Text()
            line.append(f"{mark} ", style=style)
            line.append(f"{n:4d} │ ", style="dim")
            line.append(row, style="italic")
            parts.append(line)
        ready, done = t.counts()
        status = Text()
        status.append(f"{t.title}", style="bold blue")
        elapsed = time.monotonic() - t.t0
        status.append(f"   {elapsed:6.1f}s   {t.deltas} tokens   chunks {ready} ready, {done} run")
        if t.running:
            first, last = self._lines(t.running)
            stmt = t.chunks[t.running[-1]].text.strip().split("\n")[0] if t.running[-1] in t.chunks else ""
            status.append(f"   ▶ line {_span(first, last)}: ", style="bold yellow")
            status.append(stmt[:60])
        if t.stopped:
            status.append(f"   stopped: {t.stopped}", style="yellow")
        if t.state_lost:
            status.append("   state lost", style="bold yellow")
        parts.append(status)
        # one screen line each, a little short of the width: the terminal's echo of ^C (after the
        # last line) must not wrap, or the area would no longer be erased where it is
        width = max(self.console.width - 3, 20)
        for part in parts:
            part.no_wrap = True
            part.truncate(width, overflow="ellipsis")
        return Group(*parts)

    # -- the end -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the progress area (idempotent); what was printed stays."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _bundle(self, kind: str, bundle: Mapping[str, Any], skipped: int = 0) -> None:
        rich = _rich_types(bundle)
        if skipped:
            self._print(_reduced(kind, skipped), "yellow")
        elif rich:
            self._print(f"{kind}: {rich}", "cyan")
        text = bundle.get("text/plain")
        self._print(text if isinstance(text, str) else "")

    def _finish(self, result: Result | None) -> None:
        if result is not None:
            for name, text in self.t.rest(result):
                self._output(name, text, final=True)
        self._flush()
        self.stop()
        if result is not None:
            for kind, bundle in self.t.rest_bundles(result):
                self._bundle(kind, bundle)
            for path in result.figures:
                if path not in self.t.figures:
                    self._print(f"figure saved: {path}", "cyan")

    def end(self, result: Result) -> None:
        """The run is over: show the output the limit held back, its figures and its error."""
        self._finish(result)
        show_error(result, sys.stderr)

    def interrupted(self) -> None:
        """Ctrl-C stopped the run: flush its output and say where it stopped."""
        self._finish(None)
        self._print(interrupted_note(self.t), "bold yellow")


def make_view(live: bool | None = None) -> LiveView | PlainView:
    """A ``LiveView`` on a terminal (or when ``live``), a ``PlainView`` otherwise."""
    if live is None:
        live = sys.stdout.isatty()
    return LiveView() if live else PlainView()


def show_error(result: Result, out: TextIO) -> None:
    """Print the run's error (traceback when there is one) to ``out``, as ``python`` would.

    A program that exited through ``sys.exit`` shows nothing more: what Python prints for it
    (``sys.exit("message")``) is already in the program's own stderr; nor does an error whose
    traceback the session already printed there (``RunError.printed``).
    """
    err = result.error
    if err is None or err.printed or err.type == "SystemExit":
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
    dropped = [f"{mode} {r.output_dropped}" for mode, r in results.items() if r.output_dropped]
    if dropped:
        note += ("\n" if note else "") + (
            f"output limit: characters dropped between head and tail: {', '.join(dropped)} (--max-output)"
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
