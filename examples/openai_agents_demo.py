"""OpenAI Agents SDK + eagerexec, no key needed: the SDK's ScriptedModel streams the bundled demo
program as a ``run_python`` function call at 100 tokens/s; its statements run while it streams.

    pip install -e '.[openai-agents,data]' && python examples/openai_agents_demo.py
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from agents import Agent, ModelSettings, set_tracing_disabled
from agents.models.interface import ModelTracing
from agents.testing.model import ModelCall, ModelStep, ScriptedModel
from openai.types.responses import (
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from eagerexec.integrations.openai_agents import EagerPython
from eagerexec.sources import split_tokens

TPS = 100.0
PROGRAM = resources.files("eagerexec").joinpath("examples/demo.py").read_text(encoding="utf-8")
set_tracing_disabled(True)


async def sdk_events(output: list[Any]) -> list[Any]:
    """The SDK's own normalized Responses stream for ``output``."""
    model = ScriptedModel([ModelStep(output=output)])
    stream = model.stream_response(
        None, "", ModelSettings(), [], None, [], ModelTracing.DISABLED,
        previous_response_id=None, conversation_id=None, prompt=None,
    )
    return [event async for event in stream]


async def code_stream(call: ModelCall) -> AsyncIterator[Any]:
    """The demo program as a function call, its arguments one token every 1/TPS seconds."""
    item = ResponseFunctionToolCall(
        type="function_call", id="fc_demo", call_id="demo", name="run_python", arguments=json.dumps({"code": PROGRAM})
    )
    for event in await sdk_events([item]):
        if isinstance(event, ResponseFunctionCallArgumentsDeltaEvent):
            for token in split_tokens(event.delta):
                await asyncio.sleep(1 / TPS)
                yield event.model_copy(update={"delta": token})
        else:
            yield event


def answer(text: str) -> ResponseOutputMessage:
    content = [ResponseOutputText(type="output_text", text=text, annotations=[])]
    return ResponseOutputMessage(id="msg", type="message", role="assistant", status="completed", content=content)


async def main() -> None:
    model = ScriptedModel([ModelStep.stream(code_stream), [answer("Done: the analysis ran.")]])
    async with EagerPython(timeout=120) as eager:
        agent = Agent(name="analyst", model=model, tools=[eager.tool])
        start = time.monotonic()
        result = await eager.run(agent, "Analyse the coffee sales.")
        print(eager.session.results[-1].stdout[:600])
        print(result.final_output)
        metrics = eager.session.results[-1].metrics
        print(f"turn {time.monotonic() - start:.1f}s; tool result {metrics.nel:.2f}s after the last token")


if __name__ == "__main__":
    asyncio.run(main())
