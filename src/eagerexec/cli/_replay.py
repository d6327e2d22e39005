"""``eager replay FILE``: replay a program as a model would stream it, serially and/or eagerly.

Each mode runs on a fresh ``Session`` fed by a ``ReplaySource`` at ``--tps``; the live view (or
plain lines) shows the run, then a metrics table and the saving. ``--json`` prints one object
``{"runs": {"serial": RUN, "eager": RUN}}`` instead. ``replay_modes`` is shared with ``eager demo``.

Exit status (a drop-in for ``python FILE``): ``program_status`` of the run, i.e. the program's
``sys.exit`` status (``Result.exit_code``, modulo 256 as the OS takes it), 1 when it raised (a
syntax error, a timeout or a dead interpreter included), 0 otherwise. With ``--mode both`` the
status is the *eager* run's (the mode a drop-in runs); serial's is in the summary and the JSON,
and when the two differ a one-line ``eager: warning:`` says so on stderr. 2 is a usage error.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any

import click

from .._exceptions import BackendError, UnknownBackendError, UsageError
from ..backends._base import BACKENDS
from ..pipeline._events import Event
from ..pipeline._result import Result
from ..pipeline._session import Session
from ..sources import ReplaySource, Source
from ._errors import Number, fail, read_source
from ._render import LiveView, PlainView, make_view, show_error, summary

__all__ = [
    "BACKEND_CHOICES",
    "exit_status",
    "program_status",
    "replay_command",
    "replay_modes",
    "write_timeline",
]

BACKEND_CHOICES = ("local", "sandbox", "docker", "jupyter")

RATE = Number(0.0, min_open=True)
"""``--tps``: a finite rate > 0."""
DELAY = Number(0.0)
"""``--ttft``: finite seconds >= 0."""


def check_backend(backend: str) -> None:
    """Exit 2 with one line when ``backend`` is not a backend name."""
    if backend not in BACKENDS:
        fail(str(UnknownBackendError(f"unknown backend {backend!r} (known: {', '.join(sorted(BACKENDS))})")))


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
    on_event: Callable[[Event], None] | None = view
    try:
        session = Session(backend, mode=mode, stop_on_error=stop_on_error, on_event=on_event, **options)  # type: ignore[arg-type]
    except TypeError as exc:  # a backend that does not take an option the CLI passes (e.g. --python)
        raise UsageError(f"the {backend} backend: {exc}") from exc
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
    check_backend(backend)
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
            if isinstance(view, LiveView):
                view.stop()
            fail(str(exc))
        results[mode] = result
        if view is not None:
            view.end(result)
    return results


def program_status(result: Result) -> int:
    """The status ``python FILE`` would exit with after the run ``result``.

    Returns:
        ``Result.exit_code`` modulo 256 when the program called ``sys.exit`` (or ``os._exit``),
        1 when it raised (or did not compile, timed out, or its interpreter died), else 0.
    """
    if result.exit_code is not None:
        return result.exit_code % 256
    return 0 if result.error is None else 1


def exit_status(results: Mapping[str, Result]) -> int:
    """The status of a set of runs: the eager run's ``program_status`` when there is one, else
    the last run's; 0 when there is none."""
    if not results:
        return 0
    return program_status(results["eager"] if "eager" in results else list(results.values())[-1])


def disagreement(results: Mapping[str, Result]) -> str | None:
    """A one-line note when serial and eager would exit with different statuses, else None."""
    if "serial" in results and "eager" in results:
        s, e = program_status(results["serial"]), program_status(results["eager"])
        if s != e:
            return f"serial and eager exit statuses differ: serial {s}, eager {e} (exiting with eager's)"
    return None


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
    note = disagreement(results)
    if note is not None:
        click.echo(f"eager: warning: {note}", err=True)
    sys.exit(exit_status(results))


@click.command("replay")
@click.argument("file")
@click.option("--tps", type=RATE, default=100.0, show_default=True, help="Tokens per second.")
@click.option("--ttft", type=DELAY, default=0.0, show_default=True, help="Time to first token, seconds.")
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

    Exit status: the one `python FILE` would give (its sys.exit status; 1 when it raised; 0
    otherwise); with --mode both, the eager run's (a warning says when serial's differs);
    2 for usage or backend errors.
    """
    text = read_source(file)
    check_backend(backend)
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
