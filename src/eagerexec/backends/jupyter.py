"""The ``jupyter`` backend: one Jupyter kernel (ipykernel by default) as the session.

Strategy: an ``AsyncKernelManager`` starts the kernel on private IPC sockets and an
``AsyncKernelClient`` sends one ``execute_request`` per call; the call is over when the kernel's
IOPub ``status: idle`` for that request arrives (with the shell reply as a fallback). IOPub messages
are mapped onto the same ``Outcome`` the other backends return:

- ``stream`` -> stdout/stderr (also live ``OutputEvent``s). Notebook mode
  (``ExecRequest.notebook``: IPython's ``ast_node_interactivity = 'all'``, the REPL rule):
  ``execute_result``/``display_data`` -> ``result``/``display`` events with their MIME bundle (a
  PNG is also saved as a file in ``Outcome.figures``). Otherwise (expression values are not
  echoed, as under ``python file.py``) ``display_data``'s
  ``text/plain`` -> stdout as a REPL shows it; ``image/png`` -> a PNG file in the session's
  private figures directory, never the working directory (``Outcome.figures`` and a ``figure``
  event). Python kernels get matplotlib's inline
  backend, so open figures come back as PNGs at the end of each call.
- ``error`` -> ``ExecError``. Whole-program line numbers: the cell is prefixed with ``#`` and
  ``first_line - 2`` empty lines, so line 1 of the source is line ``first_line`` of the cell
  (IPython strips *leading* blank lines, hence the comment). The kernel's traceback is stripped
  of ANSI codes and of the padding lines, and its ``Cell In[n], line k`` headers are parsed into
  frames.
- ``SystemExit`` (ipykernel reports it as an error and keeps running) -> ``exit_code``, the
  status ``python file.py`` would exit with; a Python kernel also prints a non-int value on stderr
  as Python does (a ``post_run_cell`` hook installed at start, ``_jupyter_msgs.PYTHON_SETUP``).
- times: the reply's ``started`` metadata and header date are wall-clock; they are moved to the
  host's ``time.monotonic()`` scale with an offset measured once.
- timeout: per statement. A call with a timeout and ``split_at`` runs each part as its own cell
  (``_call_parts``: the parts' outcomes merged into one, with part times), so each statement
  gets the whole timeout; without a timeout the call is one cell. On timeout: SIGINT through
  ``interrupt_kernel`` (state kept); code that survives the interrupt for ``interrupt_grace``
  seconds gets the kernel restarted (``state_lost``).
- a dead kernel (``os._exit``, a crash) is seen by polling ``is_alive`` while waiting; the next
  call starts a fresh kernel and says so with ``fresh_session``.
- cancellation: the cell is interrupted at once; a cell still running ``CANCEL_GRACE`` seconds
  later gets the kernel killed and reaped (the next call starts a fresh one and says so).
- ``aclose`` asks the kernel to shut down, kills its process group if that does not finish (or is
  cancelled) and always reaps it.

The message-to-value mapping that needs no kernel (tracebacks, timestamps, the output bound)
lives in ``_jupyter_msgs``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import os
import queue
import shutil
import signal
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, Unpack

from .._exceptions import BackendError, BackendUnavailableError, SessionDiedError
from ._base import Backend
from ._jupyter_msgs import (
    PYTHON_SETUP,
    Collected,
    exec_error,
    exit_code_of,
    monotonic_offset,
    one_line,
    program_lines,
    split_parts,
    wall_seconds,
)
from ._options import JupyterOptions, check_number
from ._outcome import ExecError, ExecRequest, Outcome, OutputEvent
from .local import local_environment

__all__ = ["JupyterBackend"]

_INLINE_MPL = "module://matplotlib_inline.backend_inline"
# Languages whose kernels read '#' as a comment: their cells can be shifted to program lines.
_HASH_COMMENT_LANGUAGES = frozenset({"python", "r", "julia"})
_POLL_SLICE = 0.25  # seconds between liveness checks while a call runs
_REPLY_IDLE_GRACE = 1.0  # wait this long for IOPub idle once the shell reply is in
CANCEL_GRACE = 0.5  # seconds a cancelled cell may take to stop after its interrupt


class JupyterBackend(Backend):
    """A Jupyter kernel as the persistent session.

    Args:
        **options: ``JupyterOptions``: kernel_name (an installed kernelspec, ``jupyter
            kernelspec list``; default ``python3``), interrupt_grace (seconds an interrupted call
            may take to stop before the kernel is restarted; default 2), startup_timeout
            (seconds the kernel may take to start; default 60), and the common on_output,
            timeout, workdir (the kernel's working directory; default a new temporary
            directory, removed at close), max_output, env (the kernel gets only these and
            ``LOCAL_ENV_NAMES`` of this process's environment). Figures are saved in a private
            temporary directory, kept after close.

    Raises:
        UnknownOptionError, UsageError: an unknown option, a bad value.
    """

    name = "jupyter"
    options_type = JupyterOptions
    _echo_all = False  # the kernel shows every top-level expression's value (notebook mode)
    figures_every_call = True

    def __init__(self, **options: Unpack[JupyterOptions]) -> None:
        super().__init__(**options)
        self.kernel_name = str(options.get("kernel_name", "python3"))
        self.interrupt_grace = options.get("interrupt_grace", 2.0)
        check_number(self.name, "interrupt_grace", self.interrupt_grace, low=0)
        self.startup_timeout = options.get("startup_timeout", 60.0)
        check_number(self.name, "startup_timeout", self.startup_timeout, low=0, open_low=True)
        self.language = ""
        self._km: Any = None
        self._kc: Any = None
        self._runtime_dir: str | None = None
        self._workdir: Path | None = None
        self._own_workdir = False
        self._figdir: Path | None = None
        self._offset = monotonic_offset()
        self._dead = False
        self._lost_unreported = False
        self._calls = 0
        self._cell_first_line: dict[int, int] = {}
        self._program_lines: dict[int, str] = {}

    @property
    def workdir(self) -> Path | None:
        """The kernel's working directory (None before start)."""
        return self._workdir

    # -- the contract -----------------------------------------------------------------------
    async def start(self) -> None:
        """Start the kernel (idempotent)."""
        self._check_open()
        if self._started:
            return
        await self._start_kernel()
        self._started = True

    async def execute(self, request: ExecRequest) -> Outcome:
        """Run one request as one cell (see ``Backend.execute``)."""
        return await self._serve(request, self._call)

    async def interrupt(self) -> None:
        """Interrupt the running cell (SIGINT through the kernel manager)."""
        if self._km is not None and not self._dead:
            await self._km.interrupt_kernel()

    async def restart(self) -> None:
        """Restart the kernel: its state is gone."""
        self._check_open()
        if self._km is None:
            await self.start()
            return
        try:
            await self._km.restart_kernel(now=True)
            await self._connect()
        except Exception as exc:
            raise SessionDiedError(
                f"jupyter kernel {self.kernel_name!r} could not restart: {one_line(exc)}"
            ) from exc

    async def aclose(self) -> None:
        """Shut the kernel down; kill its process group if that fails; always reaps (idempotent)."""
        if self._closed:
            return
        self._closed = True
        km, kc = self._km, self._kc
        self._km = self._kc = None
        try:
            if kc is not None:
                kc.stop_channels()
            if km is not None:
                try:
                    await km.shutdown_kernel(now=self._dead)
                finally:  # also on cancellation or failure: no orphan kernel
                    _kill_and_reap(km)
        finally:
            self._cleanup_dirs()

    # -- lifecycle --------------------------------------------------------------------------
    async def _start_kernel(self) -> None:
        try:
            from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
            from jupyter_client.manager import AsyncKernelManager
        except ImportError as exc:
            raise BackendUnavailableError(
                "the jupyter backend needs jupyter_client: pip install 'eagerexec[jupyter]'"
            ) from exc
        try:
            spec = KernelSpecManager().get_kernel_spec(self.kernel_name)
        except NoSuchKernel:
            known = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
            raise BackendUnavailableError(
                f"jupyter kernel {self.kernel_name!r} is not installed (installed: {known})"
            ) from None
        self.language = (spec.language or "").lower()
        # ipykernel: keep LLM code out of the user's IPython history database (and its sqlite
        # writes off every call).
        extra = ["--HistoryManager.enabled=False"] if any("ipykernel" in a for a in spec.argv) else []
        if self._workdir_option is not None:
            self._workdir = self._workdir_option
            self._workdir.mkdir(parents=True, exist_ok=True)
        else:
            self._workdir = Path(tempfile.mkdtemp(prefix="eager-jupyter-"))
            self._own_workdir = True
        self._runtime_dir = tempfile.mkdtemp(prefix="eager-jk-")
        km = AsyncKernelManager(kernel_name=self.kernel_name, transport="ipc")
        km.ip = os.path.join(self._runtime_dir, "k")
        km.connection_file = os.path.join(self._runtime_dir, "kernel.json")
        km.shutdown_wait_time = 2.0
        self._km = km
        env = local_environment(os.environ, self.env)  # no host secrets: see LOCAL_ENV_NAMES
        env["MPLBACKEND"] = _INLINE_MPL
        try:
            await km.start_kernel(cwd=str(self._workdir), env=env, extra_arguments=extra)
            await self._connect()
        except BaseException as exc:
            await self._force_close()
            if isinstance(exc, Exception):
                raise BackendUnavailableError(
                    f"jupyter kernel {self.kernel_name!r} did not start: {one_line(exc)}"
                ) from exc
            raise

    async def _connect(self) -> None:
        """(Re)connect the client to the running kernel and prepare the session."""
        if self._kc is None:
            self._kc = self._km.client()
            self._kc.start_channels()
        await self._kc.wait_for_ready(timeout=self.startup_timeout)
        self._cell_first_line.clear()
        self._dead = False
        if self.language == "python":
            await self._silent(PYTHON_SETUP)
            self._echo_all = False

    async def _silent(self, code: str) -> None:
        """Run setup code without output or history; waits for its reply."""
        msg_id = self._kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        await self._reply(msg_id, timeout=self.startup_timeout)

    async def _reply(self, msg_id: str, timeout: float) -> dict[str, Any] | None:
        """The shell reply to ``msg_id`` (older replies are dropped), or None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                msg: dict[str, Any] = await self._kc.get_shell_msg(timeout=max(0.0, remaining))
            except queue.Empty:
                return None
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg

    async def _force_close(self) -> None:
        km, kc = self._km, self._kc
        self._km = self._kc = None
        if kc is not None:
            with contextlib.suppress(Exception):
                kc.stop_channels()
        if km is not None:
            _kill_and_reap(km)
        self._cleanup_dirs()

    def _cleanup_dirs(self) -> None:
        if self._runtime_dir is not None:
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
            self._runtime_dir = None
        if self._own_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)  # our own scratch directory
        if self._figdir is not None:
            with contextlib.suppress(OSError):
                self._figdir.rmdir()  # only when empty: figures outlive the session

    # -- one call ---------------------------------------------------------------------------
    def _shift(self, source: str, first_line: int) -> str:
        """Pad ``source`` so its first line is line ``first_line`` of the cell."""
        if first_line <= 1 or self.language not in _HASH_COMMENT_LANGUAGES:
            return source
        if source.lstrip().startswith("%%"):  # a cell magic must open the cell
            return source
        return "#" + "\n" * (first_line - 1) + source

    async def _call_parts(self, request: ExecRequest, parts: list[tuple[str, int]]) -> Outcome:
        """Run each part as its own cell (each with the whole timeout) until one fails, and merge
        their outcomes into the call's: output and figures in order, the failing part's error,
        one (start, end) per part that ran."""
        done: list[Outcome] = []
        for k, (text, line) in enumerate(parts):
            last = k == len(parts) - 1
            outcome = await self._call(replace(request, code=text, first_line=line, split_at=(), end=request.end and last))
            done.append(outcome)
            if outcome.error is not None or outcome.exit_code is not None or not outcome.survived:
                break
        final = done[-1]
        return replace(
            final,
            stdout="".join(o.stdout for o in done),
            stderr="".join(o.stderr for o in done),
            figures=tuple(f for o in done for f in o.figures),
            started_at=done[0].started_at,
            state_lost=any(o.state_lost for o in done),
            fresh_session=any(o.fresh_session for o in done),
            truncated=any(o.truncated for o in done),
            part_times=tuple((o.started_at, o.ended_at) for o in done),
        )

    def _mono(self, wall: float | None, default: float) -> float:
        return default if wall is None else wall - self._offset

    async def _call(self, request: ExecRequest) -> Outcome:
        # ``figures`` is not ours to decide here: the kernel's inline backend displays (and
        # closes) open figures at the end of every cell. ``split_at`` is ignored unless there is
        # a timeout: one cell, one execution (no part times). ``end``: the kernel stays; a kernel
        # has no program end.
        if self._km is None:
            raise BackendError("the jupyter session is closed")
        if request.split_at and (request.timeout or self.timeout):
            parts = split_parts(request.code, request.first_line, request.split_at)
            if len(parts) > 1:
                return await self._call_parts(request, parts)
        source, first_line = request.code, request.first_line
        fresh = lost = self._lost_unreported
        self._lost_unreported = False
        if self._dead:
            await self.restart()
            fresh = True
        self._calls += 1
        for i, text in enumerate(program_lines(source)):
            self._program_lines[first_line + i] = text
        if self.language == "python" and request.notebook != self._echo_all:
            # notebook mode: every top-level expression statement's value (the REPL rule)
            await self._silent(f"get_ipython().ast_node_interactivity = {'all' if request.notebook else 'none'!r}\n")
            self._echo_all = request.notebook
        col = Collected(self.max_output)
        col.notebook = request.notebook
        sent_at = time.monotonic()
        msg_id: str = self._kc.execute(
            self._shift(source, first_line),
            silent=False,
            store_history=True,
            allow_stdin=False,
            stop_on_error=False,
        )
        try:
            outcome = await self._collect(msg_id, col, first_line, sent_at, request.timeout or self.timeout, fresh)
        except asyncio.CancelledError:
            await self._settle_cancelled(msg_id)
            raise
        return replace(outcome, state_lost=True) if lost and not outcome.state_lost else outcome

    async def _settle_cancelled(self, msg_id: str) -> None:
        """The caller gave up: interrupt the cell so the next call does not queue behind it; if
        it does not stop within ``CANCEL_GRACE`` seconds, kill the kernel (the next call starts
        a fresh one and says so)."""
        km = self._km
        try:
            with contextlib.suppress(Exception):
                await km.interrupt_kernel()
            reply = await self._reply(msg_id, timeout=CANCEL_GRACE)
        except BaseException:
            reply = None
            raise
        finally:
            if reply is None and km is not None:
                _kill_and_reap(km)
                self._dead = True
                self._lost_unreported = True

    async def _collect(
        self,
        msg_id: str,
        col: Collected,
        first_line: int,
        sent_at: float,
        timeout: float | None,
        fresh: bool,
    ) -> Outcome:
        """Read the call's messages until IOPub idle, a timeout or the kernel's death."""
        deadline = None if timeout is None else sent_at + timeout
        timed_out = False
        reply: dict[str, Any] | None = None
        reply_seen = 0.0
        while not col.idle:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                if not timed_out:
                    timed_out = True
                    await self._km.interrupt_kernel()
                    deadline = now + self.interrupt_grace
                    continue
                return await self._after_stuck(col, first_line, sent_at)
            wait = _POLL_SLICE if deadline is None else min(_POLL_SLICE, max(0.0, deadline - now))
            try:
                msg = await self._kc.get_iopub_msg(timeout=wait)
            except queue.Empty:
                if reply is None:
                    reply = await self._reply(msg_id, timeout=0)
                    reply_seen = time.monotonic()
                elif time.monotonic() - reply_seen > _REPLY_IDLE_GRACE:
                    break  # the reply is in; IOPub idle got lost
                if not await self._km.is_alive():
                    return await self._after_death(col, first_line, sent_at, fresh)
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                self._handle(msg, col, first_line)
        if reply is None:
            reply = await self._reply(msg_id, timeout=max(1.0, self.interrupt_grace))
        return self._finish(col, reply, first_line, sent_at, timed_out=timed_out, fresh=fresh)

    def _handle(self, msg: dict[str, Any], col: Collected, first_line: int) -> None:
        kind = msg.get("msg_type")
        content = msg.get("content", {})
        when = self._mono(wall_seconds(msg.get("header", {}).get("date")), time.monotonic())
        if kind == "status":
            col.idle = content.get("execution_state") == "idle"
        elif kind == "execute_input":
            count = content.get("execution_count")
            if isinstance(count, int):
                col.exec_count = count
                self._cell_first_line[count] = first_line
        elif kind == "stream":
            name: Literal["stdout", "stderr"] = "stderr" if content.get("name") == "stderr" else "stdout"
            kept = col.add(name, str(content.get("text", "")))
            if kept:
                self.emit(OutputEvent(kind=name, data=kept, time=when))
        elif kind in ("execute_result", "display_data") and col.notebook:
            data = dict(content.get("data", {}))
            data.setdefault("text/plain", "")
            png = data.get("image/png")
            if isinstance(png, str):  # a figure: also a file, as the worker backends keep it
                path = self._save_png(png, len(col.figures) + 1)
                if path is not None:
                    col.figures.append(path)
            rich: Literal["result", "display"] = "result" if kind == "execute_result" else "display"
            self.emit(OutputEvent(kind=rich, data=str(data["text/plain"]), time=when, bundle=data))
        elif kind in ("execute_result", "display_data"):
            data = content.get("data", {})
            png = data.get("image/png")
            if isinstance(png, str):
                path = self._save_png(png, len(col.figures) + 1)
                if path is not None:
                    col.figures.append(path)
                    self.emit(OutputEvent(kind="figure", data=path, time=when))
            elif "text/plain" in data:
                kept = col.add("stdout", str(data["text/plain"]) + "\n")
                if kept:
                    self.emit(OutputEvent(kind="stdout", data=kept, time=when))
        elif kind == "error":
            col.error = content

    def _end_output(self, col: Collected, kind: Literal["stdout", "stderr"]) -> str:
        """The call is over: emit the stream's tail (with what was dropped), return its text."""
        tail, dropped = col.tail(kind)
        if tail or dropped:
            self.emit(OutputEvent(kind=kind, data=tail, time=time.monotonic(), skipped=dropped))
        return col.text(kind)

    def _save_png(self, b64: str, index: int) -> str | None:
        try:
            raw = base64.b64decode(b64)
        except (binascii.Error, ValueError):
            return None
        if self._figdir is None:  # the session's own directory, never the program's workdir
            self._figdir = Path(tempfile.mkdtemp(prefix="eager-jupyter-figures-"))
        path = self._figdir / f"figure-{self._calls:04d}-{index}.png"
        path.write_bytes(raw)
        return str(path)

    def _finish(
        self,
        col: Collected,
        reply: dict[str, Any] | None,
        first_line: int,
        sent_at: float,
        *,
        timed_out: bool,
        fresh: bool,
    ) -> Outcome:
        now = time.monotonic()
        started_at, ended_at = sent_at, now
        content: dict[str, Any] = {}
        if reply is not None:
            content = reply.get("content", {})
            started_at = self._mono(wall_seconds(reply.get("metadata", {}).get("started")), sent_at)
            ended_at = self._mono(wall_seconds(reply.get("header", {}).get("date")), now)
            if col.error is None and content.get("status") == "error":
                col.error = content
        exit_code: int | None = None
        error: ExecError | None = None
        if col.error is not None:
            ename = str(col.error.get("ename", "Error"))
            if ename == "SystemExit":
                # the reply's evalue: the exact status, when the setup's exit hook ran (python)
                said = content if content.get("ename") == "SystemExit" else col.error
                exit_code = exit_code_of(str(said.get("evalue", "")))
            if exit_code != 0:
                error = exec_error(col.error, self._cell_first_line, self._program_lines)
        for payload in content.get("payload", []) or []:
            if isinstance(payload, dict) and payload.get("source") == "ask_exit" and exit_code is None:
                exit_code = 0  # exit()/quit(): the program asked to stop
        return Outcome(
            error=error,
            stdout=self._end_output(col, "stdout"),
            stderr=self._end_output(col, "stderr"),
            figures=tuple(col.figures),
            started_at=started_at,
            ended_at=max(started_at, ended_at),
            exit_code=exit_code,
            timed_out=timed_out,
            fresh_session=fresh,
            truncated=col.truncated,
            extra={"execution_count": col.exec_count, "kernel": self.kernel_name},
        )

    async def _after_stuck(self, col: Collected, first_line: int, sent_at: float) -> Outcome:
        """The call ignored the interrupt: restart the kernel, the state is gone."""
        ended = time.monotonic()
        await self.restart()
        return Outcome(
            error=ExecError(
                type="TimeoutError",
                message=f"the call ignored the interrupt for {self.interrupt_grace:g} s; kernel restarted",
            ),
            stdout=self._end_output(col, "stdout"),
            stderr=self._end_output(col, "stderr"),
            figures=tuple(col.figures),
            started_at=sent_at,
            ended_at=ended,
            timed_out=True,
            state_lost=True,
            truncated=col.truncated,
            extra={"execution_count": col.exec_count, "kernel": self.kernel_name},
        )

    async def _after_death(self, col: Collected, first_line: int, sent_at: float, fresh: bool) -> Outcome:
        """The kernel process died during the call: report it; the next call restarts."""
        ended = time.monotonic()
        self._dead = True
        status: int | None = None
        with contextlib.suppress(Exception):
            status = await self._km.provisioner.poll()
        return Outcome(
            stdout=self._end_output(col, "stdout"),
            stderr=self._end_output(col, "stderr"),
            figures=tuple(col.figures),
            started_at=sent_at,
            ended_at=ended,
            survived=False,
            exit_status=status,
            state_lost=True,
            fresh_session=fresh,
            truncated=col.truncated,
            extra={"execution_count": col.exec_count, "kernel": self.kernel_name},
        )

def _kill_and_reap(km: Any) -> None:
    """Kill the kernel's process group if it is still there, and reap it (synchronous)."""
    provisioner = getattr(km, "provisioner", None)
    process = getattr(provisioner, "process", None) if provisioner is not None else None
    if process is not None and process.poll() is None:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            process.kill()
    if process is not None:
        with contextlib.suppress(Exception):
            process.wait(timeout=5)

