"""IterableSource and as_source: sync and async iterables of strings as token sources."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from eagerexec import UsageError
from eagerexec.sources import IterableSource, ReplaySource, Source, as_source

PIECES = ["import os\n", "x = ", "1\n", "print(x)\n"]


async def collect(src: Source) -> list[str]:
    return [d async for d in src]


def test_list_source() -> None:
    src = IterableSource(PIECES)
    assert asyncio.run(collect(src)) == PIECES
    assert src.stats.tokens == 4
    assert src.stats.raw_text == "".join(PIECES)
    assert src.stats.finish_reason == "stop"


def test_async_generator_source() -> None:
    async def gen() -> AsyncIterator[str]:
        for p in PIECES:
            await asyncio.sleep(0)
            yield p

    assert asyncio.run(collect(IterableSource(gen()))) == PIECES


def test_blocking_generator_does_not_block_the_loop() -> None:
    release = threading.Event()

    def gen() -> Iterator[str]:
        yield "a = 1\n"
        release.wait(5)  # blocks until another task on the loop sets it
        yield "b = 2\n"

    async def run() -> list[str]:
        async def releaser() -> None:
            await asyncio.sleep(0.01)
            release.set()

        async with asyncio.TaskGroup() as tg:
            tg.create_task(releaser())
            task = tg.create_task(collect(IterableSource(gen())))
        return task.result()

    assert asyncio.run(run()) == ["a = 1\n", "b = 2\n"]


def test_aclose_from_inside_the_loop() -> None:
    async def run() -> tuple[list[str], Source]:
        src = IterableSource(iter(PIECES))
        out = []
        async for d in src:
            out.append(d)
            await src.aclose()
        return out, src

    out, src = asyncio.run(run())
    assert out == PIECES[:1]
    assert src.stats.closed_early


def test_non_str_items_are_rejected() -> None:
    with pytest.raises(UsageError, match="must be str"):
        asyncio.run(collect(IterableSource([b"x"])))  # type: ignore[list-item]


def test_as_source() -> None:
    replay = ReplaySource("x", tps=math.inf)
    assert as_source(replay) is replay
    assert asyncio.run(collect(as_source("x = 1\ny = 2\n"))) == ["x = 1\ny = 2\n"]
    assert asyncio.run(collect(as_source(PIECES))) == PIECES
    assert asyncio.run(collect(as_source(p for p in PIECES))) == PIECES
    with pytest.raises(UsageError):
        as_source(42)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        IterableSource(42)  # type: ignore[arg-type]
