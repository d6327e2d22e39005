"""Warm sessions by fork: ``ForkServer`` runs ``_worker_template.py`` and forks workers from it.

Strategy: one template interpreter imports the worker and the preload modules once, freezes them
out of the garbage collector, and forks a child per session (see ``_worker_template.py`` for why
and for the wire). The host talks to it over a ``SOCK_SEQPACKET`` socket pair: ``spawn`` (any
thread) makes the session's five pipes, sends the request with the child's ends (``SCM_RIGHTS``)
and waits for the child's pid; one reader thread per server takes every message (spawn replies,
children's exit statuses) and wakes the waiters. The template is started by that thread, so
``PR_SET_PDEATHSIG`` (which follows the thread that forked) kills it with the host and never
earlier. A child is a ``ForkedProcess`` (``_forkedproc.py``): the ``subprocess.Popen`` surface the
worker backend uses, its status the template's exit message (its real wait status: ``sys.exit(3)`` -> 3, a SIGKILL ->
-9). Its pid is a host pid: a template in its own PID namespace (inside bwrap) reports namespace
pids, which are translated through ``/proc/<pid>/status`` (``PPid``, ``NSpid``) before the
template may reap the child (it waits for the host's ack). Signals go through a pidfd where the
OS has them (never to a reused pid).

``aclose`` stops new spawns and ends the template once no child it forked is alive: sessions
handed out outlive the pool that made them, and the template reaps them. A template that dies
anyway (killed) leaves its children running; their ``wait`` then polls the pid (pidfd or /proc)
and, the real status being lost with the template, reports -9 (``-signal.SIGKILL``).

Linux only (``SOCK_SEQPACKET`` pairs, /proc); ``ForkServer.supported()`` says so.
"""

from __future__ import annotations

import array
import asyncio
import concurrent.futures
import contextlib
import errno
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from .._exceptions import BackendError, BackendUnavailableError, UsageError
from ._forkedproc import ForkedProcess, ns_child, ns_descendant
from ._workerproc import WorkerProcess

__all__ = ["STARTUP_NAMES", "TEMPLATE_PATH", "ForkServer", "ForkServerGone", "ForkedProcess"]

TEMPLATE_PATH = Path(__file__).with_name("_worker_template.py")
"""The template's script (a sibling of ``_worker.py``)."""

STARTUP_NAMES = ("PYTHON*", "LANG", "LC_ALL", "LC_CTYPE", "HOME")
"""Variables Python reads once at start-up (``PYTHON*``: the search path, hash seed, UTF-8 mode...;
the locale; ``HOME``: the user site directory): a forked session has the template's, so a request
whose values differ is refused."""

_MAX_MESSAGE = 1 << 16
_REPLY_WAIT = 60.0  # seconds a spawn waits for the template's reply before giving up


class ForkServerGone(OSError):
    """The fork server does not take spawns (never started, closed, or its template died)."""


def _startup_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("PYTHON") or k in STARTUP_NAMES}


