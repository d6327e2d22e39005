"""Host side of the worker protocol (see ``_worker.py``), shared by local, sandbox and docker.

Strategy: ``WorkerBackend`` owns one worker process and talks to it over plain pipe file
descriptors registered with the running loop (``add_reader`` on non-blocking fds, ``os.read``
/ ``os.write``, frames from ``_wire``): one request frame out, one result frame back per call.
The worker's fd 1/2 are pipes read the same way; output goes through one ``OutputCap`` per stream
and call (head live to ``on_output``, tail when the call ends). The worker flushes before it
replies, so when the result frame arrives the host drains both pipes without blocking and has
every byte of the call's output; while a call runs longer than ``FLUSH_EVERY`` the host asks for
a flush on the control pipe that often, so a long call's output streams live. Worker death is
seen through ``ExitWatch`` (a pidfd, or a waiting thread). Timeouts are per statement: a call of
several parts (``split_at``) asks the worker for a ``P`` frame as each later part starts (none for
a call of one part or without a timeout), and the call's one timer, when it fires, moves to the
current part's deadline; at the timeout, interrupt over the control pipe, then kill after
``grace`` seconds.
Cancellation: the call is interrupted at once and given ``CANCEL_GRACE`` seconds to finish;
otherwise the worker is killed and reaped before the cancellation propagates, and the next call
runs on a fresh session that says so. A worker that refuses the interpreter (exit status 2 and
one line) is a ``BackendUnavailableError`` quoting that line; an ``internal`` error in a reply (the
worker failed, not the program) is an ``ExecError`` marked ``internal`` (see ``_wire``).

Subclasses implement ``_spawn`` (start the worker, return a ``WorkerProcess``; spawning and output
collection live in ``_workerproc.py``) and may override ``_exit_status`` (map the process's return
code), ``_kill`` (how to stop it hard) and ``_worker_args``.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import os
import select
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .._exceptions import BackendError
from ._base import Backend
from ._options import WorkerSettings
from ._outcome import ExecError, ExecRequest, Outcome, OutputEvent
from ._wire import (
    ACK_FRAME,
    FLUSH_MESSAGE,
    PROGRAM_FILE,
    display_event,
    encode_request,
    interrupt_message,
    outcome_of,
    split_frames,
)
from ._workerproc import (
    ExitWatch,
    StreamOutput,
    WorkerProcess,
    remove_keeping_figures,
    spawn_with_pipes,
    start_failure,
)

__all__ = ["CANCEL_GRACE", "FLUSH_EVERY", "WORKER_FILES", "WORKER_PATH", "WorkerBackend", "WorkerProcess", "spawn_with_pipes"]

WORKER_PATH = Path(__file__).with_name("_worker.py")
"""The worker's entry script; stdlib-only, runs under Python 3.7 to 3.13 (refuses older ones)."""

_SIBLINGS = ("_worker_io.py", "_worker_display.py", "_worker_exec.py", "_worker_template.py", "_worker_isolate.py")
WORKER_FILES = (WORKER_PATH, *(WORKER_PATH.with_name(name) for name in _SIBLINGS))
"""Every file of the worker (the entry first): they ship together, in one directory, under these
names (the entry loads the others from its own directory)."""

CANCEL_GRACE = 0.5
"""Seconds a cancelled call may take to stop after its interrupt before the worker is killed."""

FLUSH_EVERY = 0.1
"""Seconds between the flush requests sent to the worker while a call runs longer than that: the
program's buffered output (stdout is block-buffered on a pipe) reaches ``on_output`` as it comes."""

_READ = 1 << 16
_yield = getattr(os, "sched_yield", lambda: None)  # between polls of a spin (see the worker's)


