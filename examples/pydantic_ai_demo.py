"""pydantic-ai + eagerexec, no key needed: a scripted model streams the bundled demo program as a
``run_python`` tool call at 100 tokens/s; its statements run while it streams.

    pip install -e '.[pydantic-ai,data]' && python examples/pydantic_ai_demo.py
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from importlib import resources

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from eagerexec.integrations.pydantic_ai import EagerPython
from eagerexec.sources import split_tokens

TPS = 100.0
PROGRAM = resources.files("eagerexec").joinpath("examples/demo.py").read_text(encoding="utf-8")
last_token = 0.0


async def model(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
    """The bundled demo as a tool call (first turn), then a short answer from its output."""
    global last_token
    returns = [p for m in messages for p in m.parts if isinstance(p, ToolReturnPart)]
    if returns:
        yield f"Done. The program printed {len(str(returns[-1].content).splitlines())} lines."
        return
    for k, token in enumerate(split_tokens(json.dumps({"code": PROGRAM}))):
        await asyncio.sleep(1 / TPS)
        yield {0: DeltaToolCall(name="run_python" if k == 0 else None, json_args=token, tool_call_id="demo")}
    last_token = time.monotonic()


async def main() -> None:
    agent = Agent(FunctionModel(stream_function=model), capabilities=[EagerPython(timeout=120)])
    start = time.monotonic()
    result = await agent.run("Analyse the coffee sales.")
    done = time.monotonic()
    for message in result.all_messages():
        for part in message.parts:
            if isinstance(part, ToolReturnPart):
                print(str(part.content)[:600])
    print(result.output)
    print(f"turn {done - start:.1f}s; the model finished writing the code {last_token - start:.1f}s in")


if __name__ == "__main__":
    asyncio.run(main())
