"""The worker process as the host holds it: spawning it with its pipes, collecting its output.

Strategy: ``spawn_with_pipes`` creates the five pipes (requests, replies, interrupts, the
user's stdout and stderr), starts the command in its own session with stdin on /dev/null, and
closes the child's ends in the parent; ``WorkerProcess`` holds the host's ends (``send`` writes a
request, ``close`` closes them once the process is gone). ``OutputCollector`` decodes one output stream incrementally
and keeps at most ``limit`` characters per call, adding a visible marker when it cuts.
``remove_keeping_figures`` cleans a temporary working directory but keeps the PNGs that
outcomes point to. The protocol itself lives in ``_workerclient.py``.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from .._exceptions import BackendUnavailableError, SessionDiedError
from ._outcome import OutputCallback, OutputEvent
from ._output import OutputCap

__all__ = [
    "ExitWatch",
    "StreamOutput",
    "Waitable",
    "WorkerProcess",
    "remove_keeping_figures",
    "spawn_with_pipes",
    "start_failure",
]


class Waitable(Protocol):
    """What the host needs of the session's process: ``subprocess.Popen``'s surface (a forked
    session's ``ForkedProcess`` and docker's container process have it too)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


@dataclass(slots=True, kw_only=True)
class WorkerProcess:
    """A started worker and the host's ends of its pipes (all file descriptors, owned here).

    Attributes:
        process: the process whose exit means the session died (the worker, bwrap, ``docker run``).
        to_worker: requests (write end).  from_worker: replies (read end).
        control: interrupts (write end).  stdout, stderr: the worker's fd 1/2 (read ends).
        cleanup: called once after the process is reaped (remove FIFOs, containers...).
    """

    process: Waitable
    to_worker: int
    from_worker: int
    control: int
    stdout: int
    stderr: int
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def send(self, data: bytes) -> None:
        """Write ``data`` on the request channel (nothing when the worker is gone: its exit
        watch reports that)."""
        try:
            sent = os.write(self.to_worker, data)
            if sent < len(data):  # a request larger than the pipe's buffer
                view = memoryview(data)[sent:]
                while view:
                    view = view[os.write(self.to_worker, view) :]
        except OSError:
            pass

    def close(self) -> None:
        """Close the host's ends and run the cleanups (after the process is gone)."""
        with contextlib.suppress(Exception):
            self.process.wait()
        for fd in (self.from_worker, self.stdout, self.stderr, self.control, self.to_worker):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.to_worker = self.control = -1
        callbacks, self.cleanup = self.cleanup, []
        for callback in callbacks:
            with contextlib.suppress(Exception):
                callback()


def spawn_with_pipes(
    command: Sequence[str],
    worker_args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
) -> WorkerProcess:
    """Start ``command + ["--fds", R, W, C] + worker_args`` with fresh pipes.

    ``command`` ends with the worker script's path (as the child sees it). The child gets
    stdin from /dev/null and runs in a new session (its own process group).

    Raises:
        OSError: the process could not be started.
    """
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    child_ends = (req_r, rep_w, ctl_r, out_w, err_w)
    try:
        argv = [*command, "--fds", str(req_r), str(rep_w), str(ctl_r), *worker_args]
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=err_w,
            pass_fds=(req_r, rep_w, ctl_r),
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    except BaseException:
        for fd in (*child_ends, req_w, rep_r, ctl_w, out_r, err_r):
            os.close(fd)
        raise
    for fd in child_ends:
        os.close(fd)
    return WorkerProcess(
        process=process, to_worker=req_w, from_worker=rep_r, control=ctl_w, stdout=out_r, stderr=err_r
    )


