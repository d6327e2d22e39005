"""The ``eager`` command: a click group; each subcommand lives in its own module.

Exit status everywhere: 0 the program ran without error, 1 it raised (the error shown),
2 usage or connection errors.
"""

from __future__ import annotations

import click

from ._bench import bench_command
from ._chunks import chunks_command
from ._demo import demo_command
from ._model import model_command
from ._replay import replay_command
from ._run import run_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="eagerexec")
def main() -> None:
    """Execute LLM-generated Python while the model is still streaming it."""


main.add_command(bench_command)
main.add_command(chunks_command)
main.add_command(model_command)
main.add_command(demo_command)
main.add_command(replay_command)
main.add_command(run_command)

__all__ = ["main"]
