"""Backend options: typed keyword-only options per backend, each shared group defined once.

Strategy: each group of options is one ``TypedDict`` (what type checkers see: ``**options:
Unpack[SandboxOptions]``) paired with one frozen settings dataclass holding the values, their
defaults and their checks (``CommonSettings``, ``WorkerSettings``, ``Limits``). A backend's
options type is the union of its groups by inheritance (sandbox and docker both take
``LimitOptions``); ``option_names`` lists what a backend takes, so that an unknown option raises
``UnknownOptionError`` naming it and the valid ones, and a bad value raises ``UsageError`` with
one line. No backend imports here: the registry can be typed without importing the backends.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from .._exceptions import UsageError
from ._outcome import OutputCallback
from ._output import DEFAULT_MAX_OUTPUT

if TYPE_CHECKING:
    from ._forkserver import ForkServer

__all__ = [
    "DEFAULT_SPIN",
    "AnyOptions",
    "CommonOptions",
    "CommonSettings",
    "DockerOptions",
    "JupyterOptions",
    "LimitOptions",
    "Limits",
    "LocalOptions",
    "SandboxOptions",
    "WorkerOptions",
    "WorkerSettings",
    "check_number",
    "cpu_count",
    "option_names",
]

DEFAULT_SPIN = 200e-6
"""Seconds of polling before sleeping, on each side of the worker pipe (see ``WorkerOptions``)."""


class CommonOptions(TypedDict, total=False):
    """Options every backend takes.

    Keys:
        on_output: called with each ``OutputEvent`` as it happens.
        timeout: default seconds a statement may run before it is interrupted (per part of a
            call with ``split_at``, else per call; None: no limit).
        workdir: the directory the program runs in, as ``python prog.py`` run there: relative
            paths resolve there and the files it writes stay (it is created when missing, and
            nothing of the session's own is ever written, changed or re-owned in it). Default: a
            fresh temporary directory, removed on close. The session's own files (the program's
            text, named by ``__file__`` and tracebacks, and captured figures) live in a private
            temporary directory outside it, removed on close except for the figures.
        max_output: characters of stdout (and of stderr) kept per call: the first half and the
            last half; what lies between is dropped behind a marker line (at least 2). A run
            (``Session``) keeps this many per run, and gives notebook display/result bundles a
            budget of the same size, by encoded size.
        env: environment variables for the program. Nothing of this process's environment
            reaches the program unless passed here; each backend adds only what an interpreter
            needs to run (local: ``LOCAL_ENV_NAMES``; sandbox: a fixed PATH, LANG, HOME...;
            docker: the image's).
    """

    on_output: OutputCallback | None
    timeout: float | None
    workdir: str | Path | None
    max_output: int
    env: Mapping[str, str] | None


class WorkerOptions(CommonOptions, total=False):
    """Options of the backends whose session is a ``_worker.py`` process.

    Keys:
        python: the interpreter that runs the worker (default: this one; ``python3`` in docker).
        preload: modules imported when the session starts (warm pools).
        grace: seconds between the interrupt of a timed-out call and killing the worker.
        spin: seconds each side polls for the other's next message before it sleeps. Waking a
            sleeping process costs tens of microseconds, more than a trivial call; the spin keeps
            short calls off that path for at most this much CPU per call. 0 turns it off.
            Default: 200 µs, or 0 when this process may run on one CPU only.
    """

    python: str | Path | None
    preload: Sequence[str]
    grace: float
    spin: float | None


class LimitOptions(TypedDict, total=False):
    """Resource limits and isolation of the isolated backends (sandbox and docker).

    Keys:
        network: give the program the host's network (default False: sandbox, loopback only;
            docker, no network at all).
        memory: bytes of memory (sandbox: address space, RLIMIT_AS; docker: the container's
            memory, swap included).
        cpu: CPU seconds for the whole session (RLIMIT_CPU).
        processes: processes and threads alive at once (sandbox: RLIMIT_NPROC of the sandbox
            user; docker: the container's PID limit).
        file_size: the largest file the code may write, in bytes (RLIMIT_FSIZE).
    """

    network: bool
    memory: int
    cpu: int
    processes: int
    file_size: int


class LocalOptions(WorkerOptions, total=False):
    """Options of the ``local`` backend (see ``WorkerOptions``).

    Keys:
        fork_server: a started ``ForkServer`` to fork the worker from (its preloads already
            imported) instead of starting an interpreter; ``python`` must be its interpreter
            (default: it is). ``SessionPool`` sets this when it forks.
    """

    fork_server: ForkServer | None


class SandboxOptions(WorkerOptions, LimitOptions, total=False):
    """Options of the ``sandbox`` backend.

    Keys:
        ro_paths: extra host paths bound read-only at the same place (data files).
        uid: the unprivileged uid (and gid) to run as when started as root, when it can write
            the working directory (else, and when None, the program keeps the invoking user's
            uid, every capability dropped: the working directory is never re-owned).
        fork_server: a started ``SandboxForkServer`` (``SandboxBackend.fork_server_for``) to
            fork the worker from, inside its template's bwrap, instead of starting a bwrap; the
            session's python, network and ro_paths must be the server's, and workdir unset.
            ``SessionPool`` sets this when it forks.
    """

    ro_paths: Sequence[str | Path]
    uid: int | None
    fork_server: ForkServer | None


class DockerOptions(WorkerOptions, LimitOptions, total=False):
    """Options of the ``docker`` backend.

    Keys:
        image: the image to run (must be present locally; see ``DockerBackend``).
        cpus: CPU quota in cores (may be fractional).
        user: ``UID:GID`` the code runs as inside (default: the host user's).
        environment: extra environment variables for the container (merged with ``env``).
    """

    image: str | None
    cpus: float
    user: str | None
    environment: Mapping[str, str] | None


class JupyterOptions(CommonOptions, total=False):
    """Options of the ``jupyter`` backend.

    Keys:
        kernel_name: an installed kernelspec (default ``python3``).
        interrupt_grace: seconds an interrupted call may take to stop before the kernel restarts.
        startup_timeout: seconds the kernel may take to start.
    """

    kernel_name: str
    interrupt_grace: float
    startup_timeout: float


class AnyOptions(SandboxOptions, DockerOptions, JupyterOptions, total=False):
    """Every option some backend takes (for a backend name known only at run time)."""


def option_names(options_type: type) -> tuple[str, ...]:
    """The option names a ``TypedDict`` of options declares (its bases' included), sorted."""
    names = set(getattr(options_type, "__annotations__", {}))
    names.update(getattr(options_type, "__optional_keys__", ()))
    return tuple(sorted(names))


def check_number(
    where: str,
    name: str,
    value: Any,
    *,
    low: float,
    high: float = math.inf,
    open_low: bool = False,
    integer: bool = False,
    optional: bool = False,
) -> None:
    """Raise ``UsageError`` (one line) unless ``value`` is a finite number in range.

    Args:
        where: the backend, for the message.  name: the option.
        low, high: the bounds (``low`` excluded when ``open_low``).
        integer: the value must be an ``int``.  optional: None is allowed.
    """
    if value is None and optional:
        return
    kind = (int,) if integer else (int, float)
    ok = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if open_low else value >= low) and value <= high
    if not ok:
        what = "an integer" if integer else "a number"
        bound = f"> {low:g}" if open_low else f">= {low:g}"
        if high != math.inf:
            bound += f" and <= {high:g}"
        raise UsageError(f"{where}: {name} must be {what} {bound}, got {value!r}")


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    getaffinity = getattr(os, "sched_getaffinity", None)
    if getaffinity is not None:
        try:
            return len(getaffinity(0))
        except OSError:
            pass
    return os.cpu_count() or 1


@dataclass(frozen=True, slots=True, kw_only=True)
class CommonSettings:
    """The values of ``CommonOptions`` (``on_output`` stays on the backend: it may change)."""

    timeout: float | None = None
    workdir: Path | None = None
    max_output: int = DEFAULT_MAX_OUTPUT
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, where: str, options: Mapping[str, Any]) -> CommonSettings:
        """Checked settings from ``options`` (other keys are ignored)."""
        timeout = options.get("timeout")
        check_number(where, "timeout", timeout, low=0, open_low=True, optional=True)
        max_output = options.get("max_output", DEFAULT_MAX_OUTPUT)
        check_number(where, "max_output", max_output, low=2, integer=True)
        workdir = options.get("workdir")
        env = options.get("env") or {}
        if not isinstance(env, Mapping) or not all(
            isinstance(k, str) and k and "=" not in k and isinstance(v, str) for k, v in env.items()
        ):
            raise UsageError(f"{where}: env must map variable names to strings, got {env!r}")
        return cls(
            timeout=timeout,
            workdir=Path(workdir) if workdir is not None else None,
            max_output=max_output,
            env=dict(env),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerSettings:
    """The values of ``WorkerOptions`` beyond the common ones."""

    python: str | None = None
    preload: tuple[str, ...] = ()
    grace: float = 2.0
    spin: float = DEFAULT_SPIN

    @classmethod
    def parse(cls, where: str, options: Mapping[str, Any]) -> WorkerSettings:
        """Checked settings from ``options`` (other keys are ignored)."""
        python = options.get("python")
        preload = options.get("preload", ())
        if isinstance(preload, str):
            preload = (preload,)
        grace = options.get("grace", 2.0)
        check_number(where, "grace", grace, low=0)
        spin = options.get("spin")
        if spin is None:
            spin = DEFAULT_SPIN if cpu_count() > 1 else 0.0
        check_number(where, "spin", spin, low=0, high=0.1)
        return cls(
            python=str(python) if python is not None else None,
            preload=tuple(str(m) for m in preload),
            grace=float(grace),
            spin=float(spin),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """The values of ``LimitOptions`` (see there)."""

    memory: int = 4 * 1024**3
    cpu: int = 600
    processes: int = 256
    file_size: int = 1024**3
    network: bool = False

    @classmethod
    def parse(cls, where: str, options: Mapping[str, Any]) -> Limits:
        """Checked limits from ``options`` (other keys are ignored)."""
        values: dict[str, int] = {}
        for name in ("memory", "cpu", "processes", "file_size"):
            if name in options:
                check_number(where, name, options[name], low=1, integer=True)
                values[name] = options[name]
        network = options.get("network", False)
        if not isinstance(network, bool):
            raise UsageError(f"{where}: network must be True or False, got {network!r}")
        return cls(**values, network=network)

    def rlimit_argument(self, *, memory: bool = True, processes: bool = True) -> str:
        """The worker's ``--rlimit`` value (``memory``/``processes`` left out when the container
        enforces them instead)."""
        parts = []
        if memory:
            parts.append(f"as={self.memory}")
        parts.append(f"cpu={self.cpu}")
        if processes:
            parts.append(f"nproc={self.processes}")
        parts.append(f"fsize={self.file_size}")
        return ",".join(parts)
