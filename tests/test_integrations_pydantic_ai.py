"""The pydantic-ai capability with pydantic-ai's own FunctionModel streaming scripted tool calls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

pytest.importorskip("pydantic_ai")

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel
from streams import SPLITS
from streams import split as _split

from eagerexec.integrations.pydantic_ai import EagerPython


def split(text: str, how: str) -> list[str]:
    return _split(text, how, seed=7)




class Scripted:
    """A FunctionModel stream function: one scripted response per model request."""

    def __init__(self, *turns: str | tuple[str, str], how: str = "whole", delay: float = 0.0) -> None:
        self.turns = list(turns)
        self.how = how
        self.delay = delay
        self.seen: list[list[ModelMessage]] = []
        self.sent: list[int] = []  # pieces yielded per turn
        self.totals: list[int] = []

    async def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
        self.seen.append(list(messages))
        turn = self.turns[len(self.seen) - 1]
        self.sent.append(0)
        if isinstance(turn, str):
            self.totals.append(1)
            self.sent[-1] += 1
            yield turn
            return
        call_id, code = turn
        pieces = split(json.dumps({"code": code}), self.how)
        self.totals.append(len(pieces))
        for k, piece in enumerate(pieces):
            first = k == 0
            yield {0: DeltaToolCall(name="run_python" if first else None, json_args=piece, tool_call_id=call_id if first else None)}
            self.sent[-1] += 1
            if self.delay:
                await asyncio.sleep(self.delay)


def tool_return(messages: list[ModelMessage]) -> str:
    parts = [p for p in messages[-1].parts if isinstance(p, ToolReturnPart)]
    assert len(parts) == 1
    return str(parts[0].content)


@pytest.mark.parametrize("how", SPLITS)
def test_state_persists_across_tool_calls_and_final_answer(how: str) -> None:
    script = Scripted(
        ("c1", "import math\nx = 6 * 7\nprint('x is', x)\n"),
        ("c2", "print(x + 1, math.floor(2.5))"),
        "The answer is 43.",
        how=how,
    )
    agent = Agent(FunctionModel(stream_function=script), capabilities=[EagerPython()])
    result = agent.run_sync("compute")
    assert result.output == "The answer is 43."
    assert tool_return(script.seen[1]) == "x is 42"
    assert tool_return(script.seen[2]) == "43 2"


@pytest.mark.parametrize("how", SPLITS)
def test_each_call_runs_once(how: str) -> None:
    # the tool returns the streamed call's result: the code never runs a second time
    script = Scripted(
        ("c1", "n = globals().get('n', 0) + 1\nprint('runs', n)\n"), ("c2", "print('n is', n)"), "done", how=how
    )
    agent = Agent(FunctionModel(stream_function=script), capabilities=[EagerPython()])
    agent.run_sync("count")
    assert tool_return(script.seen[1]) == "runs 1"
    assert tool_return(script.seen[2]) == "n is 1"


def test_error_stops_the_response_early_and_reaches_the_model() -> None:
    code = "y = 1\nprint('before')\n1 / 0\n" + "print('never')\n" * 300
    script = Scripted(("c1", code), ("c2", "print('y is', y)"), "fixed", how="random", delay=0.005)
    agent = Agent(FunctionModel(stream_function=script), capabilities=[EagerPython()])
    result = agent.run_sync("go")
    assert result.output == "fixed"
    assert script.sent[0] < script.totals[0] // 2  # the model's stream was closed early
    back = tool_return(script.seen[1])
    assert back.startswith("before\n") and "ZeroDivisionError: division by zero" in back
    assert "line 3: 1 / 0" in back and "never" not in back
    assert tool_return(script.seen[2]) == "y is 1"
    # the cut call in the history carries valid arguments: the code received
    first = result.all_messages()[1]
    assert isinstance(first, ModelResponse)
    call = first.parts[0]
    assert isinstance(call, ToolCallPart)
    assert json.loads(str(call.args))["code"].startswith("y = 1\nprint('before')\n1 / 0\n")


def test_each_run_has_its_own_session() -> None:
    script = Scripted(("c1", "secret = 1\nprint(secret)"), "done", ("c2", "print('secret' in dir())"), "done")
    agent = Agent(FunctionModel(stream_function=script), capabilities=[EagerPython()])
    agent.run_sync("one")
    agent.run_sync("two")
    assert tool_return(script.seen[1]) == "1"
    assert tool_return(script.seen[3]) == "False"


def test_a_real_http_stream_is_closed_at_the_error() -> None:
    """pydantic-ai's own OpenAI model over loopback HTTP: the server sees the disconnect."""
    from openai_server import OpenAIServer, Script
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    code = "y = 1\nprint('before')\n1 / 0\n" + "print('never')\n" * 300
    pieces = split(json.dumps({"code": code}), "random")
    with OpenAIServer() as server:
        server.push(Script(tool_args=pieces, delay=0.01), Script(content=["ok"]))
        model = OpenAIChatModel("m", provider=OpenAIProvider(base_url=server.base_url, api_key="sk-test"))
        result = Agent(model, capabilities=[EagerPython()]).run_sync("go")
        first = server.requests[0]
        assert first.done.wait(5)
        assert result.output == "ok"
        assert not first.completed and first.pieces_sent < len(pieces) // 2
        back = server.requests[1].body["messages"][-1]
        assert back["role"] == "tool" and "ZeroDivisionError" in back["content"] and "never" not in back["content"]


def test_a_call_after_a_failed_one_in_the_same_response_never_runs() -> None:
    first = json.dumps({"code": "import time\ntime.sleep(0.3)\n1 / 0\n"})
    second = split(json.dumps({"code": "print('second ran')\n" * 30}), "chars")
    seen: list[list[ModelMessage]] = []

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
        seen.append(list(messages))
        if len(seen) > 1:
            yield "done"
            return
        yield {0: DeltaToolCall(name="run_python", json_args=first, tool_call_id="a")}
        for k, piece in enumerate(second):
            yield {1: DeltaToolCall(name="run_python" if k == 0 else None, json_args=piece, tool_call_id="b" if k == 0 else None)}
            await asyncio.sleep(0.01)

    result = Agent(FunctionModel(stream_function=stream), capabilities=[EagerPython()]).run_sync("go")
    assert result.output == "done"
    returns = {p.tool_call_id: str(p.content) for p in seen[1][-1].parts if isinstance(p, ToolReturnPart)}
    assert "ZeroDivisionError" in returns["a"]
    assert returns["b"].startswith("not run") and "second ran" not in returns["b"]
