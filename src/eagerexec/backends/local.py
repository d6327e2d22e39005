"""The ``local`` backend: a persistent worker subprocess on this machine, no isolation.

The worker (``_worker.py`` and its sibling files, run where they are) runs under the interpreter
named by ``python=`` (any Python 3.7 to 3.13, e.g. another virtualenv's), in its own process
group, in the working directory. No isolation: the program can do what this user can. Its
environment is not this process's: only the variables an interpreter needs to run as the user
would expect (``LOCAL_ENV_NAMES``: the search path, home, user name, locale, time zone, temporary
directory), those given with ``env=``, and ``MPLBACKEND=Agg``; API keys and other secrets never
reach it unless passed. Everything else is ``WorkerBackend``'s.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Unpack

from ._options import LocalOptions
from ._workerclient import WORKER_PATH, WorkerBackend, WorkerProcess, spawn_with_pipes

__all__ = ["LOCAL_ENV_NAMES", "LocalBackend", "local_environment"]

LOCAL_ENV_NAMES = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TZ",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SYSTEMROOT",
    "WINDIR",
    "COMSPEC",
    "PATHEXT",
)
"""The host variables the local backend's program gets (``LC_*``: every locale variable); the
last four only exist on Windows, where an interpreter cannot start without them."""


def local_environment(host: Mapping[str, str], given: Mapping[str, str]) -> dict[str, str]:
    """The local program's environment: ``LOCAL_ENV_NAMES`` from ``host``, then ``given``,
    then ``MPLBACKEND=Agg`` (figures are captured, never shown in a window).

    Args:
        host: this process's environment.  given: the variables passed with ``env=``.
    """
    env = {
        name: value
        for name, value in host.items()
        if name in LOCAL_ENV_NAMES or (name.startswith("LC_") and "LC_*" in LOCAL_ENV_NAMES)
    }
    env.update(given)
    env["MPLBACKEND"] = "Agg"
    return env


class LocalBackend(WorkerBackend):
    """A persistent interpreter session in a local subprocess.

    Args:
        **options: ``LocalOptions`` (python, preload, grace, spin, on_output, timeout, workdir,
            max_output, env).

    Raises:
        UnknownOptionError, UsageError: an unknown option, a bad value.
    """

    name = "local"
    options_type = LocalOptions

    def __init__(self, **options: Unpack[LocalOptions]) -> None:
        super().__init__(**options)

    def _spawn(self, worker_args: list[str]) -> WorkerProcess:
        env = local_environment(os.environ, self.env)
        return spawn_with_pipes([self.python, str(WORKER_PATH)], worker_args, env=env, cwd=self.workdir)
