"""eagerexec.client against a real ``eager serve``: streaming, multi-turn, early stop, OpenAI streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("websockets")
from streams import cut
from test_server_live import TOKEN, running_server

from eagerexec import BackendUnavailableError, UsageError
from eagerexec.client import EagerClient, _urls, execute, openai_deltas

pytestmark = pytest.mark.timeout(120)

PROGRAM = "import math\nr = math.sqrt(49)\nprint(r)\nfor k in 'ab':\n    print(k)\n"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as (url, _):
        yield url


def split(text: str, how: str) -> list[str]:
    return cut(text, how, cuts=6, seed=7)


def test_urls() -> None:
    assert _urls("ws://h:1") == ("ws://h:1/v1/stream", "http://h:1")
    assert _urls("https://h/v1/stream/") == ("wss://h/v1/stream", "https://h")
    with pytest.raises(UsageError):
        _urls("h:1")


@pytest.mark.parametrize("how", ["whole", "chars", "random"])
def test_stream_yields_records_to_the_result_and_state_persists(server: str, how: str) -> None:
    async def go() -> None:
        async with EagerClient(server, TOKEN) as c:
            msgs = [m async for m in c.stream(split(PROGRAM, how))]
            assert msgs[-1]["type"] == "result" and msgs[-1]["result"]["stdout"] == "7.0\na\nb\n"
            assert "".join(m["text"] for m in msgs if m["type"] == "chunk") == PROGRAM
            second = await c.run("print(r * 6)\n")
            assert second["stdout"] == "42.0\n"

    asyncio.run(go())


def test_an_error_stops_the_deltas_and_closes_the_model_stream(server: str) -> None:
    closed = asyncio.Event()
    sent: list[str] = []

    async def model() -> AsyncIterator[str]:
        try:
            for piece in ["ok = 1\n", "1/0\n", *[f"print({i})\n" for i in range(1000)]]:
                sent.append(piece)
                yield piece
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    async def go() -> dict[str, Any]:
        async with EagerClient(server, TOKEN) as c:
            msgs = [m async for m in c.stream(model())]
            errors = [m for m in msgs if m["type"] == "error"]
            assert len(errors) == 1 and errors[0]["error"]["type"] == "ZeroDivisionError"
            assert closed.is_set()
            assert (await c.run("print(ok)\n"))["stdout"] == "1\n"
            return msgs[-1]["result"]

    result = asyncio.run(go())
    assert result["stopped_early"] is True and len(sent) < 1000


def test_one_stream_at_a_time_and_only_when_connected(server: str) -> None:
    async def go() -> None:
        c = EagerClient(server, TOKEN)
        with pytest.raises(UsageError):
            await c.run("1\n")
        async with c:
            gen = c.stream(["import time\ntime.sleep(0.2)\n"])
            await gen.__anext__()
            with pytest.raises(UsageError):
                await c.run("1\n")
            async for _ in gen:
                pass

    asyncio.run(go())


def test_a_wrong_token_is_backend_unavailable(server: str) -> None:
    async def go() -> None:
        with pytest.raises(BackendUnavailableError, match="401"):
            async with EagerClient(server, "wrong"):
                pass
        with pytest.raises(BackendUnavailableError, match="401"):
            await execute(server, "1", "wrong")

    asyncio.run(go())


def test_execute(server: str) -> None:
    result = asyncio.run(execute(server, "print(6 * 7)\n", TOKEN))
    assert result["stdout"] == "42\n" and result["error"] is None


class FakeOpenAIStream:
    """What ``client.chat.completions.create(stream=True)`` returns, enough for openai_deltas."""

    def __init__(self, answer: str, size: int = 3, *, hold_after: str | None = None) -> None:
        self.pieces = [answer[i : i + size] for i in range(0, len(answer), size)]
        self.closed = False
        # Once the text sent so far contains ``hold_after``, the model "keeps thinking": the next
        # piece waits (up to 10 s) for the consumer to close the stream, as a client must do
        # the moment the error arrives, not when the model's next token comes.
        self.hold_after = hold_after
        self.closed_while_thinking = False

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[Any]:
        yield SimpleNamespace(choices=[])  # usage-only chunks have no choices
        sent = ""
        for piece in self.pieces:
            await asyncio.sleep(0)
            if self.hold_after is not None and self.hold_after in sent:
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:  # the consumer stopped the stream while it waited
                    self.closed_while_thinking = True
                    raise
                self.hold_after = None
            sent += piece
            yield SimpleNamespace(choices=[SimpleNamespace(delta=SimpleNamespace(content=piece))])

    async def close(self) -> None:
        self.closed = True


def test_openai_deltas_extracts_fenced_code_while_it_streams(server: str) -> None:
    answer = "Here you go:\n\n```python\nvals = [3, 4]\nprint(sum(vals))\n```\n\nIt prints 7.\n"
    stream = FakeOpenAIStream(answer)

    async def go() -> dict[str, Any]:
        async with EagerClient(server, TOKEN) as c:
            return await c.run(openai_deltas(stream))

    result = asyncio.run(go())
    assert result["code"] == "vals = [3, 4]\nprint(sum(vals))\n" and result["stdout"] == "7\n"
    assert stream.closed


def test_openai_stream_is_closed_on_the_first_error(server: str) -> None:
    answer = "```python\nprint('a')\nint('x')\n" + "print('b')\n" * 300 + "```\n"
    stream = FakeOpenAIStream(answer, size=2, hold_after="int('x')\n")

    async def go() -> dict[str, Any]:
        async with EagerClient(server, TOKEN) as c:
            return await c.run(openai_deltas(stream))

    result = asyncio.run(go())
    assert result["error"]["type"] == "ValueError" and result["stopped_early"] is True
    assert stream.closed and "b" not in result["stdout"]
    assert stream.closed_while_thinking  # at the error, not at the model's next token


def test_openai_deltas_unfenced() -> None:
    async def go() -> str:
        return "".join([d async for d in openai_deltas(FakeOpenAIStream("x = 1\n"), fenced=False)])

    assert asyncio.run(go()) == "x = 1\n"
