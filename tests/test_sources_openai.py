"""OpenAISource against the loopback OpenAI-compatible server: fence mode, tool mode, errors, aclose."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator

import pytest
from openai_server import OpenAIServer, Script

from eagerexec import NoCodeError, SourceConnectionError, SourceError, StreamInterruptedError, UsageError
from eagerexec.sources import OpenAISource, Source


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


async def collect(src: Source) -> list[str]:
    return [d async for d in src]


def source(server: OpenAIServer, prompt: str = "write code", **kw: object) -> OpenAISource:
    return OpenAISource(prompt, model="scripted-model", base_url=server.base_url, max_retries=0, **kw)  # type: ignore[arg-type]


def run_error(src: OpenAISource) -> tuple[list[str], SourceError]:
    got: list[str] = []

    async def go() -> None:
        async for d in src:
            got.append(d)

    with pytest.raises(SourceError) as info:
        asyncio.run(go())
    return got, info.value


ANSWER = [
    "Here is the program:\n\n``",
    "`py",
    "thon\nimport math\n",
    "r = math.sq",
    "rt(2)\nprint(r)\n",
    "```\n",
    "Done.",
]


def test_fence_mode(server: OpenAIServer) -> None:
    server.push(Script(content=ANSWER, delay=0.002))
    src = source(server, temperature=0.2, max_tokens=100)
    deltas = asyncio.run(collect(src))
    assert "".join(deltas) == "import math\nr = math.sqrt(2)\nprint(r)\n"
    st = src.stats
    assert st.raw_text == "".join(ANSWER)
    assert st.tokens == len(ANSWER)
    assert st.finish_reason == "stop"
    assert st.request_start is not None and st.first_token is not None and st.last_token is not None
    assert st.request_start <= st.first_token <= st.last_token
    assert not st.closed_early
    body = server.requests[0].body
    assert body["stream"] is True and body["model"] == "scripted-model"
    assert body["temperature"] == 0.2 and body["max_tokens"] == 100
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][1]["content"] == "write code"
    assert "tools" not in body


def test_code_is_yielded_while_the_answer_streams(server: OpenAIServer) -> None:
    # The server stops mid-answer and waits: the code already sent must reach us anyway.
    server.push(Script(content=["```python\nx = 1\n", "y = 2\n", "```"], hang_after=2))

    async def go() -> list[str]:
        src = source(server)
        got = []
        async for d in src:
            got.append(d)
            if "".join(got) == "x = 1\ny = 2\n":
                await src.aclose()
        return got

    assert "".join(asyncio.run(go())) == "x = 1\ny = 2\n"
    assert not server.requests[0].completed


def test_messages_are_sent_as_given(server: OpenAIServer) -> None:
    server.push(Script(content=["```python\nprint(1)\n```"]))
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "task"},
        {"role": "assistant", "content": "```python\nprint(1/0)\n```"},
        {"role": "user", "content": "ZeroDivisionError: fix it"},
    ]
    src = OpenAISource(messages=messages, model="m", base_url=server.base_url)
    assert asyncio.run(collect(src)) == ["print(1)\n"]
    assert server.requests[0].body["messages"] == messages


def test_tool_mode(server: OpenAIServer) -> None:
    code = 'import json\nprint(json.dumps({"a": "é😀\\\\"}))\n'
    args = json.dumps({"code": code})
    pieces = [args[i : i + 3] for i in range(0, len(args), 3)]  # splits escapes everywhere
    server.push(Script(content=["Calling the tool."], tool_args=pieces))
    src = source(server, mode="tool")
    deltas = asyncio.run(collect(src))
    assert "".join(deltas) == code
    assert len(deltas) > 1  # streamed, not all at the end
    assert src.stats.finish_reason == "tool_calls"
    assert src.stats.raw_text == "Calling the tool." + args
    body = server.requests[0].body
    assert body["tools"][0]["function"]["name"] == "run_python"
    assert body["tool_choice"] == {"type": "function", "function": {"name": "run_python"}}


def test_tool_mode_without_a_tool_call_is_no_code(server: OpenAIServer) -> None:
    server.push(Script(content=["```python\nx = 1\n```"]))
    got, err = run_error(source(server, mode="tool"))
    assert isinstance(err, NoCodeError)
    assert got == []


def test_no_code(server: OpenAIServer) -> None:
    server.push(Script(content=["I cannot ", "help with that."]))
    src = source(server)
    got, err = run_error(src)
    assert isinstance(err, NoCodeError)
    assert got == []
    assert src.stats.raw_text == "I cannot help with that."


def test_bare_code_fallback(server: OpenAIServer) -> None:
    server.push(Script(content=["x = 1\n", "print(x)\n"]))
    src = source(server, bare_code_fallback=True)
    assert "".join(asyncio.run(collect(src))) == "x = 1\nprint(x)\n"


@pytest.mark.parametrize("status", [401, 403, 404, 429, 500, 503])
def test_http_errors(server: OpenAIServer, status: int) -> None:
    server.push(Script(status=status, error_message=f"nope {status}\nsecond line"))
    got, err = run_error(source(server))
    assert type(err) is SourceConnectionError
    message = str(err)
    assert "\n" not in message
    assert f"HTTP {status}" in message and f"nope {status} second line" in message
    assert err.__cause__ is not None
    assert got == []


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = OpenAISource("x", model="m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    _, err = run_error(src)
    assert type(err) is SourceConnectionError
    assert "cannot reach" in str(err) and "\n" not in str(err)


@pytest.mark.parametrize(
    ("script", "words"),
    [
        (Script(content=["```python\nx = 1\n", "y = 2\n"], drop_after=1), "dropped"),
        (Script(content=["```python\nx = 1\n", "y = 2\n"], malformed_after=1), "malformed"),
        (Script(content=["```python\nx = 1\n", "y = 2\n"], error_event_after=1), "mid-stream error"),
    ],
)
def test_interrupted_streams_keep_what_came(server: OpenAIServer, script: Script, words: str) -> None:
    server.push(script)
    src = source(server)
    got, err = run_error(src)
    assert type(err) is StreamInterruptedError
    assert words in str(err) and "\n" not in str(err)
    assert got == ["x = 1\n"]
    assert src.stats.raw_text == "```python\nx = 1\n"


def test_read_timeout_mid_stream(server: OpenAIServer) -> None:
    server.push(Script(content=["```python\nx = 1\n", "y = 2\n"], hang_after=1))
    src = source(server, timeout=0.3)
    got, err = run_error(src)
    assert type(err) is StreamInterruptedError
    assert got == ["x = 1\n"]


def test_aclose_from_another_task_disconnects_at_once(server: OpenAIServer) -> None:
    server.push(Script(content=["```python\nimport time\n", "time.sleep(1)\n"], hang_after=1))

    async def go() -> tuple[list[str], float, OpenAISource]:
        src = source(server)
        got: list[str] = []
        first = asyncio.Event()

        async def consume() -> None:
            async for d in src:
                got.append(d)
                first.set()

        async with asyncio.TaskGroup() as tg:
            tg.create_task(consume())
            await first.wait()
            await src.aclose()
            closed_at = time.monotonic()
        return got, closed_at, src

    got, closed_at, src = asyncio.run(go())
    assert got == ["import time\n"]
    assert src.stats.closed_early
    record = server.requests[0]
    assert record.done.wait(5)
    assert record.disconnected_at is not None
    assert record.disconnected_at - closed_at < 0.05
    assert not record.completed


def test_aclose_after_break_disconnects(server: OpenAIServer) -> None:
    server.push(Script(content=["```python\nx = 1\n", "y = 2\n", "z = 3\n"], delay=0.05))

    async def go() -> float:
        src = source(server)
        async for _ in src:
            break
        await src.aclose()
        await src.aclose()  # idempotent
        return time.monotonic()

    closed_at = asyncio.run(go())
    record = server.requests[0]
    assert record.done.wait(5)
    assert record.disconnected_at is not None and record.disconnected_at - closed_at < 0.05
    assert not record.completed


def test_aclose_before_the_response_arrives(server: OpenAIServer) -> None:
    server.push(Script(content=["```python\nx = 1\n```"], header_delay=30))

    async def go() -> tuple[list[str], float]:
        src = source(server)
        task = asyncio.create_task(collect(src))
        while not server.requests:
            await asyncio.sleep(0.005)
        await src.aclose()
        closed_at = time.monotonic()
        return await asyncio.wait_for(task, 5), closed_at

    got, closed_at = asyncio.run(go())
    assert got == []
    record = server.requests[0]
    assert record.done.wait(5)
    assert record.disconnected_at is not None and record.disconnected_at - closed_at < 0.05


def test_key_and_url_from_environment(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    server.push(Script(content=["```python\nx = 1\n```"]))
    assert asyncio.run(collect(OpenAISource("p", model="m"))) == ["x = 1\n"]
    assert server.requests[0].headers.get("authorization") == "Bearer sk-test-123"


def test_usage_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(UsageError, match="API key"):
        OpenAISource("p", model="m")
    with pytest.raises(UsageError):
        OpenAISource(model="m", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(UsageError):
        OpenAISource("p", model="m", base_url="http://127.0.0.1:9/v1", mode="xml")  # type: ignore[arg-type]
    # a custom base URL needs no key
    OpenAISource("p", model="m", base_url="http://127.0.0.1:9/v1")


def test_missing_openai_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from eagerexec import MissingExtraError

    monkeypatch.setitem(sys.modules, "openai", None)  # `import openai` now raises ImportError
    with pytest.raises(MissingExtraError, match=r"'openai' extra.*pip install 'eagerexec\[openai\]'") as info:
        OpenAISource("write code", model="m", base_url="http://127.0.0.1:9/v1")
    assert info.value.extra == "openai"
    assert info.value.module == "openai"
    assert isinstance(info.value, UsageError)
