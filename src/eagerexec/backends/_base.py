"""The one small interface every execution backend implements, and the registry behind
``open_backend``.

A backend owns one persistent interpreter session: imports, variables and definitions survive
from one ``execute()`` to the next. Calls are strictly sequential (the pipeline never overlaps
them); ``interrupt()`` may be called from another task while a call runs. Subclasses implement
the five ``_``-prefixed hooks; the base class supplies the async context manager, option
checking and the registry.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from .._exceptions import UnknownBackendError
from ._outcome import ExecRequest, Outcome, OutputEvent

__all__ = ["BACKENDS", "Backend", "OutputCallback", "open_backend"]

OutputCallback = Callable[[OutputEvent], None]

# name -> "module:Class", imported lazily so that e.g. docker or jupyter_client are only needed
# by the users of those backends.
BACKENDS: dict[str, str] = {
    "local": "eagerexec.backends.local:LocalBackend",
    "sandbox": "eagerexec.backends.sandbox:SandboxBackend",
    "docker": "eagerexec.backends.docker:DockerBackend",
    "jupyter": "eagerexec.backends.jupyter:JupyterBackend",
}


class Backend(abc.ABC):
    """A persistent interpreter session.

    Use as ``async with open_backend("local") as b: outcome = await b.execute("x = 1")``.
    """

    name: ClassVar[str] = "abstract"
    figures_every_call: ClassVar[bool] = False
    """True when the session shows figures after every call whatever ``execute(figures=)`` says."""

    def __init__(
        self,
        *,
        on_output: OutputCallback | None = None,
        timeout: float | None = None,
        workdir: str | Path | None = None,
    ) -> None:
        self.on_output = on_output
        self.timeout = timeout
        self._workdir_option = Path(workdir) if workdir is not None else None
        self._started = False
        self._closed = False

    # -- public API -------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the session (idempotent). ``async with`` calls it."""
        if not self._started:
            await self._start()
            self._started = True

    async def execute(
        self,
        source: str | ExecRequest,
        *,
        first_line: int = 1,
        timeout: float | None = None,
        figures: bool = True,
        split_at: Sequence[int] = (),
        more: bool = False,
    ) -> Outcome:
        """Run ``source`` in the session as the next part of the program.

        Args:
            source: Python code (one or more complete top-level statements).
            first_line: the 1-based line of ``source`` in the whole program, so that tracebacks
                and ``SyntaxError`` lines refer to the whole program.
            timeout: seconds before the call is interrupted (default: the backend's timeout).
            figures: save the figures left open (and changed) at the end of the call. A caller
                that runs a program in many calls may capture only after the last one: figures
                are drawn once, in their final state. (Jupyter kernels display figures at the
                end of every cell whatever this says.)
            split_at: whole-program lines where later parts of ``source`` start (e.g. the
                statements of a batch). Parts run one after another exactly as the whole would,
                and ``Outcome.part_times`` times each one (worker backends; others ignore it).
            more: more code will follow after a wait (the model is still writing). The
                session may use the wait for housekeeping that would otherwise fall inside a
                later call: worker backends run a due garbage collection then. Leave it
                False for the last call, and whenever the next call follows at once.

        Returns:
            The call's ``Outcome``; errors in the user's code are data, never raised.

        Raises:
            BackendError: the backend itself failed and could not recover.
        """
        if isinstance(source, ExecRequest):
            request = source
            source, first_line, timeout = request.code, request.first_line, request.timeout
            figures, split_at, more = request.figures, request.split_at, request.more
        await self.start()
        return await self._execute(
            source,
            first_line=first_line,
            timeout=timeout or self.timeout,
            figures=figures,
            split_at=tuple(split_at),
            more=more,
        )

    async def interrupt(self) -> None:
        """Interrupt the running call (KeyboardInterrupt in the user's code)."""
        if self._started:
            await self._interrupt()

    async def restart(self) -> None:
        """Throw the session's state away and start a fresh interpreter."""
        await self._restart()
        self._started = True

    async def aclose(self) -> None:
        """Stop the session and release everything (idempotent; always reaps the worker)."""
        if not self._closed:
            self._closed = True
            await self._aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def emit(self, event: OutputEvent) -> None:
        """Deliver an output event to the callback (never lets the callback break a call)."""
        if self.on_output is not None:
            try:
                self.on_output(event)
            except Exception:  # a faulty observer must not break execution
                pass

    # -- hooks ------------------------------------------------------------------------------
    @abc.abstractmethod
    async def _start(self) -> None: ...

    @abc.abstractmethod
    async def _execute(
        self,
        source: str,
        *,
        first_line: int,
        timeout: float | None,
        figures: bool = True,
        split_at: tuple[int, ...] = (),
        more: bool = False,
    ) -> Outcome: ...

    @abc.abstractmethod
    async def _interrupt(self) -> None: ...

    @abc.abstractmethod
    async def _restart(self) -> None: ...

    @abc.abstractmethod
    async def _aclose(self) -> None: ...


def open_backend(name: str, **options: Any) -> Backend:
    """Create a backend session by name; use it as an async context manager.

    Args:
        name: ``local``, ``sandbox``, ``docker`` or ``jupyter``.
        **options: passed to the backend's constructor (e.g. ``python=``, ``timeout=``).

    Returns:
        The (not yet started) backend; ``async with`` starts and closes it.

    Raises:
        UnknownBackendError: ``name`` is not a known backend.
        BackendUnavailableError: the backend's dependencies are missing on this machine.
    """
    try:
        target = BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise UnknownBackendError(f"unknown backend {name!r} (known: {known})") from None
    module_name, _, class_name = target.partition(":")
    module = importlib.import_module(module_name)
    cls: type[Backend] = getattr(module, class_name)
    return cls(**options)
