"""The contract every token source implements (``Source``) and what it measures (``StreamStats``).

A source yields the *code* text of a model's answer as deltas (``str``) while it streams, and
keeps ``StreamStats`` up to date as it goes. Subclasses write one async generator, ``_stream``;
the base class guards single iteration, records the stats common to all sources and implements
``aclose`` (idempotent, callable from any task): it sets a flag, runs the subclass's ``_abort``
hook (close the HTTP connection, ...) and closes the generator when it is not running. A
generator running in another task notices the flag when its pending read returns (``_abort``
makes it return at once) and ends quietly: after ``aclose`` nothing is raised.

``StreamStats`` keeps the raw answer as a list of the pieces received (one append each) and joins
them only when ``raw_text`` is read, keeping the joined string as the single piece: receiving an
answer of n characters costs O(n) however it is cut (``str +=`` would copy the answer so far at
every piece: O(n^2)).

``as_source`` (coerce plain iterables) lives with ``IterableSource`` in ``_iterable``, which
imports this module, never the reverse.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field

from .._exceptions import UsageError

__all__ = ["Source", "StreamStats"]


@dataclass(slots=True)
class StreamStats:
    """What a source measured while streaming (mutable: filled in as the stream goes).

    Times are ``time.monotonic()`` seconds.

    Attributes:
        request_start: when the request was sent (or the replay started).
        first_token: when the first token of the answer arrived (prose included), so
            TTFT = ``first_token - request_start``.
        last_token: when the latest token arrived.
        tokens: tokens (or deltas, when the source cannot count tokens) received so far.
        finish_reason: the provider's finish reason (``"stop"``, ``"length"``, ...), when known.
        raw_text: the whole answer as received (prose and code), for diagnostics (a
            property: the pieces are joined when it is read).
        closed_early: ``aclose()`` was called before the stream ended.
    """

    request_start: float | None = None
    first_token: float | None = None
    last_token: float | None = None
    tokens: int = 0
    finish_reason: str | None = None
    closed_early: bool = False
    _raw_parts: list[str] = field(default_factory=list, init=False, repr=False, compare=False)

    @property
    def raw_text(self) -> str:
        """The whole answer received so far (prose and code)."""
        parts = self._raw_parts
        if len(parts) > 1:
            parts[:] = ["".join(parts)]
        return parts[0] if parts else ""

    def note_tokens(self, count: int, text: str = "") -> None:
        """Record ``count`` tokens carrying ``text`` (raw answer text) received now."""
        now = time.monotonic()
        if self.first_token is None:
            self.first_token = now
        self.last_token = now
        self.tokens += count
        if text:
            self._raw_parts.append(text)


class Source(abc.ABC):
    """A stream of code deltas. Iterate it once; ``aclose()`` stops it at once.

    Subclasses implement ``_stream`` (an async generator of code deltas) and, when they hold a
    resource that a pending read waits on, ``_abort``.
    """

    stats: StreamStats

    def __init__(self) -> None:
        self.stats = StreamStats()
        self._agen: AsyncGenerator[str, None] | None = None
        self._closed = False
        self._finished = False
        self._wakeup: asyncio.Event | None = None

    @property
    def closed(self) -> bool:
        """``aclose()`` was called."""
        return self._closed

    def __aiter__(self) -> AsyncIterator[str]:
        """Start streaming: code deltas (the concatenation is the program).

        Raises:
            UsageError: the source was already iterated.
        """
        if self._agen is not None:
            raise UsageError(f"{type(self).__name__} can be iterated only once")
        self._agen = self._run()
        return self._agen

    async def _run(self) -> AsyncGenerator[str, None]:
        if self._closed:
            return
        try:
            # aclosing: an early return runs the subclass's cleanup now, not at garbage collection.
            async with contextlib.aclosing(self._stream()) as stream:
                async for delta in stream:
                    if self._closed:
                        return
                    if delta:
                        yield delta
        finally:
            self._finished = True

    async def aclose(self) -> None:
        """Stop now: release the connection (the provider stops generating and billing).

        Idempotent and safe to call from another task than the one iterating; that iteration
        then ends without error.
        """
        if self._closed:
            return
        self._closed = True
        if not self._finished:
            self.stats.closed_early = True
        if self._wakeup is not None:
            self._wakeup.set()
        await self._abort()
        agen = self._agen
        if agen is not None and not self._finished:
            try:
                await agen.aclose()
            except RuntimeError:
                # Running in another task: _abort() made its pending read return, and it ends
                # on its own when it sees the flag.
                pass

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when ``aclose()`` is called (from any task)."""
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        if self._closed:
            return
        try:
            await asyncio.wait_for(self._wakeup.wait(), seconds)
        except TimeoutError:
            pass

    @abc.abstractmethod
    def _stream(self) -> AsyncGenerator[str, None]:
        """The async generator of code deltas."""

    async def _abort(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Release what a pending read waits on (called by ``aclose``)."""

