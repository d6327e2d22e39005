"""The ``docker`` backend: the same worker in one persistent, locked-down container per session.

Strategy: the container is created through the ``docker`` SDK with no network
(``network_mode=none``; ``network=True``: the engine's default bridge), CPU, memory (swap
included) and PID limits, all capabilities dropped, ``no-new-privileges``, an init process (tini)
as PID 1 and an environment made only of what we pass (``env``, ``environment``). Three bind
mounts: the program's working directory and the session's private directory (program text,
figures), both read-write at the same path as on the host, so relative paths, program and
figure paths mean the same on both sides (this is why the engine must be local: a remote
engine would mount its own machine's paths), and a private control directory
holding the worker script (read-only copy) and five named pipes (FIFOs). The worker speaks the
usual framed protocol over three of them (``--fifo IN OUT CTL``) and its fd 1/2 are the other
two, so a call costs what a local pipe costs: same kernel, no ``docker exec``, no network hop.

The engine must therefore run on this machine, in our PID namespace: the container's init is
watched through a pidfd on its host PID (its exit is the session's death) and killed with a
plain signal when a call ignores its interrupt. Everything else (timeouts, interrupts over the
control FIFO, death and fresh sessions, output capture) is ``WorkerBackend``'s. The container is
always force-removed when the session stops, is restarted or dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import select
import shutil
import signal
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Unpack, cast

from .._exceptions import BackendError, BackendUnavailableError, UsageError
from ._options import DockerOptions, Limits, check_number
from ._outcome import ExecError, Outcome
from ._workerclient import WORKER_FILES, WORKER_PATH, WorkerBackend, WorkerProcess

__all__ = ["DEFAULT_IMAGE", "LABEL", "DockerBackend"]

DEFAULT_IMAGE = "python:3.11-slim"
"""The image used when none is given (pull it first; it is never pulled automatically)."""

LABEL = "eagerexec.session"
"""Label carried by every container of a session; its value is the session id."""

_CTL_INSIDE = "/run/eagerexec"
_SIGNAL_BASE = 128  # tini reports a child killed by signal N as exit status 128 + N
_OPEN_TIMEOUT = 60.0


def _client() -> Any:
    """A connected docker client, or BackendUnavailableError with one clear line."""
    try:
        import docker
    except ImportError as exc:
        raise BackendUnavailableError(
            "docker: the docker SDK is not installed (pip install 'eagerexec[docker]')"
        ) from exc
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:  # DockerException, requests errors: no engine answers
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackendUnavailableError(
            f"docker: no Docker engine answers ({first}); start one, e.g. scripts/start-docker.sh"
        ) from exc
    return client


class _ContainerProcess:
    """Just enough of ``subprocess.Popen`` for ``WorkerBackend``, backed by a container.

    ``pid`` is the host PID of the container's init; the session dies when it exits.
    """

    def __init__(self, container: Any, pid: int) -> None:
        self.container = container
        self.pid = pid
        self.returncode: int | None = None
        self.oom_killed = False
        self._pidfd = -1
        self._gone = False
        pidfd_open = getattr(os, "pidfd_open", None)
        if pidfd_open is not None:
            with contextlib.suppress(OSError):
                self._pidfd = pidfd_open(pid)

    def _exited(self) -> bool:
        if self._gone:
            return True
        if self._pidfd < 0:  # no pidfds here: ask the kernel whether the pid is still there
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                return False
            return False
        readable, _, _ = select.select([self._pidfd], [], [], 0)
        return bool(readable)

    def poll(self) -> int | None:
        if self.returncode is None and self._exited():
            return self.wait()
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            try:
                status = self.container.wait(timeout=60)
                code = int(status.get("StatusCode", -1))
                self.container.reload()
                self.oom_killed = bool(self.container.attrs.get("State", {}).get("OOMKilled"))
            except Exception:  # the container is already gone
                code = -1
            self.returncode = code
            if self._pidfd >= 0:
                with contextlib.suppress(OSError):
                    os.close(self._pidfd)
            self._pidfd = -1
            self._gone = True
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self._pidfd >= 0:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, sig)
        elif not self._gone:
            with contextlib.suppress(OSError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class DockerBackend(WorkerBackend):
    """A persistent interpreter session in a Docker container (see the module docstring).

    Args:
        **options: ``DockerOptions``:
            image: the image to run (needs ``python3`` 3.7 to 3.13 on its PATH, or give ``python=``).
                It must already be present locally (``docker pull``, or
                scripts/build-docker-image.sh for the offline ``eagerexec/python:bookworm``).
                Default: ``$EAGEREXEC_DOCKER_IMAGE`` if set, else ``DEFAULT_IMAGE``.
            cpus: CPU quota (cores, may be fractional; default 2).
            user: ``UID:GID`` the code runs as inside (default: the host user's, so files
                written to the working directory belong to them).
            environment: extra environment variables (the host's are never passed).
            memory, cpu, processes, file_size: the shared ``LimitOptions``; memory (swap
                included) and processes are the container's cgroup limits, cpu and file_size
                rlimits the worker applies.
            python (default ``python3``), preload, grace, spin, on_output, timeout, workdir,
            max_output: the worker options.

    Raises:
        UnknownOptionError, UsageError: an unknown option, a bad value.
        BackendUnavailableError (at start): no engine answers, or the image is not present.
    """

    name = "docker"
    options_type = DockerOptions

    def __init__(self, **options: Unpack[DockerOptions]) -> None:
        options.setdefault("python", "python3")
        super().__init__(**options)
        self.limits = Limits.parse(self.name, options)
        cpus = options.get("cpus", 2.0)
        check_number(self.name, "cpus", cpus, low=0, open_low=True)
        if self.limits.processes < 4:
            raise UsageError(f"docker: processes must be at least 4, got {self.limits.processes}")
        self.image = options.get("image") or os.environ.get("EAGEREXEC_DOCKER_IMAGE") or DEFAULT_IMAGE
        self.cpus = float(cpus)
        user = options.get("user")
        self.user = user if user is not None else f"{os.getuid()}:{os.getgid()}"
        self.environment = dict(options.get("environment") or {})
        self.session_id = uuid.uuid4().hex[:12]
        self.container_id: str | None = None
        self._client: Any = None
        self._ctl_dir: Path | None = None
        self._to_remove: list[Any] = []

    def _worker_args(self) -> list[str]:
        # memory and processes are the container's own limits (cgroup): OOM kills are visible
        return [*super()._worker_args(), "--rlimit", self.limits.rlimit_argument(memory=False, processes=False)]

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect to the engine (once), then start the container's worker (idempotent)."""
        self._check_open()
        if self._client is None:
            self._client = await _in_thread(self._connect)
        await super().start()

    def _connect(self) -> Any:
        client = _client()
        import docker.errors

        try:
            client.images.get(self.image)
        except docker.errors.ImageNotFound:
            client.close()
            raise BackendUnavailableError(
                f"docker: image {self.image!r} is not present; `docker pull {self.image}`, or build the "
                "offline image with scripts/build-docker-image.sh and pass image='eagerexec/python:bookworm'"
            ) from None
        except docker.errors.DockerException as exc:
            client.close()
            raise BackendUnavailableError(f"docker: cannot inspect image {self.image!r}: {exc}") from exc
        _sweep(client)
        return client

    async def _shutdown(self) -> None:
        try:
            await super()._shutdown()
        finally:
            pending, self._to_remove = self._to_remove, []
            for container in pending:
                await _in_thread(_remove, container)

    async def aclose(self) -> None:
        """Stop the worker, force-remove the container, release the client (idempotent)."""
        try:
            await super().aclose()
        finally:
            if self._ctl_dir is not None:
                shutil.rmtree(self._ctl_dir, ignore_errors=True)
                self._ctl_dir = None
            if self._client is not None:
                with contextlib.suppress(Exception):
                    self._client.close()
                self._client = None

    # -- WorkerBackend hooks ----------------------------------------------------------------
    def _spawn(self, worker_args: list[str]) -> WorkerProcess:
        """Create the FIFOs, start the container and connect to the worker (runs in a thread)."""
        assert self.workdir is not None and self.private is not None and self._client is not None
        if self._ctl_dir is None:
            self._ctl_dir = Path(tempfile.mkdtemp(prefix="eager-docker-ctl-")).resolve()
            for path in WORKER_FILES:  # the entry loads the others from its own directory
                shutil.copyfile(path, self._ctl_dir / path.name)
        launch = uuid.uuid4().hex[:8]
        fifo_dir = self._ctl_dir / launch
        fifo_dir.mkdir(mode=0o700)
        names = ("in", "out", "ctl", "stdout", "stderr")
        for fifo in names:
            os.mkfifo(fifo_dir / fifo, 0o600)
        if self.user.split(":")[0] != str(os.getuid()):
            # Another uid inside: let it reach its pipes and read the worker.
            uid, _, gid = self.user.partition(":")
            for path in (fifo_dir, *(fifo_dir / n for n in names)):
                os.chown(path, int(uid), int(gid or uid))
            os.chmod(self._ctl_dir, 0o755)
        inside = f"{_CTL_INSIDE}/{launch}"
        script = (
            f'exec "$0" {_CTL_INSIDE}/{WORKER_PATH.name} --fifo {inside}/in {inside}/out {inside}/ctl "$@" '
            f">{inside}/stdout 2>{inside}/stderr"
        )
        command = ["/bin/sh", "-c", script, self.python, *worker_args]
        environment = {"MPLBACKEND": "Agg", "HOME": "/tmp", **self.env, **self.environment}

        def cleanup_fifos() -> None:
            shutil.rmtree(fifo_dir, ignore_errors=True)

        import docker.errors

        try:
            container = self._client.containers.run(
                self.image,
                command,
                detach=True,
                init=True,
                name=f"eagerexec-{self.session_id}-{launch}",
                labels={LABEL: self.session_id, "eagerexec.backend": "docker"},
                network_mode="bridge" if self.limits.network else "none",
                nano_cpus=int(self.cpus * 1e9),
                mem_limit=self.limits.memory,
                memswap_limit=self.limits.memory,
                pids_limit=self.limits.processes,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                user=self.user,
                environment=environment,
                working_dir=str(self.workdir),
                volumes={
                    str(self.workdir): {"bind": str(self.workdir), "mode": "rw"},
                    str(self.private): {"bind": str(self.private), "mode": "rw"},
                    str(self._ctl_dir): {"bind": _CTL_INSIDE, "mode": "rw"},
                },
                stdin_open=False,
                tty=False,
            )
        except docker.errors.ImageNotFound as exc:
            cleanup_fifos()
            raise BackendUnavailableError(f"docker: image {self.image!r} is not present") from exc
        except docker.errors.DockerException as exc:
            cleanup_fifos()
            raise BackendError(f"docker: cannot start a container from {self.image!r}: {exc}") from exc
        self._to_remove.append(container)
        self.container_id = container.id
        fds: list[int] = []
        try:
            container.reload()
            pid = int(container.attrs["State"]["Pid"])
            if pid <= 0:
                raise OSError(f"the container exited at once (status {container.attrs['State'].get('ExitCode')})")
            if not _in_container(pid, container.id):
                raise BackendUnavailableError(
                    "docker: the engine's processes are not visible here; the docker backend needs an "
                    "engine on this machine (same kernel and PID namespace; the workdir and the "
                    "session's files are mounted at the same paths)"
                )
            process = _ContainerProcess(container, pid)
            # Read ends never block; write ends open once the worker holds the reading end.
            for fifo in ("stdout", "stderr", "out"):
                fds.append(os.open(fifo_dir / fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
            for fifo in ("in", "ctl"):
                fds.append(_open_writer(fifo_dir / fifo, process))
        except BaseException as exc:
            said = _read_nonblocking(fds[1]) if len(fds) > 1 else ""
            for fd in fds:
                os.close(fd)
            _remove(container)  # nobody may call aclose() after a failed start
            self._to_remove.remove(container)
            cleanup_fifos()
            if isinstance(exc, OSError):
                raise OSError(f"{exc}{said or _logs_tail(container)}") from exc
            raise
        out, err, reply, to_worker, control = fds
        return WorkerProcess(
            process=cast(Any, process),
            to_worker=to_worker,
            from_worker=reply,
            control=control,
            stdout=out,
            stderr=err,
            cleanup=[cleanup_fifos],
        )

    def _prepare_workdir(self, workdir: Path) -> None:
        uid, _, gid = self.user.partition(":")
        if uid != str(os.getuid()):
            os.chown(workdir, int(uid), int(gid or uid))  # our own temporary directory

    def _prepare_private(self, private: Path) -> None:
        self._prepare_workdir(private)  # ours too: the container's user writes figures there

    def _exit_status(self, returncode: int) -> int:
        if returncode > _SIGNAL_BASE:
            return -(returncode - _SIGNAL_BASE)
        return returncode

    def _kill(self, proc: WorkerProcess) -> None:
        # SIGKILL to the container's init (PID 1 of its namespace) takes everything down at once.
        cast(_ContainerProcess, proc.process).kill()

    async def _died(self, fresh: bool) -> Outcome:
        proc = self._proc
        outcome = await super()._died(fresh)
        process = cast(_ContainerProcess, proc.process) if proc is not None else None
        if process is not None and process.oom_killed and outcome.error is not None:
            error = ExecError(
                type="MemoryError",
                message=f"the session was killed by its memory limit ({self.limits.memory / 1024**2:g} MiB); its state is lost",
            )
            return replace(outcome, error=error, extra={**outcome.extra, "oom_killed": True})
        return outcome


def _open_writer(path: Path, process: _ContainerProcess) -> int:
    """Open the host's writing end of a FIFO once the worker has opened its reading end."""
    deadline = time.monotonic() + _OPEN_TIMEOUT
    delay = 0.0005
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
        else:
            os.set_blocking(fd, True)
            return fd
        if process.poll() is not None:
            raise OSError(f"the container exited before the worker connected (status {process.returncode})")
        if time.monotonic() > deadline:
            raise OSError(f"the worker did not open {path.name} within {_OPEN_TIMEOUT:g}s")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _in_container(pid: int, container_id: str) -> bool:
    """True when host PID ``pid`` is a process of the container (its cgroup names the id)."""
    try:
        return container_id in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False


def _read_nonblocking(fd: int) -> str:
    with contextlib.suppress(OSError):
        text = os.read(fd, 1 << 16).decode("utf-8", "replace").strip()
        if text:
            return f": {text.splitlines()[-1]}"
    return ""


def _logs_tail(container: Any) -> str:
    with contextlib.suppress(Exception):
        text = container.logs(tail=5).decode("utf-8", "replace").strip()
        if text:
            return f": {text.splitlines()[-1]}"
    return ""


def _sweep(client: Any) -> None:
    """Remove stopped containers of earlier sessions whose host process died without closing."""
    with contextlib.suppress(Exception):
        for container in client.containers.list(
            all=True, filters={"label": "eagerexec.backend=docker", "status": "exited"}
        ):
            _remove(container)


def _remove(container: Any) -> None:
    with contextlib.suppress(Exception):
        container.remove(force=True)


async def _in_thread(func: Any, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, func, *args)

