"""The OpenAI Agents SDK adapter with the SDK's own ScriptedModel streaming exact Responses events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("agents")

from agents import Agent, ModelSettings, set_tracing_disabled
from agents.models.interface import ModelTracing
from agents.testing.model import ModelCall, ModelStep, ScriptedModel
from openai.types.responses import (
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)
from streams import SPLITS
from streams import split as _split

from eagerexec.integrations.openai_agents import EagerPython

set_tracing_disabled(True)  # no trace export (it would need the network)


def split(text: str, how: str) -> list[str]:
    return _split(text, how, seed=3)




async def base_events(output: list[Any]) -> list[Any]:
    """The SDK's own normalized stream for ``output`` (one arguments delta per call)."""
    model = ScriptedModel([ModelStep(output=output)])
    stream = model.stream_response(
        None, "x", ModelSettings(), [], None, [], ModelTracing.DISABLED,
        previous_response_id=None, conversation_id=None, prompt=None,
    )
    return [e async for e in stream]


class Stream:
    """A ``ModelStep.stream`` factory: the SDK's events, the arguments delta split into pieces."""

    def __init__(self, output: list[Any], how: str, delay: float = 0.0) -> None:
        self.output, self.how, self.delay = output, how, delay
        self.sent = 0
        self.total = 0
        self.calls: list[ModelCall] = []

    async def __call__(self, call: ModelCall) -> AsyncIterator[Any]:
        self.calls.append(call)
        events: list[Any] = []
        for e in await base_events(self.output):
            if isinstance(e, ResponseFunctionCallArgumentsDeltaEvent):
                events += [e.model_copy(update={"delta": p}) for p in split(e.delta, self.how)]
            else:
                events.append(e)
        self.total = len(events)
        for e in events:
            yield e
            self.sent += 1
            if self.delay:
                await asyncio.sleep(self.delay)


def code_call(call_id: str, code: str) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        type="function_call", call_id=call_id, name="run_python", arguments=json.dumps({"code": code}), id=f"fc_{call_id}"
    )


def text(answer: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id="msg", type="message", role="assistant", status="completed",
        content=[ResponseOutputText(type="output_text", text=answer, annotations=[])],
    )


