"""The ``local`` backend: a persistent worker subprocess on this machine, no isolation.

The worker (``_worker.py``) runs under the interpreter named by ``python=`` (any Python >= 3.8,
e.g. another virtualenv's), in its own process group, with the host's environment plus
``MPLBACKEND=Agg``; everything else is ``WorkerBackend``'s.
"""

from __future__ import annotations

import os

from ._workerclient import WORKER_PATH, WorkerBackend, WorkerProcess, spawn_with_pipes

__all__ = ["LocalBackend"]


class LocalBackend(WorkerBackend):
    """A persistent interpreter session in a local subprocess (see ``WorkerBackend`` for options)."""

    name = "local"

    def _spawn(self, worker_args: list[str]) -> WorkerProcess:
        env = dict(os.environ)
        env["MPLBACKEND"] = "Agg"
        env.pop("PYTHONSTARTUP", None)
        return spawn_with_pipes([self.python, str(WORKER_PATH)], worker_args, env=env, cwd=self.workdir)
