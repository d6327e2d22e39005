"""eagerexec.integrations.langgraph: LangChain's own fake chat model streaming scripted tool calls
(its ``tool_call_chunks``: name, id, index, then the JSON arguments piece by piece), through
``create_agent`` with the middleware and through a hand-built LangGraph graph with ``ToolNode``."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("langgraph")

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGenerationChunk
from streams import SPLITS
from streams import split as _pieces

from eagerexec import MissingExtraError, UnknownOptionError
from eagerexec.integrations.langgraph import EagerPython


class StreamingFake(FakeMessagesListChatModel):
    """LangChain's list fake, streaming each scripted message as a provider does: content, then
    per tool call a first chunk with name/id/index and its arguments in pieces."""

    split: str = "random"
    delay: float = 0.0
    """Seconds between chunks (a model that is still generating)."""
    sent: int = 0
    """Chunks the consumer pulled (a stopped stream pulls fewer)."""
    seen: list[list[BaseMessage]] = []
    """The messages of every call."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> StreamingFake:
        return self

    def _chunks(self, messages: list[BaseMessage]) -> Iterator[AIMessageChunk]:
        self.seen.append(list(messages))
        msg = self.responses[self.i]
        self.i = (self.i + 1) % len(self.responses)
        assert isinstance(msg, AIMessage)
        if msg.content:
            for piece in _pieces(str(msg.content), self.split):
                yield AIMessageChunk(content=piece)
        for n, call in enumerate(msg.tool_calls):
            yield AIMessageChunk(content="", tool_call_chunks=[{"name": call["name"], "id": call["id"], "index": n, "args": ""}])
            for piece in _pieces(json.dumps(call["args"]), self.split, seed=n):
                yield AIMessageChunk(content="", tool_call_chunks=[{"name": None, "id": None, "index": n, "args": piece}])

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages):
            self.sent += 1
            if self.delay:
                time.sleep(self.delay)
            yield ChatGenerationChunk(message=chunk)

    async def _astream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages):
            self.sent += 1
            await asyncio.sleep(self.delay)
            yield ChatGenerationChunk(message=chunk)


def call(code: str, call_id: str) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": "run_python", "args": {"code": code}, "id": call_id}])


def total_chunks(msg: AIMessage, split: str) -> int:
    """How many chunks StreamingFake sends for ``msg`` when it is read to the end."""
    content = len(_pieces(str(msg.content), split)) if msg.content else 0
    calls = sum(1 + len(_pieces(json.dumps(c["args"]), split, seed=n)) for n, c in enumerate(msg.tool_calls))
    return content + calls


@pytest.fixture
def eager() -> Iterator[EagerPython]:
    with EagerPython(timeout=30) as e:
        yield e


def tool_messages(messages: list[BaseMessage]) -> list[str]:
    return [str(m.content) for m in messages if isinstance(m, ToolMessage)]


@pytest.mark.parametrize("split", SPLITS)
def test_create_agent_multi_turn_state_and_final_answer(eager: EagerPython, split: str) -> None:
    langchain_agents = pytest.importorskip("langchain.agents")
    model = StreamingFake(
        split=split,
        responses=[
            call("import math\nx = 41\nprint('x is', x)\n", "c1"),
            call("print(x + 1, math.sqrt(16))\n", "c2"),
            AIMessage(content="The answer is 42."),
        ],
    )
    agent = langchain_agents.create_agent(model, middleware=[eager.middleware()])

    out = asyncio.run(agent.ainvoke({"messages": [HumanMessage("compute")]}))

    assert tool_messages(out["messages"]) == ["x is 41", "42 4.0"]
    assert out["messages"][-1].content == "The answer is 42."
    assert len(eager.results) == 2 and all(r.error is None for r in eager.results)
    # the tool results reached the model: its third call saw both
    assert [str(m.content) for m in model.seen[2] if isinstance(m, ToolMessage)] == ["x is 41", "42 4.0"]


def test_create_agent_sync_invoke_keeps_state_across_invocations(eager: EagerPython) -> None:
    langchain_agents = pytest.importorskip("langchain.agents")
    model = StreamingFake(
        responses=[call("counter = 1\n", "a1"), AIMessage(content="set"), call("counter += 1\nprint(counter)\n", "a2"), AIMessage(content="2")],
    )
    agent = langchain_agents.create_agent(model, middleware=[eager.middleware()])

    agent.invoke({"messages": [HumanMessage("set it")]})
    out = agent.invoke({"messages": [HumanMessage("bump it")]})

    assert tool_messages(out["messages"]) == ["2"]


