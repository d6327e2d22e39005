"""The ``eager`` command: a click group; each subcommand lives in its own module.

Exit status: ``eager replay`` (and ``demo``) exit with the status ``python FILE`` would (the
program's ``sys.exit`` status; 1 when it raised; 0 otherwise); ``eager run`` likewise, and 2 when
the model endpoint failed. Every usage error (click's own, the library's ``UsageError`` family, a
missing or unreadable file, an unknown backend, a non-finite number) prints one line
``eager: error: MESSAGE`` on stderr and exits 2 (``_errors.EagerGroup``).
"""

from __future__ import annotations

import click

from ._bench import bench_command
from ._chat import chat_command
from ._chunks import chunks_command
from ._demo import demo_command
from ._errors import EagerGroup
from ._model import model_command
from ._replay import replay_command
from ._run import run_command
from ._serve import serve_command


@click.group(cls=EagerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="eagerexec")
def main() -> None:
    """Execute LLM-generated Python while the model is still streaming it."""


main.add_command(bench_command)
main.add_command(chat_command)
main.add_command(chunks_command)
main.add_command(model_command)
main.add_command(demo_command)
main.add_command(replay_command)
main.add_command(run_command)
main.add_command(serve_command)

__all__ = ["main"]
