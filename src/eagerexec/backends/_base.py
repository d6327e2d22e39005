"""The contract every execution backend implements, and the registry behind ``open_backend``.

A backend owns one persistent interpreter session: imports, variables and definitions survive
from one ``execute()`` to the next. The contract is five public abstract methods, as an
``httpx.BaseTransport`` subclass implements ``handle_async_request``:

- ``start()``: start the session (idempotent).
- ``execute(request)``: run one ``ExecRequest``, return its ``Outcome``. One call at a time: a
  second call while one runs raises ``SessionBusyError`` at once. A cancelled call interrupts the
  code and is settled (finished, or its interpreter killed and reaped) before the cancellation
  propagates; the next call then says whether it runs on a fresh session.
- ``interrupt()``: interrupt the running call (KeyboardInterrupt in the user's code); may be
  called from another task.
- ``restart()``: throw the state away and start a fresh interpreter.
- ``aclose()``: stop and release everything; idempotent, always reaps.

The base class supplies the rest: the async context manager, ``emit`` (the guarded output
callback), ``run(code, **fields)`` (builds the ``ExecRequest``), the common options (checked once,
see ``_options``) and the busy/closed guards subclasses call.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Literal, Self, Unpack, overload

from .._exceptions import SessionBusyError, UnknownBackendError, UsageError, check_options
from ._options import (
    AnyOptions,
    CommonOptions,
    CommonSettings,
    DockerOptions,
    JupyterOptions,
    LocalOptions,
    SandboxOptions,
    option_names,
)
from ._outcome import ExecRequest, Outcome, OutputCallback, OutputEvent

__all__ = ["BACKENDS", "Backend", "OutputCallback", "open_backend"]

# name -> "module:Class", imported lazily so that e.g. docker or jupyter_client are only needed
# by the users of those backends.
BACKENDS: dict[str, str] = {
    "local": "eagerexec.backends.local:LocalBackend",
    "sandbox": "eagerexec.backends.sandbox:SandboxBackend",
    "docker": "eagerexec.backends.docker:DockerBackend",
    "jupyter": "eagerexec.backends.jupyter:JupyterBackend",
}

_REQUEST_FIELDS = tuple(sorted(set(ExecRequest.__dataclass_fields__) - {"code"}))
_REQUEST_FIELD_SET = frozenset(_REQUEST_FIELDS)


class Backend(abc.ABC):
    """A persistent interpreter session (see the module docstring for the contract).

    Use as ``async with open_backend("local") as b: outcome = await b.run("x = 1")``.

    Args:
        **options: the backend's keyword options, checked against ``options_type``.

    Raises:
        UnknownOptionError: an option the backend does not take.
        UsageError: an option with a bad value.
    """

    name: ClassVar[str] = "abstract"
    options_type: ClassVar[type] = CommonOptions
    """The ``TypedDict`` of the options this backend takes."""
    figures_every_call: ClassVar[bool] = False
    """True when the session shows figures after every call whatever ``ExecRequest.figures`` says."""

    def __init__(self, **options: Any) -> None:
        check_options(self.name, options, option_names(self.options_type))
        common = CommonSettings.parse(self.name, options)
        self.on_output: OutputCallback | None = options.get("on_output")
        self.timeout: float | None = common.timeout
        self.max_output: int = common.max_output
        """Characters of stdout (and of stderr) kept per call, head and tail."""
        self._workdir_option: Path | None = common.workdir
        self.env: dict[str, str] = dict(common.env)
        """The environment variables given for the program (``env=``); nothing else of this
        process's environment reaches it beyond what the backend needs to run an interpreter."""
        self._started = False
        self._closed = False
        self._busy = False

    # -- the contract -----------------------------------------------------------------------
    @abc.abstractmethod
    async def start(self) -> None:
        """Start the session (idempotent). ``async with`` calls it.

        Raises:
            BackendUnavailableError: the backend cannot run here.
            UsageError: the session is closed.
        """

    @abc.abstractmethod
    async def execute(self, request: ExecRequest) -> Outcome:
        """Run ``request.code`` in the session as the next part of the program.

        Args:
            request: what to run and how (see ``ExecRequest``).

        Returns:
            The call's ``Outcome``; errors in the user's code are data, never raised.

        Raises:
            SessionBusyError: another call of this session is running.
            UsageError: the session is closed.
            BackendError: the backend itself failed and could not recover.
        """

    @abc.abstractmethod
    async def interrupt(self) -> None:
        """Interrupt the running call (KeyboardInterrupt in the user's code); no-op when idle."""

    @abc.abstractmethod
    async def restart(self) -> None:
        """Throw the session's state away and start a fresh interpreter."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Stop the session and release everything (idempotent; always reaps)."""

    # -- conveniences -----------------------------------------------------------------------
    async def run(self, code: str, **request_fields: Any) -> Outcome:
        """``execute(ExecRequest(code=code, **request_fields))``.

        Raises:
            UnknownOptionError: a field ``ExecRequest`` does not have.
        """
        if request_fields and not _REQUEST_FIELD_SET.issuperset(request_fields):
            check_options(f"{self.name}.run", request_fields, _REQUEST_FIELDS)
        return await self.execute(ExecRequest(code=code, **request_fields))

    @property
    def closed(self) -> bool:
        """``aclose()`` was called."""
        return self._closed

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

    # -- guards for implementations ---------------------------------------------------------
    async def _serve(self, request: ExecRequest, call: Callable[[ExecRequest], Awaitable[Outcome]]) -> Outcome:
        """Run ``call(request)`` under the session's guards: one call at a time (``_claim``),
        the session started first."""
        self._claim()
        try:
            if not self._started:
                await self.start()
            return await call(request)
        finally:
            self._release()

    def _claim(self) -> None:
        """Mark a call as running; raise when another one is, or the session is closed."""
        if self._busy:
            raise SessionBusyError(f"{self.name}: a call is already running in this session (one at a time)")
        if self._closed:
            raise UsageError(f"{self.name}: the session is closed")
        self._busy = True

    def _release(self) -> None:
        """The call claimed with ``_claim`` is over."""
        self._busy = False

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError(f"{self.name}: the session is closed")


@overload
def open_backend(name: Literal["local"], **options: Unpack[LocalOptions]) -> Backend: ...
@overload
def open_backend(name: Literal["sandbox"], **options: Unpack[SandboxOptions]) -> Backend: ...
@overload
def open_backend(name: Literal["docker"], **options: Unpack[DockerOptions]) -> Backend: ...
@overload
def open_backend(name: Literal["jupyter"], **options: Unpack[JupyterOptions]) -> Backend: ...
@overload
def open_backend(name: str, **options: Unpack[AnyOptions]) -> Backend: ...
def open_backend(name: str, **options: Any) -> Backend:
    """Create a backend session by name; use it as an async context manager.

    Args:
        name: ``local``, ``sandbox``, ``docker`` or ``jupyter``.
        **options: the backend's keyword options (``LocalOptions``, ``SandboxOptions``,
            ``DockerOptions``, ``JupyterOptions`` in ``eagerexec.backends._options``).

    Returns:
        The (not yet started) backend; ``async with`` starts and closes it.

    Raises:
        UnknownBackendError: ``name`` is not a known backend.
        UnknownOptionError: an option the backend does not take (named, with the valid ones).
        UsageError: an option with a bad value.
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