@pytest.mark.parametrize("split", SPLITS)
def test_error_stops_the_stream_and_reaches_the_model(eager: EagerPython, split: str) -> None:
    langchain_agents = pytest.importorskip("langchain.agents")
    # a long program streamed at 1 ms a chunk: seconds of generation left after the error
    failing = call("print('before')\ny = 1 / 0\n" + "print('AFTER-MARK')\n" * 1500, "boom")
    model = StreamingFake(split=split, delay=0.001, responses=[failing, AIMessage(content="failed")])
    agent = langchain_agents.create_agent(model, middleware=[eager.middleware()])

    out = asyncio.run(agent.ainvoke({"messages": [HumanMessage("go")]}))

    (result,) = tool_messages(out["messages"])
    assert result.startswith("before\n[error]\nZeroDivisionError: division by zero")
    assert "line 2: y = 1 / 0" in result and "AFTER-MARK" not in result
    if split != "whole":  # (arguments in one chunk: nothing left to stop)
        # the model's stream was closed early: it did not send the whole call
        assert model.sent < total_chunks(failing, split) / 2
        ai = next(m for m in out["messages"] if isinstance(m, AIMessage) and m.tool_calls)
        assert len(ai.tool_calls[0]["args"]["code"]) < len(failing.tool_calls[0]["args"]["code"])
    # the error was in front of the model on its next call
    assert any("ZeroDivisionError" in str(m.content) for m in model.seen[1] if isinstance(m, ToolMessage))


def test_sync_invoke_stops_the_stream_on_error(eager: EagerPython) -> None:
    failing = call("x = 'kept'\nint('nope')\n" + "print('AFTER-MARK')\n" * 1500, "s1")
    model = StreamingFake(split="random", delay=0.001, responses=[failing])

    msg = eager.chat_model(model).invoke([HumanMessage("go")])
    result = eager.tool.invoke({"type": "tool_call", "name": "run_python", "id": "s1", "args": msg.tool_calls[0]["args"]})

    assert model.sent < total_chunks(failing, "random") / 2
    assert "ValueError: invalid literal for int() with base 10: 'nope'" in result.content
    assert "AFTER-MARK" not in result.content
    assert eager.tool.run("print(x)") == "kept"


def test_a_call_after_a_failed_one_in_the_same_response_does_not_run(eager: EagerPython) -> None:
    langchain_agents = pytest.importorskip("langchain.agents")
    two = AIMessage(
        content="",
        tool_calls=[
            {"name": "run_python", "args": {"code": "x = 1\n1 / 0"}, "id": "t1"},  # fails at its end
            {"name": "run_python", "args": {"code": "print('SECOND')"}, "id": "t2"},
        ],
    )
    model = StreamingFake(responses=[two, AIMessage(content="ok")])
    agent = langchain_agents.create_agent(model, middleware=[eager.middleware()])

    out = asyncio.run(agent.ainvoke({"messages": [HumanMessage("go")]}))

    first, second = tool_messages(out["messages"])
    assert "ZeroDivisionError" in first
    assert second.startswith("not run") and "SECOND" not in second


def test_langgraph_model_node_and_tool_node(eager: EagerPython) -> None:
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    model = eager.chat_model(
        StreamingFake(responses=[call("data = [3, 1, 2]\nprint(sorted(data))\n", "g1"), AIMessage(content="sorted")])
    ).bind_tools([eager.tool])

    async def agent_node(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent_node)
    graph.add_node("tools", ToolNode([eager.tool]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    app = graph.compile()

    async def go() -> tuple[dict[str, Any], list[Any]]:
        streamed = [m async for m, _meta in app.astream({"messages": [HumanMessage("sort")]}, stream_mode="messages")]
        return await app.ainvoke({"messages": [HumanMessage("again")]}), streamed

    out, streamed = asyncio.run(go())

    assert tool_messages(out["messages"]) == ["[1, 2, 3]"]
    assert out["messages"][-1].content == "sorted"
    # the wrapper streams each chunk once (the inner model is not streamed a second time)
    assert sum(1 for m in streamed if isinstance(m, AIMessageChunk) and m.content == "sorted") == 1


def test_tool_alone_runs_code_with_state(eager: EagerPython) -> None:
    assert eager.tool.invoke({"code": "v = 6 * 7\nprint(v)"}) == "42"
    assert eager.tool.run("print(v + 1)") == "43"
    failed = eager.tool.invoke({"code": "[][1]"})
    assert "IndexError: list index out of range" in failed
    assert asyncio.run(eager.tool.ainvoke({"code": "print(v)"})) == "42"


def test_call_without_id_is_matched_by_its_code(eager: EagerPython) -> None:
    model = StreamingFake(responses=[call("print('streamed once')\n", "")])
    msg = asyncio.run(eager.chat_model(model).ainvoke([HumanMessage("x")]))
    code = msg.tool_calls[0]["args"]["code"]

    assert eager.tool.invoke({"code": code}) == "streamed once"
    assert len(eager.results) == 1  # not run a second time


def test_misspelt_option_is_named() -> None:
    with pytest.raises(UnknownOptionError, match="timeot"):
        EagerPython(timeot=3)


def test_missing_framework_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "eagerexec.integrations.langgraph")
    monkeypatch.setitem(sys.modules, "langchain_core", None)
    with pytest.raises(MissingExtraError, match=r"'langgraph' extra"):
        importlib.import_module("eagerexec.integrations.langgraph")
