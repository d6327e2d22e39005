"""pydantic-ai: ``EagerPython``, a capability that runs the code tool's statements while the model
streams the tool call, and stops the model's response at the first failing statement.

Strategy (pydantic-ai's own extension points, ``pydantic_ai.capabilities.AbstractCapability``):

* ``for_run`` gives every agent run its own instance, and ``wrap_run`` opens one
  ``CodeToolSession`` around the run: variables, imports and files persist across the run's tool
  calls and are gone after it.
* ``wrap_run_event_stream`` follows the model's events: a ``PartStartEvent`` whose part is a call
  of the code tool begins a ``ToolCall`` (keyed by the part index, named by its
  ``tool_call_id``), each ``PartDeltaEvent`` with a ``ToolCallPartDelta.args_delta`` feeds it
  (JSON decoded exactly as it streams), ``PartEndEvent`` ends it. When a statement fails, the
  wrapper stops pulling events and returns: pydantic-ai then closes the model's stream (its
  ``aclose`` chain reaches the provider's HTTP response), so the model stops generating at the
  next event after the failure.
* ``after_model_request`` repairs the response a stop cut short: the truncated JSON arguments of
  the call become ``{"code": <the code received>}`` so pydantic-ai validates them and calls the
  tool; calls after a failed one get ``{"code": ""}`` and are answered "not run".
* ``get_toolset`` is a ``FunctionToolset`` with the one tool (``run_python(code)`` by default); its
  function returns the result already computed for that ``tool_call_id`` (or runs the code now
  when the call was not streamed, e.g. ``agent.run`` on a model without streaming).

The tool returns a string (the output, then the error with its failing line and a short
traceback): pydantic-ai hands it to the model as the tool result.
Needs the ``pydantic-ai`` extra (``pydantic-ai-slim``); imported only with this module.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import replace
from typing import Any

from .._exceptions import require

require("pydantic_ai", extra="pydantic-ai", feature="eagerexec.integrations.pydantic_ai")

from pydantic_ai import RunContext  # noqa: E402
from pydantic_ai.capabilities import AbstractCapability  # noqa: E402
from pydantic_ai.messages import (  # noqa: E402
    AgentStreamEvent,
    ModelResponse,
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    ToolCallPart,
    ToolCallPartDelta,
)
from pydantic_ai.toolsets import FunctionToolset  # noqa: E402

from ._common import NOT_RUN, TOOL_DESCRIPTION, TOOL_NAME, CodeToolSession, ToolCall, format_result  # noqa: E402

__all__ = ["EagerPython"]


class EagerPython(AbstractCapability[Any]):
    """Eager Python execution as a pydantic-ai capability: ``Agent(model, capabilities=[EagerPython()])``.

    Args:
        backend: eagerexec backend (default ``sandbox``; ``local``, ``docker``, ``jupyter``).
        tool_name: the code tool's name (``run_python``).
        description: the tool's description for the model.
        stop_on_error: end the model's response at the first failing statement.
        **options: ``CodeToolSession`` options (``timeout=``, ``max_output=``, ``workdir=``...).
    """

    def __init__(
        self,
        backend: str = "sandbox",
        *,
        tool_name: str = TOOL_NAME,
        description: str = TOOL_DESCRIPTION,
        stop_on_error: bool = True,
        **options: Any,
    ) -> None:
        self.backend = backend
        self.tool_name = tool_name
        self.tool_description = description
        self.stop_on_error = stop_on_error
        self.options = options
        self.session: CodeToolSession | None = None
        """The run's session (set inside ``wrap_run``)."""
        self._parts: dict[int, ToolCall] = {}
        self._cut: dict[str, ToolCall] = {}  # calls whose response the stop cut short
        self._not_run: set[str | None] = set()  # calls after a failed one in the same response
        self._toolset = FunctionToolset[Any]()
        self._toolset.add_function(self._run_python, name=tool_name, description=description, takes_ctx=True)

    async def for_run(self, ctx: RunContext[Any]) -> EagerPython:
        """A fresh instance per agent run (its own session)."""
        return EagerPython(
            self.backend,
            tool_name=self.tool_name,
            description=self.tool_description,
            stop_on_error=self.stop_on_error,
            **self.options,
        )

    def get_toolset(self) -> FunctionToolset[Any]:
        """The toolset with the code tool."""
        return self._toolset

    async def wrap_run(self, ctx: RunContext[Any], *, handler: Any) -> Any:
        """Hold one eagerexec session for the whole run."""
        async with CodeToolSession(self.backend, **self.options) as session:
            self.session = session
            try:
                return await handler()
            finally:
                self.session = None

    async def wrap_run_event_stream(
        self, ctx: RunContext[Any], *, stream: AsyncIterable[AgentStreamEvent]
    ) -> AsyncIterator[AgentStreamEvent]:
        """Feed the code tool's argument deltas to eagerexec; stop the stream on a failure."""
        session = self.session
        async for event in stream:
            yield event
            if session is None:
                continue
            self._follow(session, event)
            failed = next((c for c in self._parts.values() if c.failed.is_set()), None)
            if failed is not None and self.stop_on_error:
                self._cut[failed.call_id] = failed
                session.end_all()
                return  # pydantic-ai closes the model's stream

    def _follow(self, session: CodeToolSession, event: AgentStreamEvent) -> ToolCall | None:
        call: ToolCall | None
        if isinstance(event, PartStartEvent):
            part = event.part
            if isinstance(part, ToolCallPart) and part.tool_name == self.tool_name:
                call = session.begin(part.tool_call_id)
                self._parts[event.index] = call
                if isinstance(part.args, str):
                    call.feed(part.args)
                elif isinstance(part.args, dict):
                    call.feed(json.dumps(part.args))
                    call.end()
                return call
        elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, ToolCallPartDelta):
            call = self._parts.get(event.index)
            delta = event.delta.args_delta
            if call is not None and isinstance(delta, str):
                call.feed(delta)
            return call
        elif isinstance(event, PartEndEvent):
            call = self._parts.get(event.index)
            if call is not None:
                call.end()
            return call
        return None

    async def after_model_request(
        self, ctx: RunContext[Any], *, request_context: Any, response: ModelResponse
    ) -> ModelResponse:
        """Give a response cut short by a failure valid arguments for its code tool calls."""
        self._parts.clear()
        if not self._cut:
            return response
        parts: list[Any] = []
        after_failure = False
        for part in response.parts:
            if isinstance(part, ToolCallPart) and part.tool_name == self.tool_name:
                call = self._cut.get(part.tool_call_id)
                if call is not None:
                    part = replace(part, args=json.dumps({"code": call.code_so_far}))
                    after_failure = True
                elif after_failure:
                    part = replace(part, args=json.dumps({"code": ""}))
                    self._not_run.add(part.tool_call_id)
            parts.append(part)
        return replace(response, parts=parts)

    async def _run_python(self, ctx: RunContext[Any], code: str) -> str:
        """Run Python code in a persistent interpreter and return its output (or its error)."""
        session = self.session
        if session is None:  # a tool call outside wrap_run: run it on a session of its own
            async with CodeToolSession(self.backend, **self.options) as own:
                return format_result(await own.run_code(code))
        if ctx.tool_call_id in self._not_run:
            return NOT_RUN
        return await session.output(ctx.tool_call_id, code)

