"""``eager run "PROMPT" --model M``: a real model writes the code; it runs while it streams.

The model is reached with ``OpenAISource`` (``--base-url``/``--api-key`` or ``OPENAI_BASE_URL``/
``OPENAI_API_KEY``). With ``--repair K`` an error sends the partial code and the error back to
the same model, which continues from the failing statement on the same session (see
``eagerexec.pipeline._repair``), up to K times. A failing endpoint exits 2 with one line; the partial code
and output are kept in ``--json``. ``--max-output`` and ``--timeout`` are the session's output limit
and per-statement timeout (as in ``eager replay``). Ctrl-C cancels the run through the event
loop (``_errors.interruptible``): the code and output so far are printed, the session is closed
and the status is 130.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from .._exceptions import BackendError, UsageError
from ..pipeline._events import Event
from ..pipeline._repair import RepairReport, repair_run
from ..pipeline._result import Result
from ..sources import OpenAISource, Source
from ..sources._openai import DEFAULT_SYSTEM_FENCE, DEFAULT_SYSTEM_TOOL
from ._errors import INTERRUPTED_STATUS, dumps, fail, interruptible
from ._render import LiveView, PlainView, Tracker, interrupted_note, make_view, show_error, summary
from ._replay import (
    JSON_KEPT,
    Runs,
    backend_options,
    check_backend,
    files_options,
    notebook_option,
    notebook_session,
    open_session,
    output_options,
    program_options,
    program_status,
    warn_unisolated,
    write_timeline,
)

__all__ = ["run_command"]


async def _go(
    prompt: str,
    *,
    model: str,
    base_url: str | None,
    api_key: str | None,
    backend: str,
    mode: str,
    repair: int,
    view: LiveView | PlainView | None,
    runs: Runs,
    options: Mapping[str, Any],
) -> RepairReport:
    system = DEFAULT_SYSTEM_FENCE if mode == "fence" else DEFAULT_SYSTEM_TOOL

    def make_source(messages: Sequence[Mapping[str, str]]) -> Source:
        return OpenAISource(
            messages=[{"role": "system", "content": system}, *messages],
            model=model,
            base_url=base_url,
            api_key=api_key,
            mode=mode,  # type: ignore[arg-type]
        )

    def begin(title: str) -> None:
        if view is not None:
            view.begin(title)
            runs.current = ("eager", view.t)
        else:
            runs.current = ("eager", Tracker(title))

    def on_event(event: Event) -> None:
        if view is not None:
            view(event)
        elif runs.current is not None:
            runs.current[1].feed(event)

    def on_attempt(n: int, result: Result) -> None:
        runs.results["eager"] = result
        if view is not None:
            view.end(result)
        if result.error is not None and result.error.origin != "source" and n < repair:
            begin(f"repair {n + 1}/{repair} · {model}")

    # Check the options before starting anything (no key, bad mode -> one line).
    make_source([{"role": "user", "content": prompt}])
    session = open_session(backend, options, on_event=on_event)
    begin(f"eager · {backend} · {model}")
    async with session:
        return await repair_run(session, make_source, prompt, attempts=repair, on_attempt=on_attempt)


def _interrupted(runs: Runs, view: LiveView | PlainView | None, *, as_json: bool, live: bool) -> None:
    """Ctrl-C: what was generated and printed so far, then exit 130."""
    if view is not None:
        view.interrupted()
    tracker = runs.current[1] if runs.current is not None else None
    if as_json:
        out: dict[str, Any] = {"runs": {m: r.to_dict() for m, r in runs.results.items()}}
        out["interrupted"] = runs.partial() or {}
        click.echo(dumps(out))
        if tracker is not None:
            click.echo(f"eager: {interrupted_note(tracker, JSON_KEPT)}", err=True)
    else:
        if tracker is not None and tracker.text.strip():
            click.echo("--- program so far ---")
            click.echo(tracker.text.rstrip("\n"))
        if runs.results:
            summary(runs.results, rich=live)
    sys.exit(INTERRUPTED_STATUS)


@click.command("run")
@click.argument("prompt")
@click.option("--model", required=True, help="Model name.")
@click.option("--base-url", default=None, help="OpenAI-compatible base URL [OPENAI_BASE_URL].")
@click.option("--api-key", default=None, help="API key [OPENAI_API_KEY].")
@click.option(
    "--backend",
    default="sandbox",
    show_default=True,
    help="sandbox (isolated, no network), docker, local or jupyter (unisolated: a warning says so).",
)
@click.option(
    "--mode",
    type=click.Choice(["fence", "tool"]),
    default="fence",
    show_default=True,
    help="Code in markdown fences, or in a run_python tool call.",
)
@click.option("--repair", type=click.IntRange(min=0, max=100), default=0, show_default=True, help="Repair attempts after an error.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object {runs: {eager: RUN}, ...}.")
@click.option("--timeline", default=None, metavar="PNG", help="Write a timeline picture.")
@output_options
@notebook_option
@files_options
def run_command(
    prompt: str,
    model: str,
    base_url: str | None,
    api_key: str | None,
    backend: str,
    mode: str,
    repair: int,
    as_json: bool,
    timeline: str | None,
    max_output: int,
    timeout: float | None,
    workdir: str | None,
    env_names: tuple[str, ...],
    network: bool,
    notebook: bool,
) -> None:
    """Have a model write Python for PROMPT and run it while it streams.

    Exit status: the program's, as `python` would give it (its sys.exit status; 1 when it
    raised; 0 otherwise); 2 for usage errors and when the model endpoint failed; 130 after
    Ctrl-C (the code and output so far are printed).
    """
    check_backend(backend)
    options = {
        **backend_options(None, max_output=max_output, timeout=timeout),
        **program_options(backend, workdir, env_names, network),
        **notebook_session(notebook),
    }
    warn_unisolated(backend)
    live = not as_json and sys.stdout.isatty()
    view = None if as_json else make_view(live)
    runs = Runs()
    work = _go(
        prompt,
        model=model,
        base_url=base_url,
        api_key=api_key,
        backend=backend,
        mode=mode,
        repair=repair,
        view=view,
        runs=runs,
        options=options,
    )
    try:
        done = asyncio.run(interruptible(work))
    except (UsageError, BackendError) as exc:
        if isinstance(view, LiveView):
            view.stop()
        fail(str(exc))
    if done.interrupted or done.value is None:
        runs.interrupted = True
        _interrupted(runs, view, as_json=as_json, live=live)
        return
    rep = done.value
    final = rep.final
    results = {"eager": final}
    if as_json:
        run = final.to_dict()
        out: dict[str, Any] = {"runs": {"eager": run}}
        if repair:
            out["repair"] = rep.to_dict()
        click.echo(dumps(out))
    else:
        if final.code:
            click.echo("--- program ---")
            click.echo(rep.code.rstrip("\n"))
        summary(results, rich=live)
        if repair:
            click.echo(f"repairs used: {rep.repairs}/{repair}, {'ok' if rep.ok else 'still failing'}")
    if timeline:
        write_timeline(results, timeline)
    if final.error is not None and final.error.origin == "source":
        fail(f"{final.error.type}: {final.error.message}")
    status = program_status(final)
    if as_json:
        show_error(final, sys.stderr)
    sys.exit(status)
