"""``eager demo``: the main job on the bundled example, no network and no key needed.

Replays ``examples/demo.py`` (a data analysis with numpy, pandas and matplotlib, data generated
locally) at ``--tps``, serially then eagerly, each on a fresh session in a scratch directory,
shows both runs live and prints the measured saving.
"""

from __future__ import annotations

import sys
import tempfile
from importlib import resources

import click

from ._render import make_view
from ._replay import (
    RATE,
    backend_options,
    check_backend,
    files_options,
    output_options,
    program_options,
    replay_modes,
    report,
)

__all__ = ["demo_command"]


@click.command("demo")
@click.option("--tps", type=RATE, default=100.0, show_default=True, help="Tokens per second.")
@click.option("--backend", default="local", show_default=True, help="local, sandbox, docker or jupyter.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object {runs: {mode: RUN}}.")
@click.option("--timeline", default=None, metavar="PNG", help="Write a timeline picture.")
@output_options
@files_options
def demo_command(
    tps: float,
    backend: str,
    as_json: bool,
    timeline: str | None,
    max_output: int,
    timeout: float | None,
    workdir: str | None,
    env_names: tuple[str, ...],
    network: bool,
) -> None:
    """Replay the bundled demo program serially, then eagerly, and show the time saved.

    Exit status: the eager run's, as `python` would give it; 2 for usage errors; 130 after
    Ctrl-C.
    """
    check_backend(backend)
    text = resources.files("eagerexec").joinpath("examples/demo.py").read_text(encoding="utf-8")
    # The demo writes sales.csv and a PNG: unlike replay and run, its default workdir is a new
    # temporary directory (kept, and named below), not the current one.
    options = {
        **backend_options(None, max_output=max_output, timeout=timeout),
        **program_options(backend, workdir or tempfile.mkdtemp(prefix="eager-demo-"), env_names, network),
    }
    live = not as_json and sys.stdout.isatty()
    view = None if as_json else make_view(live)
    if not as_json:
        click.echo(
            f"Replaying examples/demo.py at {tps:g} tokens/s on the {backend} backend (files in {options['workdir']})"
        )
    runs = replay_modes(
        text,
        modes=("serial", "eager"),
        tps=tps,
        ttft=0.0,
        backend=backend,
        view=view,
        options=options,
    )
    report(runs, as_json=as_json, timeline=timeline, live=live, tps=tps)
