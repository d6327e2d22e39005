"""The ``local`` backend: a persistent worker subprocess on this machine, no isolation.

The worker (``_worker.py`` and its sibling files, run where they are) runs under the interpreter
named by ``python=`` (any Python 3.7 to 3.13, e.g. another virtualenv's), in its own process group, with the host's environment plus
``MPLBACKEND=Agg``; everything else is ``WorkerBackend``'s.
"""

from __future__ import annotations

import os
from typing import Unpack

from ._options import LocalOptions
from ._workerclient import WORKER_PATH, WorkerBackend, WorkerProcess, spawn_with_pipes

__all__ = ["LocalBackend"]


class LocalBackend(WorkerBackend):
    """A persistent interpreter session in a local subprocess.

    Args:
        **options: ``LocalOptions`` (python, preload, grace, spin, on_output, timeout, workdir,
            max_output).

    Raises:
        UnknownOptionError, UsageError: an unknown option, a bad value.
    """

    name = "local"
    options_type = LocalOptions

    def __init__(self, **options: Unpack[LocalOptions]) -> None:
        super().__init__(**options)

    def _spawn(self, worker_args: list[str]) -> WorkerProcess:
        env = dict(os.environ)
        env["MPLBACKEND"] = "Agg"
        env.pop("PYTHONSTARTUP", None)
        return spawn_with_pipes([self.python, str(WORKER_PATH)], worker_args, env=env, cwd=self.workdir)
