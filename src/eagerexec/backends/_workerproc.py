"""The worker process as the host holds it: spawning it with its pipes, collecting its output.

Strategy: ``spawn_with_pipes`` creates the five pipes (requests, replies, interrupts, the
user's stdout and stderr), starts the command in its own session with stdin on /dev/null, and
closes the child's ends in the parent. ``OutputCollector`` decodes one output stream incrementally
and keeps at most ``limit`` characters per call, adding a visible marker when it cuts.
``remove_keeping_figures`` cleans a temporary working directory but keeps the PNGs that
outcomes point to. The protocol itself lives in ``_workerclient.py``.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ._base import OutputCallback
from ._outcome import OutputEvent

__all__ = ["OutputCollector", "WorkerProcess", "remove_keeping_figures", "spawn_with_pipes"]

_MARKER = "\n[eagerexec: output truncated at {limit} characters]\n"


@dataclass(slots=True, kw_only=True)
class WorkerProcess:
    """A started worker and the host's ends of its pipes (all file descriptors, owned here).

    Attributes:
        process: the process whose exit means the session died (the worker, bwrap, ``docker run``).
        to_worker: requests (write end).  from_worker: replies (read end).
        control: interrupts (write end).  stdout, stderr: the worker's fd 1/2 (read ends).
        cleanup: called once after the process is reaped (remove FIFOs, containers...).
    """

    process: subprocess.Popen[bytes]
    to_worker: int
    from_worker: int
    control: int
    stdout: int
    stderr: int
    cleanup: list[Callable[[], None]] = field(default_factory=list)


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


class OutputCollector:
    """One output stream of the current call: incremental UTF-8 decode, capped collection."""

    __slots__ = ("decoder", "emit", "kind", "limit", "parts", "size", "truncated")

    def __init__(self, kind: Literal["stdout", "stderr"], limit: int, emit: OutputCallback) -> None:
        self.kind: Literal["stdout", "stderr"] = kind
        self.limit = limit
        self.emit = emit
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    def reset(self) -> None:
        self.parts = []
        self.size = 0
        self.truncated = False

    def feed(self, data: bytes, final: bool = False) -> None:
        text = self.decoder.decode(data, final)
        if not text or self.truncated:
            return
        room = self.limit - self.size
        if len(text) > room:
            text = text[: max(room, 0)]
            self.truncated = True
        if text:
            self.size += len(text)
            self.parts.append(text)
            self.emit(OutputEvent(kind=self.kind, data=text, time=time.monotonic()))
        if self.truncated:
            self.mark()

    def mark(self) -> None:
        marker = _MARKER.format(limit=self.limit)
        self.parts.append(marker)
        self.emit(OutputEvent(kind=self.kind, data=marker, time=time.monotonic()))

    def text(self) -> str:
        return "".join(self.parts)
