"""``eager replay FILE``: replay a program as a model would stream it, serially and/or eagerly.

Each mode runs on a fresh ``Session`` fed by a ``ReplaySource`` at ``--tps``; the live view (or
plain lines) shows the run, then a metrics table and the saving. ``--json`` prints one object
``{"runs": {"serial": RUN, "eager": RUN}}`` instead. ``replay_modes`` is shared with ``eager demo``.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..backends._base import BACKENDS
from .._exceptions import BackendError, UnknownBackendError, UsageError
from ..pipeline._session import Session
from ..pipeline._result import PipelineEvent, Result
from ..sources import ReplaySource, Source
from ._render import LiveView, PlainView, fail, make_view, show_error, summary

__all__ = ["BACKEND_CHOICES", "exit_status", "replay_command", "replay_modes", "write_timeline"]

BACKEND_CHOICES = ("local", "sandbox", "docker", "jupyter")


def check_rate(tps: float, ttft: float) -> None:
    if not (tps > 0 and not math.isnan(tps)):
        fail(f"--tps must be positive, not {tps:g}")
    if not ttft >= 0:
        fail(f"--ttft must be >= 0, not {ttft:g}")


def backend_options(python: str | None, workdir: str | None = None) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if python:
        opts["python"] = python
    if workdir:
        opts["workdir"] = workdir
    return opts


async def _run_one(
    backend: str,
    mode: str,
    make_source: Callable[[], Source],
    view: LiveView | PlainView | None,
    stop_on_error: bool,
    options: dict[str, Any],
) -> Result:
    on_event: Callable[[PipelineEvent], None] | None = view
    session = Session(backend, mode=mode, stop_on_error=stop_on_error, on_event=on_event, **options)  # type: ignore[arg-type]
    async with session:
        return await session.run(make_source())


def replay_modes(
    text: str,
    *,
    modes: tuple[str, ...],
    tps: float,
    ttft: float,
    backend: str,
    stop_on_error: bool = True,
    view: LiveView | PlainView | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Result]:
    """Replay ``text`` once per mode, each on a fresh session; exits 2 on usage/backend errors.

    Returns:
        mode -> Result, in the order run.
    """
    if backend not in BACKENDS:
        fail(str(UnknownBackendError(f"unknown backend {backend!r} (known: {', '.join(sorted(BACKENDS))})")))
    results: dict[str, Result] = {}
    for mode in modes:
        if view is not None:
            view.begin(f"{mode} · {backend} · {tps:g} tok/s")
        try:
            result = asyncio.run(
                _run_one(
                    backend,
                    mode,
                    lambda: ReplaySource(text, tps=tps, ttft=ttft),
                    view,
                    stop_on_error,
                    options or {},
                )
            )
        except (UsageError, BackendError) as exc:
            if isinstance(view, LiveView) and view._live is not None:
                view._live.stop()
            fail(str(exc))
        results[mode] = result
        if view is not None:
            view.end(result)
    return results


def exit_status(results: dict[str, Result]) -> int:
    """0 when every run completed without error, 2 when a source failed, else 1."""
    errors = [r.error for r in results.values() if r.error is not None]
    if any(e.origin == "source" for e in errors):
        return 2
    return 1 if errors else 0


def write_timeline(results: dict[str, Result], path: str) -> None:
    from ..bench._timeline import plot_timeline

    try:
        plot_timeline(list(results.values()), path)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")


def runs_json(results: dict[str, Result], tps: float | None = None) -> str:
    runs = {}
    for mode, r in results.items():
        d = r.to_dict()
        if d.get("tps") is None:
            d["tps"] = tps
        runs[mode] = d
    return json.dumps({"runs": runs}, indent=2)


def read_program(file: str) -> str:
    path = Path(file)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"no such file: {file}")
    except IsADirectoryError:
        fail(f"{file} is a directory")
    except UnicodeDecodeError as exc:
        fail(f"{file} is not valid UTF-8: {exc.reason} at byte {exc.start}")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")


def report(
    results: dict[str, Result], *, as_json: bool, timeline: str | None, live: bool, tps: float | None = None
) -> None:
    """Print the JSON or the summary, write the timeline, and exit with the runs' status."""
    if as_json:
        click.echo(runs_json(results, tps))
        for r in results.values():
            show_error(r, sys.stderr)
    else:
        summary(results, rich=live)
    if timeline:
        write_timeline(results, timeline)
        if not as_json:
            click.echo(f"timeline written to {timeline}")
    sys.exit(exit_status(results))


@click.command("replay")
@click.argument("file")
@click.option("--tps", type=float, default=100.0, show_default=True, help="Tokens per second.")
@click.option("--ttft", type=float, default=0.0, show_default=True, help="Time to first token, seconds.")
@click.option(
    "--mode",
    type=click.Choice(["eager", "serial", "both"]),
    default="both",
    show_default=True,
    help="Which pipeline(s) to run; both = serial then eager.",
)
@click.option("--backend", default="local", show_default=True, help="local, sandbox, docker or jupyter.")
@click.option("--python", "python", default=None, help="Python interpreter for the backend.")
@click.option("--continue-on-error", is_flag=True, help="Keep generating after an error.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object {runs: {mode: RUN}}.")
@click.option("--timeline", default=None, metavar="PNG", help="Write a timeline picture.")
def replay_command(
    file: str,
    tps: float,
    ttft: float,
    mode: str,
    backend: str,
    python: str | None,
    continue_on_error: bool,
    as_json: bool,
    timeline: str | None,
) -> None:
    """Replay FILE as a model stream at --tps and run it serially and/or eagerly.

    Exit status: 0 the program ran without error, 1 it raised, 2 usage or backend errors.
    """
    check_rate(tps, ttft)
    text = read_program(file)
    modes = ("serial", "eager") if mode == "both" else (mode,)
    live = not as_json and sys.stdout.isatty()
    view = None if as_json else make_view(live)
    results = replay_modes(
        text,
        modes=modes,
        tps=tps,
        ttft=ttft,
        backend=backend,
        stop_on_error=not continue_on_error,
        view=view,
        options=backend_options(python),
    )
    report(results, as_json=as_json, timeline=timeline, live=live, tps=tps)
