"""The ``local`` backend: a persistent worker subprocess on this machine, no isolation.

The worker (``_worker.py`` and its sibling files, run where they are) runs under the interpreter
named by ``python=`` (any Python 3.7 to 3.13, e.g. another virtualenv's), in its own process
group, in the working directory. No isolation: the program can do what this user can. Its
environment is not this process's: only the variables an interpreter needs to run as the user
would expect (``LOCAL_ENV_NAMES``: the search path, home, user name, locale, time zone, temporary
directory), those given with ``env=``, and ``MPLBACKEND=Agg``; API keys and other secrets never
reach it unless passed. Everything else is ``WorkerBackend``'s.

With ``fork_server=`` the worker is forked from a ``ForkServer``'s template (its preloads already
imported, their memory shared) instead of started; ``restart()`` forks a fresh one too, and a
server that no longer serves (closed, or its template died) makes the session start cold again.
``LocalBackend.fork_server_for`` builds the server a ``SessionPool`` shares among its sessions.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any, Unpack

from .._exceptions import UsageError
from ._forkserver import ForkServer, ForkServerGone
from ._options import LocalOptions, WorkerSettings
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
            max_output, env, fork_server).

    Raises:
        UnknownOptionError, UsageError: an unknown option, a bad value, a ``python`` that is not
            the fork server's.
    """

    name = "local"
    options_type = LocalOptions

    def __init__(self, **options: Unpack[LocalOptions]) -> None:
        fork_server = options.get("fork_server")
        if fork_server is not None and not isinstance(fork_server, ForkServer):
            raise UsageError(f"local: fork_server must be a ForkServer, got {fork_server!r}")
        if fork_server is not None and options.get("python") is None:
            options = {**options, "python": fork_server.python}
        super().__init__(**options)
        self.fork_server = fork_server
        if fork_server is not None and _interpreter(self.python) != _interpreter(fork_server.python):
            raise UsageError(
                f"local: python {self.python!r} is not the fork server's interpreter {fork_server.python!r}"
            )

    @classmethod
    def fork_server_for(cls, options: Mapping[str, Any]) -> ForkServer | None:
        """The (not started) ``ForkServer`` whose children are the sessions ``options`` describe:
        their interpreter, preloads and environment (None where this OS cannot fork them).

        The extension point of ``SessionPool(fork=...)``: a backend class without this method
        (or returning None) gets cold sessions."""
        if not ForkServer.supported():
            return None
        settings = WorkerSettings.parse(cls.name, options)
        env = local_environment(os.environ, options.get("env") or {})
        return ForkServer(python=settings.python, preload=settings.preload, env=env)

    def _spawn(self, worker_args: list[str]) -> WorkerProcess:
        env = local_environment(os.environ, self.env)
        server = self.fork_server
        if server is not None and not server.started:
            raise UsageError("local: the fork server was never started (await fork_server.start() first)")
        if server is not None and server.serving:
            try:
                return server.spawn(worker_args, env=env, cwd=self.workdir)
            except ForkServerGone:  # closed or died meanwhile: a cold start
                pass
        return spawn_with_pipes([self.python, str(WORKER_PATH)], worker_args, env=env, cwd=self.workdir)


def _interpreter(python: str) -> str:
    """``python`` as an absolute path (found on PATH when it is a bare name; links kept: a
    virtual environment's interpreter is not its base's)."""
    return os.path.abspath(shutil.which(python) or python)
