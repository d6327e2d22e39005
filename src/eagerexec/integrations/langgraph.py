"""Eager execution in LangChain and LangGraph agents (extra ``langgraph``).

Strategy: LangChain chat models stream ``AIMessageChunk``s whose ``tool_call_chunks`` carry a
tool call's ``name``, ``id`` and ``index`` once and then its JSON ``args`` piece by piece; the
agent runs the tool only after the whole message (LangGraph's ``ToolNode``). ``EagerPython`` owns
one eagerexec session for an agent (a ``CodeToolSession`` in a loop thread of its own, so sync
``invoke`` and async ``ainvoke`` both work) and hands out three pieces:

* ``chat_model(model)``: an ``EagerChatModel`` wrapping any chat model (or its ``bind_tools``
  binding). It streams the inner model (also under ``invoke``), routes the code tool's argument
  pieces by ``index`` into a running eagerexec run (decoded exactly by ``JsonStringExtractor``)
  and passes every chunk on unchanged. The moment a statement fails it stops reading and closes
  the inner stream (the provider stops generating): the message ends there, its truncated
  arguments are parsed by LangChain as partial JSON, and the tool call still reaches the tool.
  The stop lands at the next chunk the provider sends after the error (one token later).
* ``tool``: a ``BaseTool`` named ``run_python`` (``code: str``) usable wherever
  ``PythonREPLTool`` is: invoked with a tool call (``ToolNode``) it returns the result already
  computed for that call id; invoked on its own (``tool.run("print(1)")``) it runs the code.
* ``middleware()``: a ``create_agent`` middleware (needs ``langchain``) that registers the tool
  and wraps the agent's model in ``wrap_model_call``/``awrap_model_call``.

Errors reach the model as the tool's result (``format_result``: output, then the error with its
failing line and a short traceback). Variables persist across tool calls and turns.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Self

from .._exceptions import StreamInterruptedError, require

require("langchain_core", extra="langgraph", feature="eagerexec.integrations.langgraph")

from langchain_core.callbacks import (  # noqa: E402
    AsyncCallbackManagerForLLMRun,
    AsyncCallbackManagerForToolRun,
    CallbackManagerForLLMRun,
    CallbackManagerForToolRun,
)
from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.language_models.chat_models import agenerate_from_stream, generate_from_stream  # noqa: E402
from langchain_core.messages import AIMessageChunk, BaseMessage  # noqa: E402
from langchain_core.outputs import ChatGenerationChunk, ChatResult  # noqa: E402
from langchain_core.runnables import RunnableConfig  # noqa: E402
from langchain_core.tools import BaseTool  # noqa: E402
from langchain_core.tools.base import ArgsSchema  # noqa: E402
from pydantic import BaseModel, ConfigDict, Field  # noqa: E402

from ..backends import Backend  # noqa: E402
from ..pipeline import Result  # noqa: E402
from ..sources import JsonStringExtractor  # noqa: E402
from ._common import NOT_RUN, TOOL_DESCRIPTION, TOOL_NAME, ToolCall, format_result  # noqa: E402
from ._loopthread import ThreadedCodeTool  # noqa: E402

__all__ = ["EagerChatModel", "EagerPython", "EagerPythonTool"]

_CALL_ID: ContextVar[str | None] = ContextVar("eagerexec_tool_call_id", default=None)
# The inner model runs without callbacks of its own: the wrapper is the traced, streamed run
# (LangGraph's "messages" stream would otherwise show every token twice).
_INNER_CONFIG: RunnableConfig = {"callbacks": []}


class EagerPython:
    """One eagerexec session for a LangChain / LangGraph agent: its code tool and model wrapper.

    Use as a context manager (or call ``close()``): the interpreter lives until then, so state
    persists across tool calls, turns and agent invocations.

    Args:
        backend: ``sandbox`` (the default: bubblewrap, no network), ``local``, ``docker``, ``jupyter`` or a
            ``Backend`` instance.
        name: the tool's name (``run_python``).
        description: the tool's description for the model.
        **options: ``CodeToolSession`` options (``timeout=``, ``max_output=``, ``workdir=``...).

    Raises:
        UnknownOptionError: an option the session does not take.
    """

    def __init__(
        self,
        backend: str | Backend = "sandbox",
        *,
        name: str = TOOL_NAME,
        description: str = TOOL_DESCRIPTION,
        **options: Any,
    ) -> None:
        self.name = name
        self.core = ThreadedCodeTool(backend, **options)
        self.tool = EagerPythonTool(name=name, description=description, eager=self)
        """The code tool (a ``BaseTool``): give it to ``ToolNode`` or ``create_agent``."""
        self._streamed: dict[str, str] = {}  # call id -> code of a streamed call not yet invoked

    @property
    def results(self) -> list[Result]:
        """Every finished run of this session, in order."""
        return list(self.core.tools.results)

    def chat_model(self, model: Any) -> EagerChatModel:
        """Wrap a chat model so that the code tool's calls run while they stream.

        Args:
            model: a LangChain chat model, or the result of its ``bind_tools``.

        Returns:
            The wrapping chat model (``bind_tools`` binds the inner model).
        """
        if isinstance(model, EagerChatModel):
            return model
        return EagerChatModel(inner=model, eager=self)

    def middleware(self) -> Any:
        """A ``create_agent`` middleware: registers ``tool`` and wraps the agent's model.

        Returns:
            An ``AgentMiddleware`` instance.

        Raises:
            MissingExtraError: ``langchain`` (its ``create_agent``) is not installed.
        """
        return _middleware_class()(self)

    def close(self) -> None:
        """Close the session: the interpreter is stopped and reaped (idempotent)."""
        self.core.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- used by the tool and the model wrapper --------------------------------------------
    def _begin(self, call_id: str | None) -> ToolCall:
        call = self.core.begin(call_id)
        self._streamed[call.call_id] = ""
        return call

    def _resolve(self, call_id: str | None, code: str) -> str | None:
        """The streamed call this invocation is for: by id, else the first unclaimed call
        whose code is ``code`` (providers that give no id); None: not streamed."""
        if call_id is not None and self._streamed.pop(call_id, None) is not None:
            return call_id
        for cid, streamed in list(self._streamed.items()):
            if streamed.strip() == code.strip():
                self._streamed.pop(cid, None)
                return cid
        return call_id

    def _result(self, call_id: str | None, code: str) -> str:
        call_id = self._resolve(call_id, code)
        return self._text(call_id, self.core.result(call_id, code))

    async def _aresult(self, call_id: str | None, code: str) -> str:
        call_id = self._resolve(call_id, code)
        return self._text(call_id, await self.core.aresult(call_id, code))

    def _text(self, call_id: str | None, result: Result) -> str:
        # read once the run is over: a call is marked skipped when an earlier one fails
        call = self.core.tools.get(call_id) if call_id is not None else None
        return NOT_RUN if call is not None and call.skipped else format_result(result)


class _Tap:
    """One model response: routes the code tool's argument chunks (by index) to their calls."""

    def __init__(self, eager: EagerPython) -> None:
        self._eager = eager
        self._calls: dict[Any, ToolCall | None] = {}
        self._code: dict[Any, JsonStringExtractor] = {}  # the code decoded here too (no-id matching)
        self._last: Any = None

    def feed(self, chunk: BaseMessage) -> None:
        if not isinstance(chunk, AIMessageChunk):
            return
        for piece in chunk.tool_call_chunks:
            index, call_id, name = piece.get("index"), piece.get("id"), piece.get("name")
            key = index if index is not None else (call_id or self._last)
            if key not in self._calls:
                if not name:
                    continue  # arguments of a call whose start we never saw
                self._calls[key] = self._eager._begin(call_id) if name == self._eager.name else None
            self._last = key
            call = self._calls[key]
            args = piece.get("args")
            if call is not None and args:
                self._eager.core.feed(call, args)
                self._decode(key, call, args)

    @property
    def failed(self) -> bool:
        return any(call is not None and call.error is not None for call in self._calls.values())

    def _decode(self, key: Any, call: ToolCall, args: str) -> None:
        extractor = self._code.setdefault(key, JsonStringExtractor("code"))
        try:
            code = extractor.feed(args)
        except StreamInterruptedError:
            return  # not JSON: the run reports it; nothing to match by
        if code and call.call_id in self._eager._streamed:
            self._eager._streamed[call.call_id] += code

    def end(self) -> None:
        for call in self._calls.values():
            if call is not None:
                self._eager.core.end(call)


