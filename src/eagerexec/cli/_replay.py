"""``eager replay FILE``: replay a program as a model would stream it, serially and/or eagerly.

Each mode runs on a fresh ``Session`` fed by a ``ReplaySource`` at ``--tps``; the live view (or
plain lines) shows the run, then a metrics table and the saving. ``--json`` prints one object
``{"runs": {"serial": RUN, "eager": RUN}}`` instead. ``replay_modes`` is shared with ``eager demo``.

Exit status (a drop-in for ``python FILE``): ``program_status`` of the run, i.e. the program's
``sys.exit`` status (``Result.exit_code``, modulo 256 as the OS takes it), 1 when it raised (a
syntax error, a timeout or a dead interpreter included), 0 otherwise. With ``--mode both`` the
status is the *eager* run's (the mode a drop-in runs); serial's is in the summary and the JSON,
and when the two differ a one-line ``eager: warning:`` says so on stderr. 2 is a usage error.

Ctrl-C (SIGINT, handled by the event loop: ``_errors.interruptible``) cancels the run within
the session's interrupt: generation stops, the running statement is interrupted, the session
closes (worker reaped, temporary files removed); the output so far, the summary of the runs
that finished (``--json``: their records and the interrupted run's partial one) are printed and
the status is 130. ``--max-output`` (the run's one head-and-tail output limit) and
``--timeout`` (per statement) go to the ``Session``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from .._exceptions import BackendError, UnknownBackendError, UsageError
from ..backends._base import BACKENDS
from ..backends._output import DEFAULT_MAX_OUTPUT
from ..pipeline._events import Event
from ..pipeline._result import Result
from ..pipeline._session import Session
from ..sources import ReplaySource
from ._errors import INTERRUPTED_STATUS, Count, Number, dumps, fail, interruptible, read_source
from ._render import LiveView, PlainView, Tracker, interrupted_note, make_view, show_error, summary

__all__ = [
    "BACKEND_CHOICES",
    "Runs",
    "exit_status",
    "program_status",
    "replay_command",
    "replay_modes",
    "write_timeline",
]

BACKEND_CHOICES = ("local", "sandbox", "docker", "jupyter")

RATE = Number(0.0, min_open=True, max=1e9)
"""``--tps``: a finite rate > 0 (at most a billion tokens per second)."""
DELAY = Number(0.0, max=3600.0)
"""``--ttft``: finite seconds in [0, 3600]."""
TIMEOUT = Number(0.0, min_open=True, max=1e7)
"""``--timeout``: finite seconds > 0."""
JSON_KEPT = "what it did is in the JSON's 'interrupted' record"
"""Where an interrupted ``--json`` run's output went (the end of its one-line note)."""
MAX_OUTPUT = Count(2)
"""``--max-output``: characters, at least 2 (one of head, one of tail)."""


def output_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--max-output`` and ``--timeout`` options (``replay``, ``run``, ``demo``)."""
    f = click.option(
        "--timeout",
        type=TIMEOUT,
        default=None,
        metavar="SECONDS",
        help="Time limit of each execution call (a statement, or the statements run together; "
        "serial mode: the whole program): interrupt it after SECONDS, then kill and restart the "
        "interpreter if it does not stop (reported as a lost state). [no limit]",
    )(f)
    return click.option(
        "--max-output",
        "max_output",
        type=MAX_OUTPUT,
        default=DEFAULT_MAX_OUTPUT,
        show_default=True,
        metavar="CHARS",
        help="Characters of stdout (and of stderr) kept per run: the first and the last half; "
        "what lies between is dropped and counted. Notebook display/result bundles get a budget of the "
        "same size (their encoded size). Same in serial and eager mode, on every backend.",
    )(f)


def notebook_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--notebook`` flag (``replay``, ``run``): ``Session(notebook=True)``."""
    return click.option(
        "--notebook",
        is_flag=True,
        help="Notebook output: show the value of each top-level expression (as `python -i` does), "
        "display(obj), plt.show() figures; --json lists them in outputs as MIME bundles.",
    )(f)


def notebook_session(notebook: bool) -> dict[str, Any]:
    """The ``Session`` option of ``--notebook`` (none when off)."""
    return {"notebook": True} if notebook else {}


