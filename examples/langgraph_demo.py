"""LangChain / LangGraph + eagerexec, no key needed: a scripted chat model streams the bundled
demo program as a ``run_python`` tool call (``tool_call_chunks``) at 100 tokens/s into a
``create_agent`` agent; its statements run while it streams.

    pip install -e '.[langgraph,data]' && python examples/langgraph_demo.py
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult

from eagerexec.integrations.langgraph import EagerPython
from eagerexec.sources import split_tokens

TPS = 100.0
PROGRAM = resources.files("eagerexec").joinpath("examples/demo.py").read_text(encoding="utf-8")
last_token = 0.0


class ScriptedModel(BaseChatModel):
    """The bundled demo as a tool call (first turn), then a short answer from its output."""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any) -> ChatResult:
        raise NotImplementedError("this demo model only streams")

    async def _astream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        global last_token
        results = [m for m in messages if isinstance(m, ToolMessage)]
        if results:
            lines = len(str(results[-1].content).splitlines())
            yield ChatGenerationChunk(message=AIMessageChunk(content=f"Done. The program printed {lines} lines."))
            return
        for k, token in enumerate(split_tokens(json.dumps({"code": PROGRAM}))):
            await asyncio.sleep(1 / TPS)
            first = {"name": "run_python", "id": "demo"} if k == 0 else {"name": None, "id": None}
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[{**first, "index": 0, "args": token}]))
        last_token = time.monotonic()


async def main() -> None:
    with EagerPython(timeout=120) as eager:
        agent = create_agent(ScriptedModel(), middleware=[eager.middleware()])
        start = time.monotonic()
        result = await agent.ainvoke({"messages": [HumanMessage("Analyse the coffee sales.")]})
        done = time.monotonic()
    for message in result["messages"]:
        if isinstance(message, ToolMessage):
            print(str(message.content)[:600])
    print(result["messages"][-1].content)
    print(f"turn {done - start:.1f}s; the model finished writing the code {last_token - start:.1f}s in")


if __name__ == "__main__":
    asyncio.run(main())
