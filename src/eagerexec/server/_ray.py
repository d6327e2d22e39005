"""Sessions on a Ray cluster (``eager serve --ray``): each session lives in a Ray actor.

Strategy: the actor owns the ``Session`` (and so the worker process, on the actor's node); the
front door's ``RaySession`` has the few methods ``Connection`` uses (``async with``, ``run``) and
relays: deltas go to the actor (``feed``), the pipeline's typed events come back in batches
(``events``, a long poll; they pickle as they are) and are handed to the connection's
``on_event``, so the records a client receives are the same as on one machine. Actors are spread
over the nodes (``SPREAD``), reserve ``num_cpus`` each, and are killed when their connection
ends. A lost node (the actor died) is reported as ``state_lost`` then a ``BackendError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import AsyncIterable
from types import TracebackType
from typing import Any, Self

from .._exceptions import BackendError, require
from ..pipeline import Event, Result, RunFinished, Session, StateLost
from ..pipeline._run import EventCallback

__all__ = ["RaySession", "SessionActor", "connect_ray"]


class SessionActor:
    """The body of the Ray actor that owns one ``Session`` (made remote by ``connect_ray``)."""

    def __init__(self, backend: str, timeout: float | None, options: dict[str, Any]) -> None:
        self._session = Session(backend, timeout=timeout, on_event=self._on_event, **options)
        self._events: list[Event] = []
        self._ready = asyncio.Event()
        self._deltas: asyncio.Queue[str | None] = asyncio.Queue()

    async def start(self) -> str:
        """Start the session; returns the Ray node id the actor runs on."""
        import ray

        await self._session.__aenter__()
        return str(ray.get_runtime_context().get_node_id())

    def _on_event(self, event: Event) -> None:
        self._events.append(event)
        self._ready.set()

    def feed(self, text: str | None) -> None:
        """The next delta of the running program (None: the end)."""
        self._deltas.put_nowait(text)

    async def run(self) -> Result:
        """Run the program fed with ``feed`` (one at a time)."""
        deltas = self._deltas = asyncio.Queue()

        async def source() -> Any:
            while (text := await deltas.get()) is not None:
                yield text

        return await self._session.run(source())

    async def events(self) -> list[Event]:
        """The events since the last call (waits for at least one)."""
        await self._ready.wait()
        self._ready.clear()
        batch, self._events = self._events, []
        return batch

    async def close(self) -> None:
        """Close the session (reaps the worker)."""
        await self._session.aclose()


_actor_class: Any = None


def connect_ray(address: str) -> Any:
    """Connect this process to the Ray cluster at ``address`` (once) and return the actor class.

    Raises:
        MissingExtraError: ray is not installed (the ``ray`` extra).
    """
    global _actor_class
    ray: Any = require("ray", extra="ray", feature="eager serve --ray")
    if not ray.is_initialized():
        # ray.init installs its own SIGTERM handler (exit at once): keep the server's (drain first)
        saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
        if threading.current_thread() is threading.main_thread():
            for sig, handler in saved.items():
                signal.signal(sig, handler)
    if _actor_class is None:
        _actor_class = ray.remote(num_cpus=1, max_restarts=0, scheduling_strategy="SPREAD")(SessionActor)
    return _actor_class


class RaySession:
    """A session in a Ray actor, driven like a ``Session`` by the front door.

    Args:
        actor_class: from ``connect_ray``.
        backend, timeout, options: the session's backend, statement timeout and backend options.
        on_event: called with every event of every run.
    """

    def __init__(
        self, actor_class: Any, backend: str, *, timeout: float | None, on_event: EventCallback | None, **options: Any
    ) -> None:
        self._actor_class = actor_class
        self._args = (backend, timeout, options)
        self.on_event = on_event
        self.node: str | None = None
        self._actor: Any = None

    async def __aenter__(self) -> Self:
        self._actor = self._actor_class.remote(*self._args)
        try:
            self.node = await self._actor.start.remote()
        except Exception as exc:
            await self.aclose()
            raise BackendError(f"the session's Ray actor did not start: {exc}") from exc
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session and kill its actor (idempotent)."""
        actor, self._actor = self._actor, None
        if actor is None:
            return
        import ray

        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(actor.close.remote()), 10)  # type: ignore[arg-type]
        with contextlib.suppress(Exception):
            ray.kill(actor)

    async def run(self, source: AsyncIterable[str]) -> Result:
        """Stream ``source`` into the actor's session; events reach ``on_event`` as they happen.

        Raises:
            BackendError: the actor (its node) was lost; ``on_event`` got a ``StateLost`` first.
        """
        actor = self._actor
        assert actor is not None
        result_ref = actor.run.remote()

        async def pump() -> None:
            async for text in source:
                await actor.feed.remote(text)
            await actor.feed.remote(None)

        async def pull() -> None:
            while True:
                for event in await actor.events.remote():
                    if self.on_event is not None:
                        self.on_event(event)
                    if isinstance(event, RunFinished):
                        return

        feeder = asyncio.get_running_loop().create_task(pump())
        try:
            await pull()
            result: Result = await result_ref
            return result
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self.on_event is not None:
                self.on_event(StateLost(time=0.0, reason=f"the session's Ray node was lost: {type(exc).__name__}"))
            raise BackendError(f"the session's Ray actor was lost (node {self.node}): {exc}") from exc
        finally:
            feeder.cancel()
            with contextlib.suppress(BaseException):
                await feeder