def files_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--workdir``, ``--env`` (repeatable) and ``--network``, shared by the commands that run
    programs (see ``program_options``)."""
    f = click.option(
        "--network",
        is_flag=True,
        help="Give the program the host's network (sandbox, docker; default: none).",
    )(f)
    f = click.option(
        "--env",
        "env_names",
        multiple=True,
        metavar="NAME",
        help="Pass this environment variable to the program (repeatable); no other reaches it.",
    )(f)
    return click.option(
        "--workdir",
        default=None,
        type=click.Path(exists=True, file_okay=False),
        help="The directory the program runs in, as `python prog.py` run there; its files stay "
        "[default: the current directory; demo: a new temporary one].",
    )(f)


def program_options(
    backend: str, workdir: str | None, env_names: Sequence[str], network: bool
) -> dict[str, Any]:
    """The backend options of ``files_options``: the workdir (default: the current directory),
    the named variables' values (exit 2 with one line for one that is not set) and ``network``.
    """
    env: dict[str, str] = {}
    for name in env_names:
        if name not in os.environ:
            fail(f"--env {name}: no such variable in the environment")
        env[name] = os.environ[name]
    opts: dict[str, Any] = {"workdir": os.path.abspath(workdir or os.getcwd())}
    if env:
        opts["env"] = env
    if network:
        if backend not in ("sandbox", "docker"):
            fail(
                f"--network applies to the sandbox and docker backends (the {backend} backend is not isolated)"
            )
        opts["network"] = True
    return opts


def warn_unisolated(backend: str) -> None:
    """One line on stderr: model-written code runs without isolation on ``backend``."""
    if backend in ("local", "jupyter"):
        click.echo(
            f"eager: warning: --backend {backend} runs model-written code unisolated, as you "
            "(use the default sandbox to isolate it)",
            err=True,
        )


def check_backend(backend: str, python: str | None = None) -> None:
    """Exit 2 with one line when ``backend`` is not a backend name or does not take ``--python``."""
    if backend not in BACKENDS:
        fail(str(UnknownBackendError(f"unknown backend {backend!r} (known: {', '.join(sorted(BACKENDS))})")))
    if python and backend == "jupyter":
        fail(
            "--python does not apply to the jupyter backend: its kernel runs the program "
            "(use --backend local, sandbox or docker to choose an interpreter)"
        )


def backend_options(
    python: str | None,
    workdir: str | None = None,
    *,
    max_output: int | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """The ``Session`` options of the command line (only those given)."""
    opts: dict[str, Any] = {}
    if python:
        opts["python"] = python
    if workdir:
        opts["workdir"] = workdir
    if max_output is not None:
        opts["max_output"] = max_output
    if timeout is not None:
        opts["timeout"] = timeout
    return opts


def open_session(backend: str, options: Mapping[str, Any], **session: Any) -> Session:
    """A ``Session`` of ``backend`` with the command line's ``options``; one line when refused.

    Raises:
        UsageError: an option the backend does not take.
    """
    try:
        return Session(backend, **session, **options)
    except TypeError as exc:  # a backend that does not take an option the CLI passes
        raise UsageError(f"the {backend} backend: {exc}") from exc


@dataclass(slots=True, kw_only=True)
class Runs:
    """The runs of a command: those that finished, and the one Ctrl-C stopped (if any)."""

    results: dict[str, Result] = field(default_factory=dict)
    current: tuple[str, Tracker] | None = None
    """The mode running now and what it has shown so far."""
    interrupted: bool = False

    def partial(self) -> dict[str, Any] | None:
        """The JSON record of the interrupted run, or None."""
        if not self.interrupted or self.current is None:
            return None
        mode, tracker = self.current
        return tracker.partial(mode)


async def _replay_all(
    text: str,
    runs: Runs,
    *,
    modes: tuple[str, ...],
    tps: float,
    ttft: float,
    backend: str,
    stop_on_error: bool,
    view: LiveView | PlainView | None,
    options: Mapping[str, Any],
) -> None:
    for mode in modes:
        title = f"{mode} · {backend} · {tps:g} tok/s"
        tracker = Tracker(title)
        on_event: Callable[[Event], None] = view if view is not None else tracker.feed
        # a drop-in for `python FILE`: the traceback on stderr where python prints it, and the
        # program ends with the run (threads joined, atexit run, python's exit status)
        session = open_session(
            backend, options, mode=mode, stop_on_error=stop_on_error, on_event=on_event, show_traceback=True
        )
        if view is not None:
            view.begin(title)
            tracker = view.t
        runs.current = (mode, tracker)
        async with session:
            result = await session.run(ReplaySource(text, tps=tps, ttft=ttft), last=True)
        runs.results[mode] = result
        runs.current = None
        if view is not None:
            view.end(result)


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
) -> Runs:
    """Replay ``text`` once per mode, each on a fresh session; exits 2 on usage/backend errors.

    Ctrl-C stops the running mode (its session closed, its worker reaped, its temporary files
    removed) and the modes after it; the view says where it stopped.

    Returns:
        The finished runs (mode -> Result, in the order run) and whether Ctrl-C stopped them.
    """
    check_backend(backend, (options or {}).get("python"))
    runs = Runs()
    work = _replay_all(
        text,
        runs,
        modes=modes,
        tps=tps,
        ttft=ttft,
        backend=backend,
        stop_on_error=stop_on_error,
        view=view,
        options=options or {},
    )
    try:
        runs.interrupted = asyncio.run(interruptible(work)).interrupted
    except (UsageError, BackendError) as exc:
        if isinstance(view, LiveView):
            view.stop()
        fail(str(exc))
    if runs.interrupted and view is not None:
        view.interrupted()
    return runs


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


def runs_json(runs: Runs, tps: float | None = None) -> str:
    """The ``--json`` document: ``{"runs": {mode: RUN}}``, and ``"interrupted"`` (the partial
    record of the run Ctrl-C stopped) when there was one. Always valid JSON."""
    out: dict[str, Any] = {"runs": {}}
    for mode, r in runs.results.items():
        d = r.to_dict()
        if d.get("tps") is None:
            d["tps"] = tps
        out["runs"][mode] = d
    if runs.interrupted:
        out["interrupted"] = runs.partial() or {}
    return dumps(out)


def report(runs: Runs, *, as_json: bool, timeline: str | None, live: bool, tps: float | None = None) -> None:
    """Print the JSON or the summary, write the timeline, and exit with the runs' status
    (130 after Ctrl-C)."""
    results = runs.results
    if as_json:
        click.echo(runs_json(runs, tps))
        for r in results.values():
            show_error(r, sys.stderr)
        if runs.interrupted and runs.current is not None:
            click.echo(f"eager: {interrupted_note(runs.current[1], JSON_KEPT)}", err=True)
    elif results:
        summary(results, rich=live)
    if timeline and results:
        write_timeline(results, timeline)
        if not as_json:
            click.echo(f"timeline written to {timeline}")
    if runs.interrupted:
        sys.exit(INTERRUPTED_STATUS)
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
@output_options
@notebook_option
@files_options
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
    max_output: int,
    timeout: float | None,
    workdir: str | None,
    env_names: tuple[str, ...],
    network: bool,
    notebook: bool,
) -> None:
    """Replay FILE as a model stream at --tps and run it serially and/or eagerly.

    Exit status: the one `python FILE` would give (its sys.exit status; 1 when it raised; 0
    otherwise); with --mode both, the eager run's (a warning says when serial's differs);
    2 for usage or backend errors; 130 after Ctrl-C (the output so far and the summary of the
    finished runs are printed).
    """
    text = read_source(file)
    check_backend(backend, python)
    modes = ("serial", "eager") if mode == "both" else (mode,)
    live = not as_json and sys.stdout.isatty()
    view = None if as_json else make_view(live)
    runs = replay_modes(
        text,
        modes=modes,
        tps=tps,
        ttft=ttft,
        backend=backend,
        stop_on_error=not continue_on_error,
        view=view,
        options={
            **backend_options(python, max_output=max_output, timeout=timeout),
            **program_options(backend, workdir, env_names, network),
            **notebook_session(notebook),
        },
    )
    report(runs, as_json=as_json, timeline=timeline, live=live, tps=tps)
