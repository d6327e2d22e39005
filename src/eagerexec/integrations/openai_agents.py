"""OpenAI Agents SDK: ``EagerPython``, a code tool whose statements run while ``Runner.run_streamed``
streams the tool call, and whose first failing statement ends the model's response.

Strategy (the SDK's own pieces: ``Runner.run_streamed``, its raw stream events, ``FunctionTool``,
``RunResultStreaming.cancel``):

* ``EagerPython.tool`` is a ``FunctionTool`` (``run_python(code)``) whose ``on_invoke_tool``
  returns the result already computed for its ``tool_call_id`` (or runs the code then, when the
  call was not streamed, e.g. under ``Runner.run``).
* ``EagerPython.stream(agent, input)`` drives ``Runner.run_streamed`` and watches its
  ``RawResponsesStreamEvent``: ``response.output_item.added`` with a ``function_call`` item of the
  tool begins a ``ToolCall`` (named by the item's ``call_id``), and
  ``response.function_call_arguments.delta`` feeds the call found by ``output_index`` (on Chat
  Completions models ``item_id`` is a placeholder), ``response.output_item.done`` ends it.
* When a statement fails, ``result.cancel()`` stops the run at once (the model's stream is
  closed, the rest of the call is never generated). The SDK cannot resume a cancelled response,
  so the adapter continues the conversation itself: a new ``Runner.run_streamed`` on
  ``result.to_input_list()`` plus the cut call (with the code received) and its output (the
  error). Events of every segment are yielded; ``result`` is the final ``RunResultStreaming``.

With ``custom=True`` the tool is a ``CustomTool`` instead (its input is the raw code: no JSON
escaping), followed through ``response.custom_tool_call_input.delta``.
Needs the ``openai-agents`` extra; imported only with this module.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Self

from .._exceptions import require

require("agents", extra="openai-agents", feature="eagerexec.integrations.openai_agents")

from agents import Agent, CustomTool, FunctionTool, Runner  # noqa: E402
from agents.result import RunResultStreaming  # noqa: E402
from agents.stream_events import RawResponsesStreamEvent, StreamEvent  # noqa: E402
from agents.tool_context import ToolContext  # noqa: E402

from ._common import CODE_SCHEMA, TOOL_DESCRIPTION, TOOL_NAME, CodeToolSession, ToolCall, format_result  # noqa: E402

__all__ = ["EagerPython"]


class EagerPython:
    """Eager Python for the OpenAI Agents SDK (one interpreter session per ``async with``).

    Use: ``async with EagerPython() as eager: agent = Agent(..., tools=[eager.tool]);
    result = await eager.run(agent, "prompt")`` (or ``async for event in eager.stream(...)``).

    Args:
        backend: eagerexec backend (default ``sandbox``; ``local``, ``docker``, ``jupyter``).
        tool_name: the code tool's name (``run_python``).
        description: the tool's description for the model.
        stop_on_error: end the model's response at the first failing statement.
        max_segments: how many times a run may be cut and continued before giving up.
        custom: offer a ``CustomTool`` whose input is the code itself (Responses models that
            support custom tools) instead of a ``FunctionTool`` taking ``{"code": ...}``.
        **options: ``CodeToolSession`` options (``timeout=``, ``max_output=``, ``workdir=``...).
    """

    def __init__(
        self,
        backend: str = "sandbox",
        *,
        tool_name: str = TOOL_NAME,
        description: str = TOOL_DESCRIPTION,
        stop_on_error: bool = True,
        max_segments: int = 20,
        custom: bool = False,
        **options: Any,
    ) -> None:
        self.tool_name = tool_name
        self.custom = custom
        self.stop_on_error = stop_on_error
        self.max_segments = max_segments
        self.session = CodeToolSession(backend, **options)
        self.result: RunResultStreaming | None = None
        """The last ``RunResultStreaming`` (of the final segment)."""
        self.cuts = 0
        """How many times a response was ended early by a failing statement."""
        self.tool: FunctionTool | CustomTool
        if custom:
            self.tool = CustomTool(name=tool_name, description=description, on_invoke_tool=self._invoke_custom)
        else:
            self.tool = FunctionTool(
                name=tool_name,
                description=description,
                params_json_schema=dict(CODE_SCHEMA),
                on_invoke_tool=self._invoke,
                strict_json_schema=True,
            )

    async def __aenter__(self) -> Self:
        await self.session.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.aclose()

    async def _invoke(self, ctx: ToolContext[Any], arguments: str) -> str:
        # Annotated ToolContext on purpose: the SDK gives a wrapper annotated RunContextWrapper
        # only the base context, without ``tool_call_id``, and the streamed call could not be
        # found (the code would run a second time).
        call_id = getattr(ctx, "tool_call_id", None)
        try:
            code = str(json.loads(arguments or "{}").get("code", ""))
        except (ValueError, AttributeError):
            code = None
        if code is None and (call_id is None or self.session.get(call_id) is None):
            return "error: the arguments are not a JSON object with a 'code' string"
        return await self.session.output(call_id, code)

    async def _invoke_custom(self, ctx: Any, code: str) -> str:
        return await self.session.output(getattr(ctx, "tool_call_id", None), code)

    async def stream(self, agent: Agent[Any], input: str | list[Any], **runner_kwargs: Any) -> AsyncIterator[StreamEvent]:
        """Run ``agent`` streamed, executing the code tool's statements as they stream.

        Args:
            agent: the agent (its tools include ``self.tool``).
            input: the user's input (a string or input items).
            **runner_kwargs: passed to ``Runner.run_streamed`` (``max_turns``, ``context``...).

        Yields:
            The SDK's stream events, of every segment of the run.
        """
        items: str | list[Any] = input
        for _ in range(self.max_segments):
            result = Runner.run_streamed(agent, items, **runner_kwargs)
            self.result = result
            calls: dict[int, ToolCall] = {}
            failed: ToolCall | None = None
            async for event in result.stream_events():
                yield event
                if isinstance(event, RawResponsesStreamEvent):
                    self._follow(event.data, calls)
                if failed is None and self.stop_on_error:
                    failed = next((c for c in calls.values() if c.failed.is_set()), None)
                    if failed is not None:
                        result.cancel()  # the model's stream is closed now
            if failed is None:
                return
            self.session.end_all()
            self.cuts += 1
            # the call's own result: the SDK may already have invoked the tool for it (and taken
            # delivery) before the cancellation reached the stream
            failed.end()
            output = format_result(await failed.wait())
            if self.custom:
                cut: list[dict[str, Any]] = [
                    {"type": "custom_tool_call", "call_id": failed.call_id, "name": self.tool_name, "input": failed.code_so_far},
                    {"type": "custom_tool_call_output", "call_id": failed.call_id, "output": output},
                ]
            else:
                cut = [
                    {
                        "type": "function_call",
                        "call_id": failed.call_id,
                        "name": self.tool_name,
                        "arguments": json.dumps({"code": failed.code_so_far}),
                    },
                    {"type": "function_call_output", "call_id": failed.call_id, "output": output},
                ]
            items = [*result.to_input_list(), *cut]
        raise RuntimeError(f"the run was cut {self.max_segments} times by failing statements; giving up")

    async def run(self, agent: Agent[Any], input: str | list[Any], **runner_kwargs: Any) -> RunResultStreaming:
        """Run ``agent`` to its end (see ``stream``) and return the final ``RunResultStreaming``."""
        async for _ in self.stream(agent, input, **runner_kwargs):
            pass
        assert self.result is not None
        return self.result

    def _follow(self, data: Any, calls: dict[int, ToolCall]) -> None:
        kind = getattr(data, "type", "")
        call: ToolCall | None
        if kind == "response.output_item.added":
            item = data.item
            item_type = getattr(item, "type", "")
            if item_type == "function_call" and item.name == self.tool_name and not self.custom:
                call = self.session.begin(item.call_id)
                calls[data.output_index] = call
                if item.arguments:
                    call.feed(item.arguments)
            elif item_type == "custom_tool_call" and item.name == self.tool_name and self.custom:
                call = self.session.begin(item.call_id, raw=True)
                calls[data.output_index] = call
                if item.input:
                    call.feed(item.input)
        elif kind in ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta"):
            call = calls.get(data.output_index)
            if call is not None:
                call.feed(data.delta)
        elif kind == "response.output_item.done":
            call = calls.get(data.output_index)
            if call is not None:
                call.end()