class ForkServer:
    """A template interpreter that forks warm worker sessions (see the module docstring).

    Args:
        python: the interpreter (default: this one); sessions using it must name the same.
        preload: modules the template imports once, shared by every session it forks.
        env: the template's environment (default: this process's); every variable in
            ``STARTUP_NAMES`` must equal the sessions' (``LocalBackend.fork_server_for`` builds
            one with the local sessions' environment). ``MPLBACKEND=Agg`` is always added.
        wrapper: a command the template runs under (e.g. ``bwrap ... --``); it must keep the
            socket descriptor open. Pids it reports from another PID namespace are translated.
    """

    def __init__(
        self,
        python: str | os.PathLike[str] | None = None,
        preload: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        *,
        wrapper: Sequence[str] = (),
    ) -> None:
        self.python = str(python) if python is not None else sys.executable
        self.preload = tuple(preload)
        base = dict(os.environ if env is None else env)
        base["MPLBACKEND"] = "Agg"
        self.env = base
        self.wrapper = tuple(wrapper)
        self.hello: dict[str, Any] = {}
        self.template_pid: int | None = None
        """The template's host pid once started."""
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._pending: dict[int, dict[str, Any] | None] = {}
        self._children: dict[int, ForkedProcess] = {}
        self._next_id = 0
        self._started = False
        self._closing = False
        self._dead = False
        self._hello_future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        self._done: concurrent.futures.Future[None] = concurrent.futures.Future()

    @staticmethod
    def supported() -> bool:
        """This OS can run a fork server (Linux)."""
        return sys.platform.startswith("linux") and hasattr(socket, "SOCK_SEQPACKET")

    @property
    def started(self) -> bool:
        """``start()`` was called (the template may still be starting, or have ended since)."""
        return self._thread is not None

    @property
    def serving(self) -> bool:
        """Started, not closing, and the template is alive."""
        return self._started and not self._closing and not self._dead

    def live_children(self) -> int:
        """Children forked and not yet reported ended."""
        with self._cond:
            return len(self._children)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start the template and wait for its hello (idempotent; concurrent callers share one
        start, and a start that failed raises the same error again).

        Raises:
            BackendUnavailableError: the interpreter refuses the template (too old) or this OS
                has no fork server.  BackendError: the template did not start.
            UsageError: the server is closed.
        """
        with self._cond:
            if self._closing:
                raise UsageError("ForkServer is closed")
            if self._thread is None:
                if not self.supported():
                    raise BackendUnavailableError("fork server: needs Linux")
                self._thread = threading.Thread(target=self._run, name="eagerexec-forkserver", daemon=True)
                self._thread.start()
        await asyncio.shield(asyncio.wrap_future(self._hello_future))

    # -- the reader thread ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            hello = self._launch()
        except BaseException as exc:
            self._dead = True
            self._hello_future.set_exception(exc)
            self._done.set_result(None)
            return
        with self._cond:
            self.hello = hello
            self._started = True
            if self._closing:  # closed while starting: end it at once
                self._end_template()
        self._hello_future.set_result(hello)
        try:
            self._read()
        finally:
            with self._cond:
                self._dead = True
                for key in list(self._pending):
                    if self._pending[key] is None:
                        self._pending[key] = {"error": "the fork server's template died", "errno": errno.EPIPE}
                self._cond.notify_all()
            self._reap_template()
            self._done.set_result(None)

    def _launch(self) -> dict[str, Any]:
        host, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # The template's fd 1/2 are a pipe (what a cold worker's are: Python sets its streams up
        # once, buffering and seekability included, and the children inherit them), read until
        # the hello for the reason of a failed start, then closed.
        errors_r, errors_w = os.pipe()
        try:
            command = [*self.wrapper, self.python, str(TEMPLATE_PATH), "--socket", str(child.fileno())]
            if self.preload:
                command += ["--preload", ",".join(self.preload)]
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=errors_w,
                stderr=errors_w,
                pass_fds=(child.fileno(),),
                env=self.env,
                start_new_session=True,
            )
        except OSError as exc:
            host.close()
            os.close(errors_r)
            raise BackendError(f"fork server: cannot start {self.python}: {exc}") from exc
        finally:
            child.close()
            os.close(errors_w)
        self._sock = host
        try:
            message, text = self._hello(errors_r)
            if message is None or "hello" not in message:
                code = self._process.wait()
                if code == 2 and text and "\n" not in text:
                    raise BackendUnavailableError(f"fork server: {text} ({self.python})")
                raise BackendError(
                    f"fork server: the template did not start ({self.python}, status {code}): {text or 'no output'}"
                )
        except BaseException:
            host.close()
            self._sock = None
            self._reap_template()
            raise
        finally:
            os.close(errors_r)
        self.template_pid = self._process.pid
        if message.get("pid") != self._process.pid:  # in its own PID namespace: find it
            found = None
            for _ in range(100):
                found = ns_descendant(self._process.pid, int(message["pid"]))
                if found is not None:
                    break
                time.sleep(0.01)
            if found is None:
                self._sock.shutdown(socket.SHUT_RDWR)
                self._reap_template()
                raise BackendError("fork server: cannot find the template's host pid in /proc")
            self.template_pid = found
        return message

    def _hello(self, errors: int) -> tuple[dict[str, Any] | None, str]:
        """The template's first message, reading what it prints meanwhile (its last 2000
        characters, stripped, are returned)."""
        assert self._sock is not None
        printed = bytearray()
        watched: list[Any] = [self._sock, errors]
        while True:
            ready = select.select(watched, [], [])[0]
            if errors in ready:  # what it printed first (a start-up that fails ends with EOF)
                data = os.read(errors, 1 << 16)
                if data:
                    printed += data
                    del printed[:-4000]
                else:
                    watched = [self._sock]
                continue
            return self._recv(), printed.decode("utf-8", "replace").strip()[-2000:]

    def _recv(self) -> dict[str, Any] | None:
        assert self._sock is not None
        try:
            data = self._sock.recv(_MAX_MESSAGE)
        except OSError:
            return None
        if not data:
            return None
        message: dict[str, Any] = json.loads(data.decode("utf-8"))
        return message

    def _read(self) -> None:
        while True:
            message = self._recv()
            if message is None:
                return
            with self._cond:
                if "exit" in message:
                    child = self._children.pop(int(message["exit"]), None)
                    if child is not None:
                        child.ended(int(message["status"]))
                    if self._closing and not self._children:
                        self._end_template()
                elif "id" in message:
                    if int(message["id"]) in self._pending:
                        self._pending[int(message["id"])] = message
                self._cond.notify_all()

    def _end_template(self) -> None:
        """EOF to the template: it exits; the reader sees EOF and reaps it."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_WR)

    def _reap_template(self) -> None:
        process = self._process
        if process is None:
            return
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    # -- spawning ---------------------------------------------------------------------------
    def check_env(self, env: Mapping[str, str]) -> None:
        """Raise ``UsageError`` unless ``env``'s start-up variables are the template's."""
        mine, theirs = _startup_env(self.env), _startup_env(env)
        if mine != theirs:
            names = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            raise UsageError(
                "fork server: the session's start-up environment differs from the template's in "
                + ", ".join(names)
                + " (give the ForkServer the sessions' env)"
            )

    def spawn(
        self,
        worker_args: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str | os.PathLike[str] | None = None,
        isolate: Mapping[str, Any] | None = None,
    ) -> WorkerProcess:
        """Fork a worker: as ``spawn_with_pipes([python, _worker.py], worker_args, env, cwd)``.

        Thread-safe and blocking (backends call it in an executor thread).

        Args:
            worker_args: the worker's options after its channels.  env: its whole environment.
            cwd: its working directory.  isolate: a spec for ``_worker_isolate.isolate``
                (applied in the child before the worker starts).

        Returns:
            The started worker; its ``process`` is a ``ForkedProcess``.

        Raises:
            ForkServerGone: not started, closed, or the template died.
            UsageError: ``env``'s start-up variables are not the template's.
            OSError: the fork failed (as ``subprocess.Popen`` would raise).
        """
        if not self.serving or self._sock is None:
            raise ForkServerGone(errno.ESRCH, "the fork server is not serving")
        self.check_env(env)
        request: dict[str, Any] = {
            "args": list(worker_args),
            "env": dict(env),
            "cwd": os.fspath(cwd) if cwd is not None else None,
        }
        if isolate is not None:
            request["isolate"] = dict(isolate)
        pipes = [os.pipe() for _ in range(5)]  # requests, replies, control, stdout, stderr
        (req_r, req_w), (rep_r, rep_w), (ctl_r, ctl_w), (out_r, out_w), (err_r, err_w) = pipes
        child_ends = (req_r, rep_w, ctl_r, out_w, err_w)
        host_ends = (req_w, rep_r, ctl_w, out_r, err_r)
        try:
            with self._cond:
                self._next_id += 1
                request["id"] = key = self._next_id
                self._pending[key] = None
            try:
                with self._send_lock:
                    self._sock.sendmsg(
                        [json.dumps(request).encode("utf-8")],
                        [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", child_ends))],
                    )
            except OSError as exc:
                with self._cond:
                    self._pending.pop(key, None)
                raise ForkServerGone(exc.errno or errno.EPIPE, f"the fork server is gone: {exc}") from exc
            finally:
                for fd in child_ends:
                    os.close(fd)
            with self._cond:
                self._cond.wait_for(lambda: self._pending[key] is not None, _REPLY_WAIT)
                reply = self._pending.pop(key)
            if reply is None:
                raise OSError(errno.ETIMEDOUT, "the fork server did not answer")
            if "pid" not in reply:
                code = int(reply.get("errno") or errno.EIO)
                if code == errno.EPIPE:
                    raise ForkServerGone(code, str(reply.get("error")))
                raise OSError(code, str(reply.get("error")))
            process = self._adopt(int(reply["pid"]))
        except BaseException:
            for fd in host_ends:
                with contextlib.suppress(OSError):
                    os.close(fd)
            raise
        return WorkerProcess(
            process=process, to_worker=req_w, from_worker=rep_r, control=ctl_w, stdout=out_r, stderr=err_r
        )

    def _adopt(self, ns_pid: int) -> ForkedProcess:
        """The child ``ns_pid`` (not reaped before our ack): its host pid and pidfd, then ack."""
        assert self._process is not None and self.template_pid is not None
        pid: int | None = ns_pid
        if self.template_pid != self.hello.get("pid"):
            pid = ns_child(self.template_pid, ns_pid)
        pidfd = -1
        pidfd_open = getattr(os, "pidfd_open", None)
        if pid is not None and pidfd_open is not None:
            with contextlib.suppress(OSError):
                pidfd = pidfd_open(pid)
        process = None
        if pid is not None:
            process = ForkedProcess(pid=pid, ns_pid=ns_pid, pidfd=pidfd, cond=self._cond, orphaned=lambda: self._dead)
            with self._cond:
                self._children[ns_pid] = process
        with contextlib.suppress(OSError), self._send_lock:
            assert self._sock is not None
            self._sock.send(json.dumps({"ack": ns_pid}).encode("utf-8"))
        if process is None:  # its pipes close with the error: the worker ends at EOF
            raise OSError(errno.ESRCH, f"fork server: child {ns_pid} not found in /proc")
        return process

    # -- closing ----------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Stop taking spawns; end the template now if no child it forked is alive, else once
        the last one exits (sessions handed out outlive the pool). Idempotent."""
        with self._cond:
            self._closing = True
            if self._thread is None:
                return
            idle = not self._children
            if idle:
                self._end_template()  # (a start under way ends it once it has started)
        if idle:
            await asyncio.shield(asyncio.wrap_future(self._done))

    def close_now(self) -> None:
        """Kill the template at once (its children live on; see the module docstring)."""
        self._closing = True
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
