"""``eager run "PROMPT" --model M``: a real model writes the code; it runs while it streams.

The model is reached with ``OpenAISource`` (``--base-url``/``--api-key`` or ``OPENAI_BASE_URL``/
``OPENAI_API_KEY``). With ``--repair K`` an error sends the partial code and the error back to
the same model, which continues from the failing statement on the same session (see
``eagerexec.pipeline._repair``), up to K times. A failing endpoint exits 2 with one line; the partial code
and output are kept in ``--json``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from .._exceptions import BackendError, UsageError
from ..pipeline._repair import RepairReport, repair_run
from ..pipeline._result import Result
from ..pipeline._session import Session
from ..sources import OpenAISource, Source
from ..sources._openai import DEFAULT_SYSTEM_FENCE, DEFAULT_SYSTEM_TOOL
from ._errors import fail
from ._render import LiveView, PlainView, make_view, show_error, summary
from ._replay import check_backend, program_status, write_timeline

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

    def on_attempt(n: int, result: Result) -> None:
        if view is not None:
            view.end(result)
            if result.error is not None and result.error.origin != "source" and n < repair:
                view.begin(f"repair {n + 1}/{repair} · {model}")

    # Check the options before starting anything (no key, bad mode -> one line).
    make_source([{"role": "user", "content": prompt}])
    if view is not None:
        view.begin(f"eager · {backend} · {model}")
    async with Session(backend, on_event=view) as session:
        return await repair_run(session, make_source, prompt, attempts=repair, on_attempt=on_attempt)


@click.command("run")
@click.argument("prompt")
@click.option("--model", required=True, help="Model name.")
@click.option("--base-url", default=None, help="OpenAI-compatible base URL [OPENAI_BASE_URL].")
@click.option("--api-key", default=None, help="API key [OPENAI_API_KEY].")
@click.option("--backend", default="local", show_default=True, help="local, sandbox, docker or jupyter.")
@click.option(
    "--mode",
    type=click.Choice(["fence", "tool"]),
    default="fence",
    show_default=True,
    help="Code in markdown fences, or in a run_python tool call.",
)
@click.option("--repair", type=click.IntRange(min=0), default=0, show_default=True, help="Repair attempts after an error.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object {runs: {eager: RUN}, ...}.")
@click.option("--timeline", default=None, metavar="PNG", help="Write a timeline picture.")
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
) -> None:
    """Have a model write Python for PROMPT and run it while it streams.

    Exit status: the program's, as `python` would give it (its sys.exit status; 1 when it
    raised; 0 otherwise); 2 for usage errors and when the model endpoint failed.
    """
    check_backend(backend)
    live = not as_json and sys.stdout.isatty()
    view = None if as_json else make_view(live)
    try:
        rep = asyncio.run(
            _go(
                prompt,
                model=model,
                base_url=base_url,
                api_key=api_key,
                backend=backend,
                mode=mode,
                repair=repair,
                view=view,
            )
        )
    except (UsageError, BackendError) as exc:
        if isinstance(view, LiveView):
            view.stop()
        fail(str(exc))
    final = rep.final
    results = {"eager": final}
    if as_json:
        run = final.to_dict()
        out: dict[str, Any] = {"runs": {"eager": run}}
        if repair:
            out["repair"] = rep.to_dict()
        click.echo(json.dumps(out, indent=2))
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
