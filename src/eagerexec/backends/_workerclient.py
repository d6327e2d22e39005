"""Host side of the worker protocol (see ``_worker.py``), shared by local, sandbox and docker.

Strategy: ``WorkerBackend`` owns one worker process and talks to it over plain pipe file
descriptors registered with the running loop (``add_reader`` on non-blocking fds, ``os.read``
/ ``os.write``, binary length-prefixed frames): one request frame out, one result frame back per
call. The worker's fd 1/2 are pipes read the same way; output is streamed to ``on_output`` as it
arrives and collected, up to ``max_output`` characters per stream per call. The worker flushes
before it replies, so when the result frame arrives the host drains both pipes without blocking
and has every byte of the call's output. Worker death is seen through a pidfd (readable when the
process exits). Timeouts: interrupt over the control pipe, then kill after ``grace`` seconds.

Subclasses implement ``_spawn`` (start the worker, return a ``WorkerProcess``; spawning and output
collection live in ``_workerproc.py``) and may override
``_exit_status`` (map the process's return code) and ``_kill`` (how to stop it hard).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import os
import select
import signal
import struct
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._exceptions import BackendError, SessionDiedError, UsageError
from ._base import Backend, OutputCallback
from ._outcome import ExecError, Outcome, OutputEvent, TracebackFrame
from ._workerproc import OutputCollector, WorkerProcess, remove_keeping_figures, spawn_with_pipes

__all__ = ["DEFAULT_SPIN", "WORKER_PATH", "WorkerBackend", "WorkerProcess", "spawn_with_pipes"]

WORKER_PATH = Path(__file__).with_name("_worker.py")
"""The worker script; stdlib-only, runs under any Python >= 3.8."""

DEFAULT_SPIN = 200e-6
"""Seconds of polling before sleeping, on each side of the worker pipe (see ``WorkerBackend``)."""

_HEADER = struct.Struct(">I")
_CALL_ID = struct.Struct(">I")
# One encoder/decoder per process: json.dumps/loads with options build a new one per call.
_encode = json.JSONEncoder(separators=(",", ":")).encode
_decode = json.JSONDecoder().decode


class WorkerBackend(Backend):
    """A backend whose session is one ``_worker.py`` process (see the module docstring).

    Args:
        python: the interpreter that runs the worker (default: this one).
        preload: modules imported when the session starts (warm pools).
        max_output: characters of stdout (and of stderr) kept per call; the rest is dropped
            and a marker line added.
        grace: seconds between the interrupt of a timed-out call and killing the worker.
        spin: seconds each side polls for the other's next message before it sleeps (the host
            for a reply after sending a call, the worker for the next call after replying).
            Waking a sleeping process costs tens of microseconds on an idle machine, more than
            a trivial call; the spin keeps short calls off that path for at most this much CPU
            per call. 0 turns it off. Default: 200 µs, or 0 when this process may run on one
            CPU only (host and worker would then spin on the CPU the other one needs).
        on_output, timeout, workdir: see ``Backend``; without ``workdir`` each session gets a
            fresh temporary directory, removed on close except for its ``figures`` folder (the
            PNG paths the outcomes name stay valid).
    """

    name = "worker"

    def __init__(
        self,
        *,
        python: str | Path | None = None,
        preload: Sequence[str] = (),
        max_output: int = 4 * 1024 * 1024,
        grace: float = 2.0,
        spin: float | None = None,
        on_output: OutputCallback | None = None,
        timeout: float | None = None,
        workdir: str | Path | None = None,
    ) -> None:
        super().__init__(on_output=on_output, timeout=timeout, workdir=workdir)
        if max_output < 1:
            raise UsageError(f"max_output must be positive, got {max_output}")
        if isinstance(preload, str):
            preload = (preload,)
        self.python = str(python) if python is not None else sys.executable
        self.preload = tuple(preload)
        self.max_output = max_output
        self.grace = grace
        if spin is None:
            spin = DEFAULT_SPIN if len(os.sched_getaffinity(0)) > 1 else 0.0
        if not 0 <= spin <= 0.1:
            raise UsageError(f"spin must be between 0 and 0.1 seconds, got {spin}")
        self.spin = spin
        self.workdir: Path | None = None
        self.worker_pid: int | None = None
        self.hello: dict[str, Any] = {}
        self._proc: WorkerProcess | None = None
        self._pidfd: int | None = None
        self._buf = bytearray()
        self._pending: asyncio.Future[dict[str, Any] | None] | None = None
        self._call_id = 0
        self._dead = False
        self._fresh_next = False
        self._kill_reason: str | None = None
        self._stale: asyncio.Future[dict[str, Any] | None] | None = None
        self._exited: asyncio.Event | None = None
        self._poller: select.poll | None = None
        self._out = OutputCollector("stdout", max_output, self.emit)
        self._err = OutputCollector("stderr", max_output, self.emit)

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
        assert self.workdir is not None
        args = ["--workdir", str(self.workdir), "--max-output", str(self.max_output)]
        if self.spin:
            args += ["--spin-us", str(round(self.spin * 1e6))]
        if self.preload:
            args += ["--preload", ",".join(self.preload)]
        return args

    # -- lifecycle ------------------------------------------------------------------------
    async def _start(self) -> None:
        if self.workdir is None:
            if self._workdir_option is not None:
                self._workdir_option.mkdir(parents=True, exist_ok=True)
                self.workdir = self._workdir_option.resolve()
            else:
                self.workdir = Path(tempfile.mkdtemp(prefix=f"eager-{self.name}-")).resolve()
            self._prepare_workdir(self.workdir)
        await self._launch()

    def _prepare_workdir(self, workdir: Path) -> None:
        """Hook: adjust the working directory before the first worker starts."""

    async def _launch(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            proc = await loop.run_in_executor(None, self._spawn, self._worker_args())
        except OSError as exc:
            raise BackendError(f"{self.name}: cannot start the worker with {self.python}: {exc}") from exc
        self._proc = proc
        self._buf = bytearray()
        self._dead = False
        self._kill_reason = None
        self._exited = asyncio.Event()
        for fd in (proc.from_worker, proc.stdout, proc.stderr):
            os.set_blocking(fd, False)
        self._out = OutputCollector("stdout", self.max_output, self.emit)
        self._err = OutputCollector("stderr", self.max_output, self.emit)
        loop.add_reader(proc.from_worker, self._on_reply)
        loop.add_reader(proc.stdout, self._on_stream, proc.stdout, self._out)
        loop.add_reader(proc.stderr, self._on_stream, proc.stderr, self._err)
        self._pidfd = os.pidfd_open(proc.process.pid)
        self._poller = select.poll()
        for fd in (proc.stdout, proc.stderr):
            self._poller.register(fd, select.POLLIN)
        loop.add_reader(self._pidfd, self._on_exit)
        hello = loop.create_future()
        self._pending = hello
        try:
            result = await asyncio.wait_for(hello, 120)
        except TimeoutError:
            result = None
        if result is None:
            output = (self._out.text() + self._err.text()).strip()[-2000:]
            await self._shutdown()
            raise SessionDiedError(f"{self.name}: the worker did not start ({self.python}): {output}")
        self.hello = result
        self.worker_pid = result.get("pid")
        if result.get("preload_errors"):
            errors = "; ".join(f"{k}: {v}" for k, v in result["preload_errors"].items())
            self.emit(OutputEvent(kind="stderr", data=f"preload failed: {errors}\n", time=time.monotonic()))

    async def _restart(self) -> None:
        await self._shutdown()
        self._fresh_next = False
        await self._start()

    async def _aclose(self) -> None:
        await self._shutdown()
        if self.workdir is not None and self._workdir_option is None:
            remove_keeping_figures(self.workdir)

    async def _shutdown(self) -> None:
        """Stop the worker: EOF -> wait -> terminate -> wait -> kill, then always reap."""
        proc = self._proc
        if proc is None:
            return
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
        self._teardown(proc)

    def _teardown(self, proc: WorkerProcess) -> None:
        loop = asyncio.get_running_loop()
        fds = [proc.from_worker, proc.stdout, proc.stderr]
        if self._pidfd is not None:
            fds.append(self._pidfd)
        for fd in fds:
            loop.remove_reader(fd)
        for fd in (*fds, proc.control, proc.to_worker):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._pidfd = None
        self._poller = None
        self._proc = None
        self._dead = True
        for callback in proc.cleanup:
            with contextlib.suppress(Exception):
                callback()
        if self._pending is not None and not self._pending.done():
            self._pending.set_result(None)

    # -- loop callbacks -------------------------------------------------------------------
    def _on_reply(self) -> None:
        proc = self._proc
        if proc is None:
            return
        while True:
            try:
                data = os.read(proc.from_worker, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                asyncio.get_running_loop().remove_reader(proc.from_worker)
                break
            self._buf += data
            if len(data) < 1 << 16:
                break
        buf = self._buf
        while len(buf) >= 4:
            (size,) = _HEADER.unpack_from(buf)
            if len(buf) < 4 + size:
                break
            body = bytes(buf[4 : 4 + size])
            del buf[: 4 + size]
            self._on_frame(body)

    def _on_frame(self, body: bytes) -> None:
        message = _decode(body[1:].decode("utf-8", "replace"))
        pending = self._pending
        if pending is None or pending.done():
            return
        kind = body[:1]
        if kind == b"H" or (kind == b"R" and message.get("i") == self._call_id):
            pending.set_result(message)

    def _on_stream(self, fd: int, collector: OutputCollector) -> None:
        for _ in range(16):  # bounded: let the loop breathe during floods
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                asyncio.get_running_loop().remove_reader(fd)
                return
            collector.feed(data)
            if len(data) < 1 << 16:
                return

    def _drain_output(self, proc: WorkerProcess) -> None:
        """Read what is left in the worker's stdout/stderr pipes (one poll when both are empty)."""
        if self._poller is None:
            return
        for fd, _ in self._poller.poll(0):
            self._drain(fd, self._out if fd == proc.stdout else self._err)

    def _drain(self, fd: int, collector: OutputCollector) -> None:
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except OSError:
                return
            if not data:
                return
            collector.feed(data)

    def _on_exit(self) -> None:
        proc = self._proc
        if proc is None:
            return
        loop = asyncio.get_running_loop()
        if self._pidfd is not None:
            loop.remove_reader(self._pidfd)
        self._on_reply()  # a reply written just before exiting still counts
        self._dead = True
        if self._exited is not None:
            self._exited.set()
        if self._pending is not None and not self._pending.done():
            self._pending.set_result(None)

    def _on_timeout(self, call_id: int) -> None:
        if call_id != self._call_id or self._proc is None:
            return
        self._kill_reason = "timeout"
        self._send_interrupt(call_id)
        asyncio.get_running_loop().call_later(self.grace, self._on_grace_over, call_id)

    def _on_grace_over(self, call_id: int) -> None:
        pending = self._pending
        if call_id == self._call_id and self._proc is not None and pending is not None and not pending.done():
            self._kill_reason = "killed"
            self._kill(self._proc)

    def _send_interrupt(self, call_id: int) -> None:
        if self._proc is not None:
            with contextlib.suppress(OSError):
                os.write(self._proc.control, _CALL_ID.pack(call_id))

    # -- calls ----------------------------------------------------------------------------
    async def _interrupt(self) -> None:
        self._send_interrupt(self._call_id)

    async def _finish_cancelled(self) -> None:
        """Let a cancelled call end (it was interrupted) so its output and reply stay out of the
        next call; kill the worker if it ignores the interrupt."""
        stale, self._stale = self._stale, None
        proc = self._proc
        if stale is None or proc is None or self._dead:
            return
        try:
            await asyncio.wait_for(asyncio.shield(stale), self.grace)
        except TimeoutError:
            self._kill(proc)
            if self._exited is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._exited.wait(), 10)
            self._fresh_next = True
        self._drain_output(proc)

    async def _execute(
        self,
        source: str,
        *,
        first_line: int,
        timeout: float | None,
        figures: bool = True,
        split_at: tuple[int, ...] = (),
        more: bool = False,
    ) -> Outcome:
        if self._stale is not None:
            await self._finish_cancelled()
        fresh = self._fresh_next
        if self._dead or self._proc is None:
            if self._proc is not None:
                await self._shutdown()
            await self._launch()
            fresh = True
        self._fresh_next = False
        proc = self._proc
        assert proc is not None
        loop = asyncio.get_running_loop()
        self._call_id = call_id = (self._call_id + 1) & 0xFFFFFFFF
        self._out.reset()
        self._err.reset()
        self._kill_reason = None
        pending: asyncio.Future[dict[str, Any] | None] = loop.create_future()
        self._pending = pending
        request: dict[str, Any] = {"i": call_id, "src": source, "line": first_line}
        if not figures:
            request["fig"] = False
        if split_at:
            request["cuts"] = list(split_at)
        if more:
            request["idle"] = 1
        body = b"E" + _encode(request).encode("utf-8", "surrogatepass")
        timer = loop.call_later(timeout, self._on_timeout, call_id) if timeout else None
        try:
            self._write(proc, _HEADER.pack(len(body)) + body)
            if self.spin:
                self._spin_for_reply(pending)
            reply = pending.result() if pending.done() else await pending
        except asyncio.CancelledError:
            self._send_interrupt(call_id)
            # awaiting ``pending`` cancelled it: track the call's reply with a fresh future
            self._stale = self._pending = loop.create_future()
            raise
        finally:
            if timer is not None:
                timer.cancel()
        self._drain_output(proc)
        if reply is None:
            return await self._died(fresh)
        return self._outcome(reply, fresh)

    def _spin_for_reply(self, pending: asyncio.Future[dict[str, Any] | None]) -> None:
        """Poll for the reply without yielding to the loop for up to ``self.spin`` seconds."""
        deadline = time.perf_counter() + self.spin
        while not pending.done():
            self._on_reply()
            if time.perf_counter() >= deadline:
                return

    def _write(self, proc: WorkerProcess, data: bytes) -> None:
        try:
            view = memoryview(data)
            while view:
                n = os.write(proc.to_worker, view)
                view = view[n:]
        except OSError:  # the worker is gone; the pidfd callback reports it
            pass

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
                message=f"the call ignored the interrupt for {self.grace:g}s and the session was killed",
            )
        else:
            error = ExecError(type="SessionDied", message=f"the worker died (exit status {status})")
        return Outcome(
            error=error,
            stdout=self._out.text(),
            stderr=self._err.text(),
            survived=False,
            exit_status=status,
            timed_out=reason is not None,
            state_lost=True,
            fresh_session=fresh,
            truncated=self._out.truncated or self._err.truncated,
        )

    def _outcome(self, reply: dict[str, Any], fresh: bool) -> Outcome:
        if reply.get("t") and not self._out.truncated:
            self._out.truncated = True
            self._out.mark()
        figures = tuple(reply.get("f") or ())
        for path in figures:
            self.emit(OutputEvent(kind="figure", data=path, time=reply["e"]))
        err = reply.get("err")
        error = None
        if err is not None:
            error = ExecError(
                type=err["type"],
                message=err["message"],
                traceback=err.get("traceback", ""),
                line=err.get("line"),
                line_text=err.get("line_text"),
                frames=tuple(
                    TracebackFrame(filename=f[0], line=f[1], name=f[2], source=f[3])
                    for f in err.get("frames", ())
                ),
            )
        return Outcome(
            error=error,
            stdout=self._out.text(),
            stderr=self._err.text(),
            figures=figures,
            started_at=reply["s"],
            ended_at=reply["e"],
            exit_code=reply.get("x"),
            timed_out=self._kill_reason is not None,
            fresh_session=fresh,
            truncated=self._out.truncated or self._err.truncated,
            part_times=tuple((float(a), float(b)) for a, b in reply.get("p") or ()),
        )