def start_failure(prefix: str, python: str, code: int | None, output: str) -> Exception:
    """The error for a worker that ended (status ``code``, None: still running) before its hello,
    having printed ``output``: one that refused the interpreter (status 2 and one line; or the
    interpreter refused the file) is ``BackendUnavailableError`` quoting that line; otherwise
    ``SessionDiedError`` saying how it ended."""
    if code == 2 and output and "\n" not in output:
        return BackendUnavailableError(f"{prefix}{output} ({python})")
    if not output:  # say why all the same: how it ended
        output = (
            f"it exited with status {code} and printed nothing (is it a Python interpreter?)"
            if code is not None and code >= 0
            else f"it was killed by signal {-code}" if code is not None else "it did not answer"
        )
    return SessionDiedError(f"{prefix}the worker did not start ({python}): {output}")


def remove_keeping_figures(workdir: Path) -> None:
    """Remove a session's temporary directory, except its figures: ``Outcome.figures`` paths
    stay valid after the session closes (the directory goes when no figure was saved)."""
    figures = workdir / "figures"
    if not figures.is_dir() or not any(figures.iterdir()):
        shutil.rmtree(workdir, ignore_errors=True)
        return
    for entry in workdir.iterdir():
        if entry != figures:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()


class StreamOutput:
    """One output stream of the worker: incremental UTF-8 decode and the call's ``OutputCap``.

    The head of each call's output is emitted live; ``finish()`` emits the tail (with what was
    dropped before it) when the call ends. ``reset()`` starts the next call.
    """

    __slots__ = ("cap", "decoder", "emit", "kind", "limit")

    def __init__(self, kind: Literal["stdout", "stderr"], limit: int, emit: OutputCallback) -> None:
        self.kind: Literal["stdout", "stderr"] = kind
        self.limit = limit
        self.emit = emit
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.cap = OutputCap(limit)

    def reset(self) -> None:
        """A new call starts: a fresh cap (the same one when the last call wrote nothing)."""
        if self.cap.total:
            self.cap = OutputCap(self.limit)

    def feed(self, data: bytes) -> None:
        """Decode ``data``; emit the part that goes to the head."""
        text = self.decoder.decode(data)
        if text:
            live = self.cap.feed(text)
            if live:
                self.emit(OutputEvent(kind=self.kind, data=live, time=time.monotonic()))

    def finish(self) -> str:
        """The call's output is complete: emit its tail, return everything kept."""
        if not self.cap.total:  # the common case of a silent call: nothing to do
            return ""
        tail, dropped = self.cap.take_tail()
        if tail or dropped:
            self.emit(OutputEvent(kind=self.kind, data=tail, time=time.monotonic(), skipped=dropped))
        return self.cap.text()

    @property
    def truncated(self) -> bool:
        """Output of this call was dropped."""
        return self.cap.dropped > 0


class ExitWatch:
    """Calls ``callback`` in the event loop once ``process`` has exited.

    Where the OS has pidfds (Linux), the process's pidfd is watched by the loop; elsewhere (or
    when ``pidfd_open`` fails) a daemon thread blocks in ``process.wait()`` and hands over to the
    loop. ``stop()`` (idempotent) ends the watch; the thread ends with the process, which the
    backend always kills and reaps.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, process: Waitable, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._stopped = False
        self._fd = -1
        pidfd_open = getattr(os, "pidfd_open", None)
        if pidfd_open is not None:
            try:
                self._fd = pidfd_open(process.pid)
            except OSError:  # an old kernel; the process is already reaped
                self._fd = -1
        if self._fd >= 0:
            loop.add_reader(self._fd, self._fire)
        else:
            self.thread: threading.Thread | None = threading.Thread(
                target=self._wait, args=(process,), name=f"eagerexec-exit-{process.pid}", daemon=True
            )
            self.thread.start()

    @property
    def uses_pidfd(self) -> bool:
        """The watch is a pidfd (no thread)."""
        return self._fd >= 0

    def _wait(self, process: Waitable) -> None:
        with contextlib.suppress(Exception):
            process.wait()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self._loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        if not self._stopped:
            self.stop()
            self._callback()

    def stop(self) -> None:
        """Stop watching (idempotent)."""
        self._stopped = True
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
