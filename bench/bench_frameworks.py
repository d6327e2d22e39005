"""Eager execution inside agent frameworks: our adapter against the framework's default tool path.

Usage::

    python bench/bench_frameworks.py [--frameworks pydantic-ai,openai-agents] [--tps 100]
        [--programs a,b | --limit N] [--json out.json]

Each bundled corpus program is streamed as a ``run_python`` tool call (its JSON arguments, one
cl100k token every 1/TPS s on a fixed schedule, as a server generates whatever the client does) by the framework's own scripted model (pydantic-ai's
``FunctionModel``; the Agents SDK's ``ScriptedModel`` with exact Responses events), followed by
a final text answer. Two arms per program, alternating, on the same machine in the same run,
both on a warm eagerexec ``local`` session:

* ``default``: the framework's usual path: a plain function tool that runs the whole code when
  the framework calls it, after the response has finished streaming;
* ``eager``: ``eagerexec.integrations.<framework>.EagerPython`` (statements run while the call
  streams; the response is ended at the first failing statement).

Measured per program: NEL, from the last token the model generated to the moment the framework
sends the tool result back to the model (the start of the next model request); E2EL, from the
request start to that moment; for the failing programs, the argument tokens never generated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from eagerexec.bench._corpus import load_corpus
from eagerexec.bench._programs import Program
from eagerexec.integrations._common import CODE_SCHEMA, TOOL_NAME, CodeToolSession, format_result
from eagerexec.sources import split_tokens


@dataclass
class Clock:
    """What the scripted model saw: when it started, its last token, the next request."""

    start: float = 0.0
    last_token: float = 0.0
    next_request: float = 0.0
    sent: int = 0
    total: int = 0

    def row(self) -> dict[str, float]:
        return {
            "nel": self.next_request - self.last_token,
            "e2el": self.next_request - self.start,
            "tokens_sent": self.sent,
            "tokens_total": self.total,
            "tokens_saved": self.total - self.sent,
        }


# -- pydantic-ai ------------------------------------------------------------------------------
def scripted_tool_call(program: Program, tps: float, tool_name: str = TOOL_NAME) -> tuple[Clock, Any]:
    """A pydantic-ai ``FunctionModel`` stream function that streams ``program`` as one tool call
    (one cl100k token of its JSON arguments every 1/``tps`` s on a fixed schedule), then answers
    ``done``; and the ``Clock`` it keeps."""
    from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls

    tokens = split_tokens(json.dumps({"code": program.code}))
    clock = Clock(total=len(tokens))

    async def model(messages: list[Any], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
        if len(messages) > 1:
            clock.next_request = time.monotonic()
            yield "done"
            return
        t0 = time.monotonic()
        for k, token in enumerate(tokens):
            await asyncio.sleep(max(0.0, t0 + (k + 1) / tps - time.monotonic()))  # a fixed schedule
            clock.last_token = time.monotonic()
            clock.sent += 1
            yield {0: DeltaToolCall(name=tool_name if k == 0 else None, json_args=token, tool_call_id="c1")}

    return clock, model


async def pydantic_ai_once(program: Program, tps: float, eager: bool) -> dict[str, float]:
    from pydantic_ai import Agent
    from pydantic_ai.models.function import FunctionModel
    from pydantic_ai.toolsets import FunctionToolset

    from eagerexec.integrations.pydantic_ai import EagerPython

    clock, model = scripted_tool_call(program, tps)

    workdir = tempfile.mkdtemp(prefix="bench-fw-")
    if eager:
        agent: Any = Agent(FunctionModel(stream_function=model), capabilities=[EagerPython(workdir=workdir, timeout=300)])
        clock.start = time.monotonic()
        await agent.run("go")
        return clock.row()
    async with CodeToolSession(workdir=workdir, timeout=300) as session:
        await session.run_code("pass")  # warm, as the eager arm's session is by the time code arrives
        toolset = FunctionToolset[Any]()

        async def run_python(code: str) -> str:
            return format_result(await session.run_code(code))

        toolset.add_function(run_python, name=TOOL_NAME, takes_ctx=False)
        agent = Agent(FunctionModel(stream_function=model), toolsets=[toolset])

        async def drain(ctx: Any, events: Any) -> None:
            async for _ in events:
                pass

        clock.start = time.monotonic()
        await agent.run("go", event_stream_handler=drain)
    return clock.row()


# -- OpenAI Agents SDK ------------------------------------------------------------------------
async def openai_agents_once(program: Program, tps: float, eager: bool) -> dict[str, float]:
    from agents import Agent, FunctionTool, ModelSettings, Runner, set_tracing_disabled
    from agents.models.interface import ModelTracing
    from agents.testing.model import ModelCall, ModelStep, ScriptedModel
    from openai.types.responses import (
        ResponseFunctionCallArgumentsDeltaEvent,
        ResponseFunctionToolCall,
        ResponseOutputMessage,
        ResponseOutputText,
    )

    from eagerexec.integrations.openai_agents import EagerPython

    set_tracing_disabled(True)
    args = json.dumps({"code": program.code})
    tokens = split_tokens(args)
    clock = Clock(total=len(tokens))
    item = ResponseFunctionToolCall(type="function_call", id="fc1", call_id="c1", name=TOOL_NAME, arguments=args)
    shaper = ScriptedModel([ModelStep(output=[item])])
    base = [
        e
        async for e in shaper.stream_response(
            None, "", ModelSettings(), [], None, [], ModelTracing.DISABLED,
            previous_response_id=None, conversation_id=None, prompt=None,
        )
    ]

    async def code_stream(call: ModelCall) -> AsyncIterator[Any]:
        for event in base:
            if isinstance(event, ResponseFunctionCallArgumentsDeltaEvent):
                t0 = time.monotonic()
                for k, token in enumerate(tokens):
                    await asyncio.sleep(max(0.0, t0 + (k + 1) / tps - time.monotonic()))
                    clock.last_token = time.monotonic()
                    clock.sent += 1
                    yield event.model_copy(update={"delta": token})
            else:
                yield event

    def answer(call: ModelCall) -> list[Any]:
        clock.next_request = time.monotonic()
        text = ResponseOutputText(type="output_text", text="done", annotations=[])
        return [ResponseOutputMessage(id="m", type="message", role="assistant", status="completed", content=[text])]

    model = ScriptedModel([ModelStep.stream(code_stream), ModelStep.respond(answer)])
    workdir = tempfile.mkdtemp(prefix="bench-fw-")
    if eager:
        async with EagerPython(workdir=workdir, timeout=300) as eager_tool:
            await eager_tool.session.run_code("pass")
            agent = Agent(name="a", model=model, tools=[eager_tool.tool])
            clock.start = time.monotonic()
            await eager_tool.run(agent, "go")
        return clock.row()
    async with CodeToolSession(workdir=workdir, timeout=300) as session:
        await session.run_code("pass")

        async def invoke(ctx: Any, arguments: str) -> str:
            return format_result(await session.run_code(json.loads(arguments)["code"]))

        tool = FunctionTool(name=TOOL_NAME, description="Run Python.", params_json_schema=dict(CODE_SCHEMA), on_invoke_tool=invoke)
        agent = Agent(name="a", model=model, tools=[tool])
        clock.start = time.monotonic()
        result = Runner.run_streamed(agent, "go")
        async for _ in result.stream_events():
            pass
    return clock.row()


FRAMEWORKS: dict[str, Callable[[Program, float, bool], Awaitable[dict[str, float]]]] = {
    "pydantic-ai": pydantic_ai_once,
    "openai-agents": openai_agents_once,
}


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows) if rows else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frameworks", default="pydantic-ai,openai-agents")
    parser.add_argument("--tps", type=float, default=100.0)
    parser.add_argument("--programs", default="", help="comma-separated program names (default: all)")
    parser.add_argument("--limit", type=int, default=0, help="the first N programs of each kind (ok, failing)")
    parser.add_argument("--json", default=None)
    opts = parser.parse_args()
    programs = load_corpus("bundled")
    if opts.programs:
        wanted = set(opts.programs.split(","))
        programs = [p for p in programs if p.name in wanted]
    elif opts.limit:
        ok = [p for p in programs if p.expect == "ok"][: opts.limit]
        bad = [p for p in programs if p.expect.startswith("error")][: opts.limit]
        programs = ok + bad
    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    out: dict[str, Any] = {"tps": opts.tps, "frameworks": {}}
    for name in opts.frameworks.split(","):
        once = FRAMEWORKS[name]
        rows: list[dict[str, Any]] = []
        for program in programs:
            for arm in ("default", "eager"):
                row = asyncio.run(once(program, opts.tps, arm == "eager"))
                row.update(program=program.name, arm=arm, failing=program.expect.startswith("error"))
                rows.append(row)
                print(
                    f"{name:14} {program.name:28} {arm:7} NEL {row['nel']:7.3f}s  E2EL {row['e2el']:7.2f}s  "
                    f"tokens {row['tokens_sent']}/{row['tokens_total']}",
                    flush=True,
                )
        out["frameworks"][name] = rows
        print(f"\n{name}: medians over {len(programs)} programs")
        for kind, pick in (("all", lambda r: True), ("ok", lambda r: not r["failing"]), ("failing", lambda r: r["failing"])):
            d = [r for r in rows if r["arm"] == "default" and pick(r)]
            e = [r for r in rows if r["arm"] == "eager" and pick(r)]
            if not d:
                continue
            saved = sum(r["tokens_saved"] for r in e)
            total = sum(r["tokens_total"] for r in e)
            print(
                f"  {kind:8} NEL default {_median(d, 'nel'):.3f}s eager {_median(e, 'nel'):.3f}s | "
                f"E2EL default {_median(d, 'e2el'):.2f}s eager {_median(e, 'e2el'):.2f}s "
                f"(x{_median(d, 'e2el') / _median(e, 'e2el'):.2f}) | tokens not generated {saved}/{total}"
            )
    if opts.json:
        with open(opts.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
