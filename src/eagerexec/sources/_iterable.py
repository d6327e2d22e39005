"""``IterableSource``: any sync or async iterable of strings as a token source; ``as_source``.

Async iterables are awaited directly. Sync iterables come in two kinds: in-memory sequences
(``list``, ``tuple``, ``str``) cannot block, so they are stepped inline with a zero-length sleep between
items to let other tasks run; any other iterator (a generator, a file, a pipe) might block on
each ``next()``, so each step runs in a worker thread (``asyncio.to_thread``) and the event loop
stays free. Each item counts as one token in ``stats``. ``as_source`` (a ``Source``, a string or
an iterable in, a ``Source`` out) lives here, next to the class it builds, so that ``_base`` never
imports this module.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Iterator
from typing import Any

from .._exceptions import UsageError
from ._base import Source

__all__ = ["IterableSource", "as_source"]

_END = object()


def _step(it: Iterator[str]) -> Any:
    return next(it, _END)


class IterableSource(Source):
    """Code deltas from any iterable or async iterable of strings.

    Args:
        iterable: the deltas; each item is yielded as is (they are code, not prose).

    Raises:
        UsageError: ``iterable`` is neither iterable nor async iterable, or yields a non-``str``.
    """

    def __init__(self, iterable: Iterable[str] | AsyncIterable[str]) -> None:
        super().__init__()
        if not isinstance(iterable, AsyncIterable | Iterable):
            raise UsageError(f"IterableSource needs an iterable of str, not {type(iterable).__name__}")
        self._iterable = iterable

    def _check(self, item: object) -> str:
        if not isinstance(item, str):
            raise UsageError(f"IterableSource got a {type(item).__name__} item; deltas must be str")
        self.stats.note_tokens(1, item)
        return item

    async def _stream(self) -> AsyncGenerator[str, None]:
        self.stats.request_start = time.monotonic()
        src = self._iterable
        if isinstance(src, AsyncIterable):
            try:
                async for item in src:
                    yield self._check(item)
                    if self._closed:
                        return
            finally:
                close = getattr(src, "aclose", None)
                if close is not None and self._closed:
                    try:
                        await close()
                    except RuntimeError:
                        pass  # running in another task
        elif isinstance(src, list | tuple | str):
            for item in src:
                yield self._check(item)
                if self._closed:
                    return
                await asyncio.sleep(0)
        else:
            it = iter(src)
            while not self._closed:
                item = await asyncio.to_thread(_step, it)
                if item is _END:
                    break
                yield self._check(item)
        if not self._closed:
            self.stats.finish_reason = "stop"


def as_source(obj: Source | str | Iterable[str] | AsyncIterable[str]) -> Source:
    """Coerce ``obj`` into a ``Source``.

    Args:
        obj: a ``Source`` (returned as is), a ``str`` (the whole program as one delta) or any
            sync or async iterable of strings (wrapped in ``IterableSource``).

    Returns:
        A ``Source``.

    Raises:
        UsageError: ``obj`` is none of these.
    """
    if isinstance(obj, Source):
        return obj
    if isinstance(obj, str):
        return IterableSource([obj])
    if isinstance(obj, AsyncIterable | Iterable):
        return IterableSource(obj)
    raise UsageError(f"cannot make a token source from {type(obj).__name__}")
