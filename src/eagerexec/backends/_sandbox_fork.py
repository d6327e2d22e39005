"""The sandbox backend's fork server: ``SandboxForkServer``, one bubblewrap around the template.

Strategy: a ``ForkServer`` whose template runs in one bwrap, built as a sandbox session's (same
read-only system, interpreter and worker files, same namespaces, the pool's ``network`` setting)
but without a session's writable binds: in their place ``_worker_isolate.template_bwrap_flags``
(the capabilities each child needs to isolate itself, dropped before user code runs) and a bind
of ``root``, a fresh temporary directory this server owns, created at ``start``. Every forked
session keeps its working and private directories under ``root`` (so that the template's mount
tree has them) and isolates itself with ``keep=[workdir, private]``: the other sessions'
directories are hidden from it.

``root`` goes when the server is closed and no session holds a directory under it any longer
(sessions ``attach`` when they make their directories there and ``release`` when they close):
what is left in it then is removed, except the ``figures`` folders of closed sessions (their PNG
paths stay valid, as for a cold session whose private directory keeps its figures).

The environment: ``ForkServer.check_env`` requires every start-up variable (``HOME`` among them)
to be the template's, so a forked session's ``HOME`` is ``/tmp``, its private tmpfs (fresh per
session, the same path in each): dotfiles and caches stay the session's own and go with it. A
cold sandbox session keeps ``HOME`` in its private directory.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ._forkserver import ForkServer
from ._workerproc import remove_keeping_figures

__all__ = ["FORKED_HOME", "SandboxForkServer", "sandbox_environment"]

FORKED_HOME = "/tmp"
"""``HOME`` of the template and of every session it forks (see the module docstring)."""


def sandbox_environment(home: str, given: Mapping[str, str]) -> dict[str, str]:
    """A sandboxed program's whole environment: a fixed search path, locale, ``home``, /tmp,
    ``MPLBACKEND=Agg``, ``USER=sandbox``, then ``given`` (the ``env`` option)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": home,
        "TMPDIR": "/tmp",
        "MPLBACKEND": "Agg",
        "USER": "sandbox",
    }
    env.update(given)
    return env


class SandboxForkServer(ForkServer):
    """A ``ForkServer`` whose template runs in one bwrap (see the module docstring).

    Args:
        python: the interpreter (absolute).  preload: the modules the template imports.
        env: the template's environment (``sandbox_environment(FORKED_HOME, ...)``).
        bwrap: the template's bwrap command without ``root``'s flags and the final ``--``.
        network: the sessions' ``network`` option (the template shares the host's network
            only when True).  ro_paths: the extra read-only paths bound in the template.
    """

    def __init__(
        self,
        python: str,
        preload: Iterable[str],
        env: Mapping[str, str],
        *,
        bwrap: Sequence[str],
        network: bool,
        ro_paths: Sequence[str],
    ) -> None:
        super().__init__(python, preload, env)
        self.network = network
        self.ro_paths = tuple(ro_paths)
        self.root: Path | None = None
        """The directory of every forked session's directories (None before ``start``)."""
        self._bwrap = tuple(bwrap)
        self._holders: set[int] = set()
        self._next_holder = 0
        self._shut = False

    async def start(self) -> None:
        """Make ``root``, then start the template in its bwrap (see ``ForkServer.start``)."""
        if self.root is None and not self._shut:
            from ._worker_isolate import template_bwrap_flags

            self.root = Path(tempfile.mkdtemp(prefix="eager-sandbox-fork-")).resolve()
            self.wrapper = (*self._bwrap, *template_bwrap_flags(str(self.root)), "--chdir", "/", "--")
        try:
            await super().start()
        except Exception:
            self._shut = True  # a failed start fails again: nothing will use root
            self._cleanup()
            raise

    def attach(self) -> tuple[int, Path] | None:
        """Hold ``root`` for a session that makes its directories there: (a key for
        ``release``, root), or None when the server does not serve (the session starts cold
        with its directories where a cold session has them)."""
        if not self.serving or self.root is None or not self.root.is_dir():
            return None
        self._next_holder += 1
        self._holders.add(self._next_holder)
        return self._next_holder, self.root

    def release(self, key: int) -> None:
        """A session that held ``root`` is closed (its own directories already removed)."""
        self._holders.discard(key)
        self._cleanup()

    async def aclose(self) -> None:
        """``ForkServer.aclose``, then remove ``root`` once no session holds it."""
        self._shut = True
        try:
            await super().aclose()
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        root = self.root
        if not self._shut or self._holders or root is None or not root.exists():
            return
        for entry in root.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                remove_keeping_figures(entry)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()
        with contextlib.suppress(OSError):
            root.rmdir()  # not empty: figures kept, the directory stays with them