class WorkerBackend(Backend):
    """A backend whose session is one ``_worker.py`` process (see the module docstring).

    Options: ``WorkerOptions`` (python, preload, grace, spin, and the common on_output, timeout,
    workdir, max_output, env). The program runs in ``workdir`` (without it, in a fresh temporary
    directory removed on close). The session's own files live in ``private``, a temporary
    directory outside the workdir: the program's text (``program.py``, the ``__file__`` tracebacks
    name) and captured figures (``figures/``); it is removed on close except for its ``figures``
    folder (the PNG paths the outcomes name stay valid). Nothing is written, changed, removed or
    re-owned in a workdir the caller gave.
    """

    name = "worker"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        settings = WorkerSettings.parse(self.name, options)
        self.python = settings.python or sys.executable
        self.preload = settings.preload
        self.grace = settings.grace
        self.spin = settings.spin
        self.workdir: Path | None = None
        self.private: Path | None = None
        """The session's own directory (program text, figures), outside ``workdir``."""
        self.worker_pid: int | None = None
        self.hello: dict[str, Any] = {}
        self._proc: WorkerProcess | None = None
        self._starting: asyncio.Future[None] | None = None  # the start-up concurrent callers share
        self._watch: ExitWatch | None = None
        self._buf = bytearray()
        self._pending: asyncio.Future[dict[str, Any] | None] | None = None
        self._call_id = 0
        self._dead = False
        self._ended = False
        self._fresh_next = False
        self._lost_unreported = False
        self._kill_reason: str | None = None
        self._exited: asyncio.Event | None = None
        self._ticking = False  # the flush timer runs (``_on_tick``)
        self._call_since = 0.0  # loop time the running call started waiting
        self._timer: asyncio.TimerHandle | None = None  # the running statement's timeout
        self._part_timeout = 0.0  # seconds each statement (part) of the running call may take
        self._part_since = 0.0  # loop time the running call's current part started
        self._poller: select.poll | None = None  # the worker's stdout and stderr (``_drain_output``)
        self._replies: select.poll | None = None  # its reply channel (``_spin_for_reply``)
        self._out = StreamOutput("stdout", self.max_output, self.emit)
        self._err = StreamOutput("stderr", self.max_output, self.emit)

    @property
    def program_path(self) -> str | None:
        """The program file as the worker names it in tracebacks (None before start): what the
        worker's hello says, else ``PROGRAM_FILE`` in the working directory."""
        program = self.hello.get("program")
        if isinstance(program, str):
            return program
        return str(self.private / PROGRAM_FILE) if self.private is not None else None

    # -- hooks for subclasses -----------------------------------------------------------
    @abc.abstractmethod
    def _spawn(self, worker_args: list[str]) -> WorkerProcess:
        """Start the worker with ``worker_args`` appended to its channel arguments."""

    def _exit_status(self, returncode: int) -> int:
        """The worker's exit status from the spawned process's return code."""
        return returncode

    def _kill(self, proc: WorkerProcess) -> None:
        """Kill the worker and everything it started (default: its whole process group)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.process.kill()

    def _worker_args(self) -> list[str]:
        """The worker's options (no output cap: the host applies the one output limit)."""
        assert self.workdir is not None and self.private is not None
        args = ["--workdir", str(self.workdir), "--private", str(self.private)]
        if self.spin:
            args += ["--spin-us", str(round(self.spin * 1e6))]
        if self.preload:
            args += ["--preload", ",".join(self.preload)]
        return args

    def _prepare_workdir(self, workdir: Path) -> None:
        """Hook: adjust the working directory before the first worker starts (called only for a
        temporary directory the session made itself: a caller's directory is never changed)."""

    def _prepare_private(self, private: Path) -> None:
        """Hook: adjust the session's private directory before the first worker starts."""

    # -- the contract ---------------------------------------------------------------------
    async def start(self) -> None:
        """Start the session (idempotent; concurrent callers share one start-up)."""
        self._check_open()
        if self._started:
            return
        starting = self._starting
        if starting is None or starting.done():
            starting = self._starting = asyncio.ensure_future(self._start_once())
        await asyncio.shield(starting)

    async def _start_once(self) -> None:
        if self._started:
            return
        if self.private is None:
            self.private = Path(tempfile.mkdtemp(prefix=f"eager-{self.name}-")).resolve()
            self._prepare_private(self.private)
        if self.workdir is None:
            if self._workdir_option is not None:
                self._workdir_option.mkdir(parents=True, exist_ok=True)
                self.workdir = self._workdir_option.resolve()
            else:
                self.workdir = Path(tempfile.mkdtemp(prefix=f"eager-{self.name}-work-")).resolve()
                self._prepare_workdir(self.workdir)
        await self._launch()
        self._started = True

    async def execute(self, request: ExecRequest) -> Outcome:
        """Run one request (see ``Backend.execute``)."""
        return await self._serve(request, self._call)

    async def interrupt(self) -> None:
        """Interrupt the running call (no-op when none runs)."""
        if self._busy:
            self._send_interrupt(self._call_id)

    async def restart(self) -> None:
        """Kill the worker and start a fresh one."""
        self._check_open()
        await self._shutdown()
        self._fresh_next = self._lost_unreported = False
        self._started = False
        await self.start()

    async def aclose(self) -> None:
        """Stop the worker (EOF, terminate, kill: always reaped) and clean up (idempotent)."""
        if self._closed:
            return
        self._closed = True
        starting = self._starting
        if starting is not None and not starting.done():
            starting.cancel()  # a start-up still running kills the worker it was spawning
            await asyncio.wait([starting])
        try:
            await self._shutdown()
        finally:
            if self.workdir is not None and self._workdir_option is None:
                shutil.rmtree(self.workdir, ignore_errors=True)  # our own scratch directory
            if self.private is not None:
                remove_keeping_figures(self.private)

    # -- lifecycle ------------------------------------------------------------------------
    async def _launch(self) -> None:
        loop = asyncio.get_running_loop()
        spawning = loop.run_in_executor(None, self._spawn, self._worker_args())
        try:
            proc = await asyncio.shield(spawning)
        except asyncio.CancelledError:
            spawning.add_done_callback(self._abandon_spawn)
            raise
        except OSError as exc:
            raise BackendError(f"{self.name}: cannot start the worker with {self.python}: {exc}") from exc
        self._proc = proc
        self._buf = bytearray()
        self._dead = self._ended = False
        self._kill_reason = None
        self._exited = asyncio.Event()
        for fd in (proc.from_worker, proc.stdout, proc.stderr):
            os.set_blocking(fd, False)
        self._out = StreamOutput("stdout", self.max_output, self.emit)
        self._err = StreamOutput("stderr", self.max_output, self.emit)
        loop.add_reader(proc.from_worker, self._on_reply)
        loop.add_reader(proc.stdout, self._on_stream, proc.stdout, self._out)
        loop.add_reader(proc.stderr, self._on_stream, proc.stderr, self._err)
        self._poller = select.poll()
        for fd in (proc.stdout, proc.stderr):
            self._poller.register(fd, select.POLLIN)
        self._replies = select.poll()
        self._replies.register(proc.from_worker, select.POLLIN)
        self._watch = ExitWatch(loop, proc.process, self._on_exit)
        hello = loop.create_future()
        self._pending = hello
        try:
            result = await asyncio.wait_for(hello, 120)
        except TimeoutError:
            result = None
        except BaseException:
            self._reap_now(proc)
            raise
        if result is None:
            self._drain_output(proc)
            output = (self._out.finish() + self._err.finish()).strip()[-2000:]
            await self._shutdown()
            raise start_failure(f"{self.name}: ", self.python, proc.process.returncode, output)
        self.hello = result
        self.worker_pid = result.get("pid")
        if result.get("preload_errors"):
            errors = "; ".join(f"{k}: {v}" for k, v in result["preload_errors"].items())
            self.emit(OutputEvent(kind="stderr", data=f"preload failed: {errors}\n", time=time.monotonic()))

    def _abandon_spawn(self, spawning: asyncio.Future[WorkerProcess]) -> None:
        """The start was cancelled while the worker was being spawned: kill and reap it."""
        if not spawning.cancelled() and spawning.exception() is None:
            proc = spawning.result()
            self._kill(proc)
            proc.close()

    async def _shutdown(self) -> None:
        """Stop the worker: EOF -> wait -> terminate -> wait -> kill, then always reap."""
        proc = self._proc
        if proc is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.close(proc.to_worker)
            proc.to_worker = -1
            if proc.process.poll() is None and self._exited is not None and not self._dead:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._exited.wait(), 1.0)
            if proc.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.process.terminate()
                if self._exited is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._exited.wait(), 1.0)
            self._kill(proc)  # also takes down what the worker left behind in its group
            await asyncio.get_running_loop().run_in_executor(None, proc.process.wait)
        except BaseException:  # cancelled while stopping: finish synchronously, never leak it
            self._reap_now(proc)
            raise
        self._teardown(proc)

    def _reap_now(self, proc: WorkerProcess) -> None:
        """Kill and reap synchronously (bounded: the process was sent SIGKILL)."""
        self._kill(proc)
        with contextlib.suppress(Exception):
            proc.process.wait()
        if self._proc is proc:
            self._teardown(proc)

    def _teardown(self, proc: WorkerProcess) -> None:
        loop = asyncio.get_running_loop()
        for fd in (proc.from_worker, proc.stdout, proc.stderr):
            loop.remove_reader(fd)
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        proc.close()
        self._poller = self._replies = None
        self._proc = None
        self._dead = True
        if self._pending is not None and not self._pending.done():
            self._pending.set_result(None)

    # -- loop callbacks -------------------------------------------------------------------
    def _on_reply(self) -> None:
        proc = self._proc
        if proc is None:
            return
        while True:
            try:
                data = os.read(proc.from_worker, _READ)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                asyncio.get_running_loop().remove_reader(proc.from_worker)
                break
            self._buf += data
            if len(data) < _READ:
                break
        if len(self._buf) >= 4:
            for kind, message in split_frames(self._buf):
                if kind == b"D":  # a rich output: after what the call printed before it
                    self._drain_output(proc)
                    event = display_event(message, time.monotonic())
                    if event is not None:
                        self.emit(event)
                    if message.get("w"):  # the worker waits until its output so far is read
                        proc.send(ACK_FRAME)
                    continue
                if kind == b"P":  # the call's next statement starts: its own timeout
                    self._on_part(message)
                    continue
                pending = self._pending
                if pending is not None and not pending.done():
                    if kind == b"H" or (kind == b"R" and message.get("i") == self._call_id):
                        pending.set_result(message)

    def _on_stream(self, fd: int, stream: StreamOutput) -> None:
        for _ in range(16):  # bounded: let the loop breathe during floods
            try:
                data = os.read(fd, _READ)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                asyncio.get_running_loop().remove_reader(fd)
                return
            stream.feed(data)
            if len(data) < _READ:
                return

    def _drain_output(self, proc: WorkerProcess) -> None:
        """Read what is left in the worker's stdout/stderr pipes (one poll when both are empty)."""
        if self._poller is None:
            return
        for fd, _ in self._poller.poll(0):
            stream = self._out if fd == proc.stdout else self._err
            while True:
                try:
                    data = os.read(fd, _READ)
                except OSError:
                    break
                if not data:
                    break
                stream.feed(data)

    def _on_exit(self) -> None:
        if self._proc is None:
            return
        self._on_reply()  # a reply written just before exiting still counts
        self._dead = True
        if self._exited is not None:
            self._exited.set()
        if self._pending is not None and not self._pending.done():
            self._pending.set_result(None)

    def _on_part(self, message: dict[str, Any]) -> None:
        """A ``P`` frame: the call's next part (statement) starts, with the whole timeout (the
        timer, when it fires, moves itself to that deadline: no timer per part)."""
        if message.get("i") == self._call_id:
            self._part_since = asyncio.get_running_loop().time()

    def _on_timeout(self, call_id: int) -> None:
        if call_id != self._call_id or self._proc is None:
            return
        loop = asyncio.get_running_loop()
        left = self._part_since + self._part_timeout - loop.time()
        if left > 0 and self._kill_reason is None:  # a later part started since: its deadline
            self._timer = loop.call_later(left, self._on_timeout, call_id)
            return
        self._kill_reason = "timeout"
        self._send_interrupt(call_id)
        asyncio.get_running_loop().call_later(self.grace, self._on_grace_over, call_id)

    def _on_grace_over(self, call_id: int) -> None:
        pending = self._pending
        if call_id == self._call_id and self._proc is not None and pending is not None and not pending.done():
            self._kill_reason = "killed"
            self._kill(self._proc)

    def _on_tick(self) -> None:
        """Every ``FLUSH_EVERY`` seconds while calls run: when the running call has run that
        long, ask the worker to flush the program's output (a control message, read in the
        worker's SIGIO handler). One timer serves back-to-back calls (no timer per call); it
        stops at a tick that finds no call running, the next call that waits starts it again."""
        pending = self._pending
        proc = self._proc
        if not self._busy or proc is None or proc.control < 0 or pending is None or pending.done():
            self._ticking = False
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self._call_since >= FLUSH_EVERY:
            with contextlib.suppress(OSError):
                os.write(proc.control, FLUSH_MESSAGE)
        loop.call_later(FLUSH_EVERY, self._on_tick)

    def _send_interrupt(self, call_id: int) -> None:
        if self._proc is not None and self._proc.control >= 0:
            with contextlib.suppress(OSError):
                os.write(self._proc.control, interrupt_message(call_id))

    # -- calls ----------------------------------------------------------------------------
    async def _call(self, request: ExecRequest) -> Outcome:
        fresh = self._fresh_next
        lost = self._lost_unreported
        if self._dead or self._ended or self._proc is None:
            # A dead worker starts afresh (and says so); one that ended its program on request
            # starts afresh silently.
            fresh = fresh or not self._ended or self._proc is None
            if self._proc is not None:
                await self._shutdown()
            await self._launch()
        self._fresh_next = self._lost_unreported = False
        proc = self._proc
        assert proc is not None
        loop = asyncio.get_running_loop()
        self._call_id = call_id = (self._call_id + 1) & 0xFFFFFFFF
        self._out.reset()
        self._err.reset()
        self._kill_reason = None
        pending: asyncio.Future[dict[str, Any] | None] = loop.create_future()
        self._pending = pending
        timeout = request.timeout or self.timeout
        if timeout:  # per statement: a call of several parts says when each part starts
            self._part_timeout, self._part_since = timeout, loop.time()
            self._timer = loop.call_later(timeout, self._on_timeout, call_id)
        try:
            proc.send(encode_request(call_id, request, part_marks=bool(timeout)))
            if self.spin:
                self._spin_for_reply(pending)
            if pending.done():
                reply = pending.result()
            else:
                self._call_since = loop.time()
                if not self._ticking:
                    self._ticking = True
                    loop.call_later(FLUSH_EVERY, self._on_tick)
                reply = await pending
        except asyncio.CancelledError:
            await self._settle_cancelled(proc, call_id)
            raise
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._drain_output(proc)
        if reply is None:
            return await self._died(fresh)
        if request.end or reply.get("q"):
            # the worker exits after this reply: the next call starts a new interpreter, silently
            # after an ``end`` request, saying so after e.g. ``os._exit`` mid-program
            self._ended = True
            self._fresh_next = not request.end
        stdout, stderr = self._out.finish(), self._err.finish()  # the tails, then the figures
        if not request.notebook:  # in notebook mode each figure was shown as a bundle
            for path in reply.get("f") or ():
                self.emit(OutputEvent(kind="figure", data=path, time=reply["e"]))
        return outcome_of(
            reply,
            program=(self.program_path or "") if reply.get("err") is not None else "",
            stdout=stdout,
            stderr=stderr,
            truncated=self._out.truncated or self._err.truncated,
            timed_out=self._kill_reason is not None,
            fresh=fresh,
            state_lost=lost,
        )

    async def _settle_cancelled(self, proc: WorkerProcess, call_id: int) -> None:
        """The caller cancelled the call: interrupt it; if it has not replied within
        ``CANCEL_GRACE`` seconds, kill and reap the worker (the next call is on a fresh session).
        A second cancellation while settling kills at once."""
        if self._proc is not proc:
            return
        # awaiting ``pending`` cancelled it: wait for the call's reply with a fresh future
        waiting = self._pending = asyncio.get_running_loop().create_future()
        if self._dead:
            waiting.set_result(None)
        self._send_interrupt(call_id)
        try:
            try:
                reply = await asyncio.wait_for(waiting, CANCEL_GRACE)
            except TimeoutError:
                reply = None
            if reply is not None:
                self._drain_output(proc)
                return
            self._kill(proc)
            await self._shutdown()
        except BaseException:
            self._reap_now(proc)
            raise
        finally:
            if self._proc is None:
                self._fresh_next = self._lost_unreported = True

    def _spin_for_reply(self, pending: asyncio.Future[dict[str, Any] | None]) -> None:
        """Poll for the reply without yielding to the loop for up to ``self.spin`` seconds (each
        turn a ``poll(0)``: a read failing with EAGAIN raises, which costs twice as much)."""
        replies = self._replies
        if replies is None:
            return
        deadline = time.perf_counter() + self.spin
        while not pending.done():
            if replies.poll(0):
                self._on_reply()  # a whole reply, part of one, or the end of the channel
                if pending.done():
                    return
            if time.perf_counter() >= deadline:
                return
            _yield()  # the worker may be on this CPU: let it run

    async def _died(self, fresh: bool) -> Outcome:
        proc = self._proc
        reason = self._kill_reason
        status: int | None = None
        if proc is not None:
            returncode = await asyncio.get_running_loop().run_in_executor(None, proc.process.wait)
            status = self._exit_status(returncode)
            self._drain_output(proc)
            await self._shutdown()
        self._fresh_next = True
        if reason == "killed":
            error = ExecError(
                type="TimeoutError",
                message=f"the statement ignored the timeout's interrupt for {self.grace:g}s and the session was killed",
            )
        else:
            error = ExecError(type="SessionDied", message=f"the worker died (exit status {status})")
        stdout, stderr = self._out.finish(), self._err.finish()
        return Outcome(
            error=error,
            stdout=stdout,
            stderr=stderr,
            survived=False,
            exit_status=status,
            timed_out=reason is not None,
            state_lost=True,
            fresh_session=fresh,
            truncated=self._out.truncated or self._err.truncated,
        )
