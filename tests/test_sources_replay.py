"""ReplaySource, count_tokens, split_tokens: exact replay of any text at a fixed token rate."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eagerexec import UsageError
from eagerexec.sources import ReplaySource, Source, count_tokens, split_tokens

TEXTS = [
    "",
    "print('hello')\n",
    "# 日本語のコメント\nx = '🎉🎉 emoji 👩‍👩‍👧'\r\nprint(x)\r\n",
    "s = 'naïve café — ½ ≠ ∞'\n\tindent\n",
    "t = '<|endoftext|> is plain text here'\n",
    "中文字符测试" * 20,
]


async def collect(src: Source) -> list[str]:
    return [d async for d in src]


@pytest.mark.parametrize("text", TEXTS)
def test_replay_is_exact(text: str) -> None:
    src = ReplaySource(text, tps=math.inf)
    deltas = asyncio.run(collect(src))
    assert "".join(deltas) == text
    assert all(deltas)
    assert src.stats.tokens == count_tokens(text) == src.token_count
    assert src.stats.raw_text == text
    assert src.stats.finish_reason == "stop"
    assert not src.stats.closed_early


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_split_tokens_round_trips(text: str) -> None:
    pieces = split_tokens(text)
    assert "".join(pieces) == text
    assert all(pieces)
    assert len(pieces) <= count_tokens(text)


def test_multibyte_characters_split_across_tokens_come_out_whole() -> None:
    text = "a 🎉 b 世界"
    assert count_tokens(text) > len(split_tokens(text))  # some tokens hold half a character
    for piece in split_tokens(text):
        piece.encode("utf-8")  # would raise on a half (surrogate-escaped) character


def test_unthrottled_replay_yields_token_by_token() -> None:
    text = "for i in range(3):\n    print(i)\n"
    deltas = asyncio.run(collect(ReplaySource(text, tps=math.inf)))
    assert deltas == split_tokens(text)


def test_rate_is_not_absurdly_early() -> None:
    text = " ".join(["word"] * 20)
    assert count_tokens(text) == 20
    src = ReplaySource(text, tps=1000)
    t0 = time.monotonic()
    deltas = asyncio.run(collect(src))
    assert time.monotonic() - t0 >= 0.015
    assert "".join(deltas) == text
    assert src.stats.tokens == 20
    assert src.stats.request_start is not None and src.stats.first_token is not None
    assert src.stats.last_token is not None and src.stats.last_token - src.stats.request_start >= 0.015


def test_ttft_delays_the_first_token() -> None:
    src = ReplaySource("x = 1\n", tps=math.inf, ttft=0.03)
    asyncio.run(collect(src))
    assert src.stats.first_token is not None and src.stats.request_start is not None
    assert src.stats.first_token - src.stats.request_start >= 0.03


def test_slow_consumer_gets_overdue_tokens_batched() -> None:
    text = " ".join(["tok"] * 50)

    async def slow() -> tuple[list[str], ReplaySource]:
        src = ReplaySource(text, tps=2000)
        out = []
        async for d in src:
            out.append(d)
            await asyncio.sleep(0.005)  # ~10 tokens fall due meanwhile
        return out, src

    deltas, src = asyncio.run(slow())
    assert "".join(deltas) == text
    assert len(deltas) < count_tokens(text)  # batched
    assert src.stats.tokens == count_tokens(text)  # but every token counted


def test_aclose_stops_early() -> None:
    text = " ".join(["tok"] * 100)

    async def run() -> tuple[list[str], ReplaySource]:
        src = ReplaySource(text, tps=1000)
        out = []
        async for d in src:
            out.append(d)
            if len(out) == 3:
                await src.aclose()
        await src.aclose()  # idempotent
        return out, src

    deltas, src = asyncio.run(run())
    assert len(deltas) == 3
    assert src.stats.closed_early
    assert src.stats.tokens < 100


def test_iterating_twice_is_an_error() -> None:
    src = ReplaySource("x", tps=math.inf)
    aiter(src)
    with pytest.raises(UsageError):
        aiter(src)


@pytest.mark.parametrize(("tps", "ttft"), [(0, 0.0), (-1, 0.0), (math.nan, 0.0), (10, -1.0)])
def test_bad_rates(tps: float, ttft: float) -> None:
    with pytest.raises(UsageError):
        ReplaySource("x", tps=tps, ttft=ttft)


def test_from_file_keeps_newlines(tmp_path: Path) -> None:
    path = tmp_path / "prog.py"
    text = "x = 1\r\nprint('é')\n"
    path.write_bytes(text.encode())
    src = ReplaySource.from_file(path, tps=math.inf)
    assert "".join(asyncio.run(collect(src))) == text


def test_aclose_from_another_task_wakes_a_waiting_replay() -> None:
    async def run() -> tuple[list[str], ReplaySource]:
        src = ReplaySource("x = 1\ny = 2\n", tps=1000, ttft=60)  # would wait a minute
        out: list[str] = []

        async def consume() -> None:
            async for d in src:
                out.append(d)

        async with asyncio.TaskGroup() as tg:
            tg.create_task(consume())
            await asyncio.sleep(0.01)
            await src.aclose()
        return out, src

    out, src = asyncio.run(asyncio.wait_for(run(), 10))
    assert out == []
    assert src.stats.closed_early and src.stats.tokens == 0