class EagerChatModel(BaseChatModel):
    """A chat model that runs the code tool's calls while the inner model streams them.

    Made by ``EagerPython.chat_model``; ``bind_tools`` binds the inner model and wraps the
    binding. Every chunk of the inner model passes through unchanged; after a statement fails,
    the inner stream is closed and the response ends.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: Any
    """The wrapped chat model (or a binding of it)."""
    eager: Any = Field(exclude=True)
    """The ``EagerPython`` whose session runs the code."""

    @property
    def _llm_type(self) -> str:
        return "eagerexec"

    def bind_tools(  # type: ignore[override]
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> EagerChatModel:
        """Bind tools to the inner model; the result is wrapped again."""
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return EagerChatModel(inner=self.inner.bind_tools(tools, **kwargs), eager=self.eager)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        tap = _Tap(self.eager)
        stream = self.inner.stream(messages, _INNER_CONFIG, stop=stop, **kwargs)
        try:
            for chunk in stream:
                tap.feed(chunk)
                yield ChatGenerationChunk(message=chunk)
                if tap.failed:
                    break
        finally:
            stream.close()
            tap.end()

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        tap = _Tap(self.eager)
        stream = self.inner.astream(messages, _INNER_CONFIG, stop=stop, **kwargs)
        try:
            async for chunk in stream:
                tap.feed(chunk)
                yield ChatGenerationChunk(message=chunk)
                if tap.failed:
                    break
        finally:
            await stream.aclose()
            tap.end()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return await agenerate_from_stream(self._astream(messages, stop, run_manager, **kwargs))


class _CodeArgs(BaseModel):
    code: str = Field(description="The Python code to run.")


def _call_id_of(tool_input: Any) -> str | None:
    if isinstance(tool_input, dict) and tool_input.get("type") == "tool_call":
        call_id = tool_input.get("id")
        return call_id if isinstance(call_id, str) else None
    return None


class EagerPythonTool(BaseTool):
    """The code tool: the result computed while its call streamed, or the code run now."""

    name: str = TOOL_NAME
    description: str = TOOL_DESCRIPTION
    args_schema: ArgsSchema | None = _CodeArgs
    eager: Any = Field(exclude=True)
    """The ``EagerPython`` whose session runs the code."""

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        token = _CALL_ID.set(_call_id_of(input))
        try:
            return super().invoke(input, config, **kwargs)
        finally:
            _CALL_ID.reset(token)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        token = _CALL_ID.set(_call_id_of(input))
        try:
            return await super().ainvoke(input, config, **kwargs)
        finally:
            _CALL_ID.reset(token)

    def _run(self, code: str, run_manager: CallbackManagerForToolRun | None = None) -> str:
        eager: EagerPython = self.eager
        return eager._result(_CALL_ID.get(), code)

    async def _arun(self, code: str, run_manager: AsyncCallbackManagerForToolRun | None = None) -> str:
        eager: EagerPython = self.eager
        return await eager._aresult(_CALL_ID.get(), code)


@functools.cache
def _middleware_class() -> Callable[[EagerPython], Any]:
    require("langchain.agents", extra="langgraph", feature="EagerPython.middleware() (create_agent)")
    from langchain.agents.middleware import AgentMiddleware  # optional: only the middleware needs langchain

    class EagerExecMiddleware(AgentMiddleware):  # type: ignore[type-arg]
        """Registers the code tool and wraps the agent's model (see ``EagerPython``)."""

        def __init__(self, eager: EagerPython) -> None:
            super().__init__()
            self.eager = eager
            self.tools = [eager.tool]

        def wrap_model_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
            return handler(request.override(model=self.eager.chat_model(request.model)))

        async def awrap_model_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
            return await handler(request.override(model=self.eager.chat_model(request.model)))

    return EagerExecMiddleware