def outputs(call: ModelCall) -> dict[str, str]:
    """The function_call_output items the model was sent, by call id."""
    items = call.input if isinstance(call.input, list) else []
    return {i["call_id"]: i["output"] for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"}


def run(steps: list[Stream | ModelStep], prompt: str = "go") -> tuple[Any, ScriptedModel, EagerPython]:
    model = ScriptedModel([ModelStep.stream(s) if isinstance(s, Stream) else s for s in steps])

    async def go() -> tuple[Any, EagerPython]:
        async with EagerPython() as eager:
            agent = Agent(name="coder", model=model, tools=[eager.tool])
            return await eager.run(agent, prompt), eager

    result, eager = asyncio.run(go())
    return result, model, eager


@pytest.mark.parametrize("how", SPLITS)
def test_state_persists_across_tool_calls_and_final_answer(how: str) -> None:
    s1 = Stream([code_call("c1", "import math\nx = 6 * 7\nprint('x is', x)\n")], how)
    s2 = Stream([code_call("c2", "print(x + 1, math.floor(2.5))")], how)
    s3 = Stream([text("The answer is 43.")], how)
    result, _, eager = run([s1, s2, s3])
    assert result.final_output == "The answer is 43."
    assert outputs(s2.calls[0])["c1"] == "x is 42"
    assert outputs(s3.calls[0])["c2"] == "43 2"
    assert eager.cuts == 0


def test_each_call_runs_once() -> None:
    # The SDK hands a wrapper annotated with RunContextWrapper only the base context (no
    # tool_call_id): the tool must still find the streamed call, not run the code a second time.
    s1 = Stream([code_call("c1", "n = globals().get('n', 0) + 1\nprint('runs', n)\n")], "random")
    s2 = Stream([code_call("c2", "print('n is', n)")], "whole")
    s3 = Stream([text("done")], "whole")
    _, _, eager = run([s1, s2, s3])
    assert outputs(s2.calls[0])["c1"] == "runs 1"
    assert outputs(s3.calls[0])["c2"] == "n is 1"
    assert len(eager.session.results) == 2  # one run per call


def test_error_cancels_the_response_and_reaches_the_model() -> None:
    code = "y = 1\nprint('before')\n1 / 0\n" + "print('never')\n" * 300
    s1 = Stream([code_call("c1", code)], "random", delay=0.005)
    s2 = Stream([code_call("c2", "print('y is', y)")], "whole")
    s3 = Stream([text("fixed")], "whole")
    result, _, eager = run([s1, s2, s3])
    assert result.final_output == "fixed"
    assert eager.cuts == 1
    assert s1.sent < s1.total // 2  # the model's stream was closed early
    back = outputs(s2.calls[0])["c1"]
    assert back.startswith("before\n") and "ZeroDivisionError: division by zero" in back
    assert "line 3: 1 / 0" in back and "never" not in back
    assert outputs(s3.calls[0])["c2"] == "y is 1"
    cut = next(i for i in s2.calls[0].input if isinstance(i, dict) and i.get("type") == "function_call")
    assert json.loads(cut["arguments"])["code"].startswith("y = 1\nprint('before')\n1 / 0\n")


def test_tool_works_without_streaming() -> None:
    model = ScriptedModel([[code_call("c1", "print(2 + 2)")], [text("4")]])

    async def go() -> Any:
        from agents import Runner

        async with EagerPython() as eager:
            agent = Agent(name="coder", model=model, tools=[eager.tool])
            return await Runner.run(agent, "add")

    result = asyncio.run(go())
    assert result.final_output == "4"
    items = model.calls[1].input
    assert outputs(model.calls[1])["c1"] == "4", items


class CustomStream:
    """A custom tool call (raw code input) as exact Responses events, the input in pieces."""

    def __init__(self, call_id: str, code: str, how: str, delay: float = 0.0) -> None:
        self.call_id, self.code, self.how, self.delay = call_id, code, how, delay
        self.sent = 0
        self.total = 0
        self.calls: list[ModelCall] = []

    async def __call__(self, call: ModelCall) -> AsyncIterator[Any]:
        from openai.types.responses import ResponseCustomToolCall, ResponseCustomToolCallInputDeltaEvent

        self.calls.append(call)
        item = ResponseCustomToolCall(type="custom_tool_call", call_id=self.call_id, name="run_python", input=self.code, id="ct1")
        events: list[Any] = []
        for e in await base_events([code_call(self.call_id, "")]):
            kind = e.type
            if kind == "response.output_item.added":
                events.append(e.model_copy(update={"item": item.model_copy(update={"input": ""})}))
            elif kind == "response.function_call_arguments.delta":
                events += [
                    ResponseCustomToolCallInputDeltaEvent(
                        type="response.custom_tool_call_input.delta", delta=p, item_id="ct1", output_index=0, sequence_number=0
                    )
                    for p in split(self.code, self.how)
                ]
            elif kind == "response.function_call_arguments.done":
                continue
            elif kind == "response.output_item.done":
                events.append(e.model_copy(update={"item": item}))
            elif kind == "response.completed":
                events.append(e.model_copy(update={"response": e.response.model_copy(update={"output": [item]})}))
            else:
                events.append(e)
        self.total = len(events)
        for e in events:
            yield e
            self.sent += 1
            if self.delay:
                await asyncio.sleep(self.delay)


def custom_outputs(call: ModelCall) -> dict[str, str]:
    items = call.input if isinstance(call.input, list) else []
    return {i["call_id"]: i["output"] for i in items if isinstance(i, dict) and i.get("type") == "custom_tool_call_output"}


@pytest.mark.parametrize("how", SPLITS)
def test_custom_tool_raw_code_state_and_early_error(how: str) -> None:
    s1 = CustomStream("k1", "z = 5\nprint('z', z)\n", how)
    s2 = CustomStream("k2", "print('before')\nz.nope\n" + "print('never')\n" * 300, how, delay=0.005)
    s3 = CustomStream("k3", "print(z * 2)", how)
    model = ScriptedModel([ModelStep.stream(s1), ModelStep.stream(s2), ModelStep.stream(s3), [text("10")]])

    async def go() -> tuple[Any, EagerPython]:
        async with EagerPython(custom=True) as eager:
            agent = Agent(name="coder", model=model, tools=[eager.tool])
            return await eager.run(agent, "go"), eager

    result, eager = asyncio.run(go())
    assert result.final_output == "10"
    assert custom_outputs(s2.calls[0])["k1"] == "z 5"
    back = custom_outputs(s3.calls[0])["k2"]
    assert back.startswith("before\n") and "AttributeError" in back and "never" not in back
    if how != "whole":  # sent in one piece, the input may be over before the error: no cut
        assert eager.cuts == 1 and s2.sent < s2.total
    assert custom_outputs(model.calls[3])["k3"] == "10"


def test_chat_completions_over_http_routes_by_output_index_and_cancels() -> None:
    """The SDK's Chat Completions model over loopback HTTP (item ids are placeholders there)."""
    from agents import OpenAIChatCompletionsModel
    from openai import AsyncOpenAI
    from openai_server import OpenAIServer, Script

    code = "y = 1\nprint('before')\n1 / 0\n" + "print('never')\n" * 300
    pieces = split(json.dumps({"code": code}), "random")
    with OpenAIServer() as server:
        server.push(Script(tool_args=pieces, delay=0.01), Script(content=["ok"]))

        async def go() -> tuple[Any, EagerPython]:
            model = OpenAIChatCompletionsModel("m", AsyncOpenAI(base_url=server.base_url, api_key="sk-test"))
            async with EagerPython() as eager:
                agent = Agent(name="coder", model=model, tools=[eager.tool])
                return await eager.run(agent, "go"), eager

        result, eager = asyncio.run(go())
        first = server.requests[0]
        assert first.done.wait(5)
        assert result.final_output == "ok" and eager.cuts == 1
        assert not first.completed and first.pieces_sent < len(pieces) // 2
        call, back = server.requests[1].body["messages"][-2:]
        assert json.loads(call["tool_calls"][0]["function"]["arguments"])["code"].startswith("y = 1\n")
        assert back["role"] == "tool" and "ZeroDivisionError" in back["content"] and "never" not in back["content"]
