"""``bench_frameworks.py`` for LangChain/LangGraph and smolagents: the same harness and report.

Usage::

    python bench/bench_frameworks_lc_smol.py [--frameworks langgraph,smolagents] [--tps 100]
        [--programs a,b | --limit N] [--json out.json]

Each bundled corpus program is streamed by the framework's scripted model at TPS cl100k tokens a
second, then a final answer; two arms per program, alternating, both on a warm eagerexec
``local`` session:

* langgraph: ``create_agent`` with a streaming ``BaseChatModel`` sending the program as a
  ``run_python`` tool call (``tool_call_chunks``). ``default``: a plain ``StructuredTool`` that
  runs the whole code when ``ToolNode`` calls it; ``eager``: ``EagerPython``'s middleware.
* smolagents: ``CodeAgent`` (``stream_outputs=True``) with a ``Model`` streaming the program in a
  ``<code>`` block. ``default``: the ``EagerExecutor`` alone, so the code runs after the answer
  is parsed, on the same interpreter (smolagents' own ``LocalPythonExecutor`` is another
  interpreter: not a like-for-like baseline); ``eager``: with ``executor.wrap_model``.

NEL: from the model's last token to the next model request (the tool result is back); E2EL: from
the request start to then; for failing programs, the tokens never generated.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Generator
from typing import Any

import bench_frameworks as harness  # the sibling script (its directory is on sys.path)

from eagerexec.bench._programs import Program
from eagerexec.integrations._common import TOOL_DESCRIPTION, TOOL_NAME, CodeToolSession, format_result
from eagerexec.sources import split_tokens


async def langgraph_once(program: Program, tps: float, eager: bool) -> dict[str, float]:
    from langchain.agents import create_agent
    from langchain_core.language_models import BaseChatModel
    from langchain_core.language_models.chat_models import agenerate_from_stream
    from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage
    from langchain_core.outputs import ChatGenerationChunk, ChatResult
    from langchain_core.tools import StructuredTool

    from eagerexec.integrations.langgraph import EagerPython

    tokens = split_tokens(json.dumps({"code": program.code}))
    clock = harness.Clock(total=len(tokens))

    class Scripted(BaseChatModel):
        @property
        def _llm_type(self) -> str:
            return "scripted"

        def bind_tools(self, tools: Any, **kwargs: Any) -> Scripted:
            return self

        def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
            raise NotImplementedError

        async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> ChatResult:
            return await agenerate_from_stream(self._astream(messages))  # generated at TPS, handed over whole

        async def _astream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> AsyncIterator[ChatGenerationChunk]:
            if any(isinstance(m, ToolMessage) for m in messages):
                clock.next_request = time.monotonic()
                yield ChatGenerationChunk(message=AIMessageChunk(content="done"))
                return
            for k, token in enumerate(tokens):
                await asyncio.sleep(1 / tps)
                clock.last_token = time.monotonic()
                clock.sent += 1
                head = {"name": TOOL_NAME, "id": "c1"} if k == 0 else {"name": None, "id": None}
                yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[{**head, "index": 0, "args": token}]))

    workdir = tempfile.mkdtemp(prefix="bench-fw-")
    if eager:
        with EagerPython(workdir=workdir, timeout=300) as tool_session:
            await tool_session.tool.arun("pass")  # warm, as the default arm's session
            agent: Any = create_agent(Scripted(), middleware=[tool_session.middleware()])
            clock.start = time.monotonic()
            await agent.ainvoke({"messages": [HumanMessage("go")]})
        return clock.row()
    async with CodeToolSession(workdir=workdir, timeout=300) as session:
        await session.run_code("pass")

        async def run_python(code: str) -> str:
            return format_result(await session.run_code(code))

        tool = StructuredTool.from_function(coroutine=run_python, name=TOOL_NAME, description=TOOL_DESCRIPTION)
        agent = create_agent(Scripted(), tools=[tool])
        clock.start = time.monotonic()
        await agent.ainvoke({"messages": [HumanMessage("go")]})
    return clock.row()


async def smolagents_once(program: Program, tps: float, eager: bool) -> dict[str, float]:
    from smolagents import CodeAgent
    from smolagents.models import ChatMessageStreamDelta, Model, TokenUsage

    from eagerexec.integrations.smolagents import EagerExecutor

    tokens = split_tokens(f"Thought: run it.\n<code>\n{program.code}\n</code>")
    clock = harness.Clock(total=len(tokens))

    class Scripted(Model):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(model_id="scripted")
            self.calls = 0

        def generate_stream(self, messages: Any, **kwargs: Any) -> Generator[ChatMessageStreamDelta, None, None]:
            self.calls += 1
            if self.calls > 1:
                clock.next_request = time.monotonic()
                yield ChatMessageStreamDelta(content="<code>\nfinal_answer('done')\n</code>")
                return
            for token in tokens:
                time.sleep(1 / tps)
                clock.last_token = time.monotonic()
                clock.sent += 1
                yield ChatMessageStreamDelta(content=token, token_usage=TokenUsage(input_tokens=0, output_tokens=1))

    workdir = tempfile.mkdtemp(prefix="bench-fw-")
    with EagerExecutor(workdir=workdir, timeout=300) as executor:
        executor("pass")  # warm
        model = executor.wrap_model(Scripted()) if eager else Scripted()
        agent = CodeAgent(tools=[], model=model, executor=executor, stream_outputs=True, verbosity_level=0, max_steps=3)
        clock.start = time.monotonic()
        await asyncio.to_thread(agent.run, "go")
    return clock.row()


harness.FRAMEWORKS.update({"langgraph": langgraph_once, "smolagents": smolagents_once})

if __name__ == "__main__":
    if not any(a.startswith("--frameworks") for a in sys.argv[1:]):
        sys.argv[1:1] = ["--frameworks", "langgraph,smolagents"]
    harness.main()
