"""A session forked by the fork server's template, as the host holds it: ``ForkedProcess``.

Strategy: the template reaps its children and reports their wait statuses (``_forkserver.py``
reads them and calls ``ended``); a ``ForkedProcess`` waits on the server's condition for that.
Signals go through a pidfd opened before the template may reap the child (never to a reused pid),
else to the pid while no status is known. A child whose template died (``orphaned``) is watched
by its pidfd or /proc until it exits; its real status is lost with the template, so it is
reported as -9 (``-signal.SIGKILL``). The /proc helpers translate the pids of a template that
runs in its own PID namespace (``PPid``, ``NSpid`` of ``/proc/<pid>/status``): Linux only.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["ForkedProcess", "gone", "ns_child", "ns_descendant"]

_POLL = 0.05  # seconds between checks of a child whose template died


def _status_fields(pid: int) -> dict[str, str]:
    """``/proc/<pid>/status`` as a dict (empty when the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _proc_pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def ns_child(parent: int, ns_pid: int) -> int | None:
    """The host pid of ``parent``'s child whose pid in its own namespace is ``ns_pid``."""
    for pid in _proc_pids():
        fields = _status_fields(pid)
        if fields.get("PPid") == str(parent) and fields.get("NSpid", "").split()[-1:] == [str(ns_pid)]:
            return pid
    return None


def ns_descendant(ancestor: int, ns_pid: int) -> int | None:
    """The host pid of a descendant of ``ancestor`` whose innermost pid is ``ns_pid``."""
    for pid in _proc_pids():
        nspid = _status_fields(pid).get("NSpid", "").split()
        if len(nspid) < 2 or nspid[-1] != str(ns_pid):
            continue
        up = pid
        for _ in range(8):
            ppid = int(_status_fields(up).get("PPid", "0") or 0)
            if ppid == ancestor:
                return pid
            if ppid <= 1:
                break
            up = ppid
    return None


def gone(pid: int) -> bool:
    """Process ``pid`` has exited (absent, or a zombie nobody reaps for us)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] in (["Z"], ["X"])


class ForkedProcess:
    """A session forked by the template, with the ``subprocess.Popen`` surface the backend uses.

    Attributes:
        pid: the host pid (the child leads its own session and process group: ``os.killpg``
            works).  ns_pid: its pid as the template sees it.  returncode: None while it runs,
            then the ``subprocess`` return code (negative: killed by that signal).
    """

    def __init__(
        self, *, pid: int, ns_pid: int, pidfd: int, cond: threading.Condition, orphaned: Callable[[], bool]
    ) -> None:
        self.pid = pid
        self.ns_pid = ns_pid
        self.returncode: int | None = None
        self._cond = cond
        self._orphaned = orphaned
        self._pidfd = pidfd

    def ended(self, returncode: int) -> None:
        """The exit status is known (called with ``cond`` held)."""
        if self.returncode is None:
            self.returncode = returncode
        if self._pidfd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._pidfd)
            self._pidfd = -1

    def poll(self) -> int | None:
        """The return code, or None while the process runs."""
        with self._cond:
            if self.returncode is None and self._orphaned() and self._orphan_gone(0):
                self.ended(-signal.SIGKILL)
            return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait until the process exits; returns its return code.

        Raises:
            subprocess.TimeoutExpired: still running after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        cond = self._cond
        with cond:
            while self.returncode is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired(f"forked worker {self.pid}", timeout or 0.0)
                if self._orphaned():  # no exit message will come: watch the pid ourselves
                    if self._orphan_gone(_POLL if left is None else min(_POLL, left)):
                        self.ended(-signal.SIGKILL)
                    continue
                cond.wait(left)
            return self.returncode

    def _orphan_gone(self, wait: float) -> bool:
        """Wait up to ``wait`` seconds (condition released) for the orphaned child to exit."""
        fd = self._pidfd
        cond = self._cond
        cond.release()
        try:
            if fd >= 0:
                with contextlib.suppress(OSError, ValueError):
                    if select.select([fd], [], [], wait)[0]:
                        return True
                    return False
            if gone(self.pid):
                return True
            time.sleep(wait)
            return gone(self.pid)
        finally:
            cond.acquire()

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` unless the process is known to have exited."""
        with self._cond:
            if self.returncode is not None:
                return
            pidfd_send_signal = getattr(signal, "pidfd_send_signal", None)
            if self._pidfd >= 0 and pidfd_send_signal is not None:
                with contextlib.suppress(ProcessLookupError):
                    pidfd_send_signal(self._pidfd, sig)
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        """SIGTERM."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL."""
        self.send_signal(signal.SIGKILL)
