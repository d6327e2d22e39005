"""Eager execution in smolagents' ``CodeAgent`` (extra ``smolagents``).

Strategy: a ``CodeAgent`` asks its model for a message, extracts the code (``<code>`` tags, or
markdown fences as its fallback) with ``parse_code_blobs`` once the message is complete, and only
then hands it to its ``PythonExecutor``. Two pieces change that, sharing one eagerexec session:

* ``EagerExecutor`` (a ``PythonExecutor``, pass it as ``executor=``): the session (any backend;
  ``sandbox`` for untrusted code) in a loop thread of its own. ``send_tools`` defines the agent's
  tools in the interpreter (as smolagents' remote executors do, from their source) and a
  ``final_answer`` that raises ``FinalAnswerException`` (the program ends there, as in
  smolagents); ``send_variables`` sends JSON values; ``__call__(code)`` returns the result the
  streamed run already computed (or runs the code, for a message it did not see stream) as a
  ``CodeOutput``: the logs, and the answer with ``is_final_answer`` when ``final_answer`` ran. A
  failing statement raises ``InterpreterError`` carrying the error (type, message, failing line,
  short traceback); the agent puts it, with the logs, in front of the model.
* ``EagerModel`` (wraps any smolagents ``Model``; ``executor.wrap_model(model)``): its
  ``generate_stream`` (and ``generate``, which streams too) passes every delta on while the code
  in it (``<code>`` tags and markdown fences both, sans-IO, as it streams; the ``code`` field
  with structured outputs) runs in the executor's session. When a statement fails, or ``final_answer`` ran, it stops yielding and closes the inner
  stream: the model stops generating there. Only action steps run code (the call whose stop
  sequences hold ``Observation:``); planning and summary calls pass through untouched.

What differs from smolagents' ``LocalPythonExecutor``: real CPython with any library (no import
allow-list), statements run while they stream, and ``CodeOutput.output`` is ``None`` except for
the final answer (the last expression's value is not returned; print what you want to see).
The final answer crosses the process boundary as JSON (other values as their ``repr``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator
from types import TracebackType
from typing import Any, Self

from .._exceptions import StreamInterruptedError, UsageError, require

require("smolagents", extra="smolagents", feature="eagerexec.integrations.smolagents")

from smolagents.local_python_executor import CodeOutput, InterpreterError, PythonExecutor  # noqa: E402
from smolagents.models import (  # noqa: E402
    ChatMessage,
    ChatMessageStreamDelta,
    MessageRole,
    Model,
    agglomerate_stream_deltas,
)
from smolagents.tools import Tool, get_tools_definition_code  # noqa: E402

from ..backends import Backend  # noqa: E402
from ..pipeline import Result  # noqa: E402
from ..sources import FenceExtractor, JsonStringExtractor  # noqa: E402
from ._common import ToolCall, format_error  # noqa: E402
from ._loopthread import ThreadedCodeTool  # noqa: E402

__all__ = ["EagerExecutor", "EagerModel", "TagExtractor"]

_log = logging.getLogger(__name__)

FINAL_ANSWER_EXCEPTION = "FinalAnswerException"
_FINAL_ANSWER_CODE = f'''\
class {FINAL_ANSWER_EXCEPTION}(BaseException):
    """Raised by final_answer(): the program ends with its answer."""


def final_answer(answer):
    """Give the final answer: the program ends here."""
    import json as _json

    try:
        _text = "json:" + _json.dumps(answer)
    except (TypeError, ValueError):
        _text = "repr:" + repr(answer)
    raise {FINAL_ANSWER_EXCEPTION}(_text)
'''


class TagExtractor:
    """The code between literal tags (``<code>`` ... ``</code>``) of a streamed answer (sans-IO).

    Each block is stripped of leading whitespace (as ``parse_code_blobs`` strips it); blocks are
    joined by a blank line. A tag split across pieces is held back until it is certain. A block
    still open at the end (the model stopped on the closing tag) yields all its content but a
    partial closing tag.

    Args:
        open_tag: the opening tag.
        close_tag: the closing tag.
    """

    def __init__(self, open_tag: str = "<code>", close_tag: str = "</code>") -> None:
        if not open_tag or not close_tag:
            raise UsageError("TagExtractor needs non-empty tags")
        self.open_tag = open_tag
        self.close_tag = close_tag
        self._buf = ""
        self._inside = False
        self._at_start = False  # inside, before the block's first non-space character
        self._blocks = 0

    @property
    def found_code(self) -> bool:
        """A block was opened."""
        return self._blocks > 0

    @property
    def inside(self) -> bool:
        """A block is open."""
        return self._inside

    def feed(self, text: str) -> str:
        """Consume a piece of the answer; return the code it made certain."""
        self._buf += text
        out: list[str] = []
        while True:
            tag = self.close_tag if self._inside else self.open_tag
            at = self._buf.find(tag)
            if at < 0:
                keep = _partial_suffix(self._buf, tag)
                ready, self._buf = self._buf[: len(self._buf) - keep], self._buf[len(self._buf) - keep :]
                if self._inside:
                    out.append(self._code(ready))
                return "".join(out)
            if self._inside:
                out.append(self._code(self._buf[:at]))
                self._inside = False
            else:
                self._inside = True
                self._at_start = True
                if self._blocks:
                    out.append("\n\n")
                self._blocks += 1
            self._buf = self._buf[at + len(tag) :]

    def close(self) -> str:
        """End of the answer. What is still held is a partial tag: dropped."""
        self._buf = ""
        return ""

    def _code(self, text: str) -> str:
        if self._at_start:
            text = text.lstrip()
            if text:
                self._at_start = False
        return text


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that is a proper prefix of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


class _CodeExtractor:
    """``<code>``-style tags and markdown fences both: the first to find code wins."""

    def __init__(self, tags: tuple[str, str]) -> None:
        markdown = tags[0].startswith("```")
        self._tags = None if markdown else TagExtractor(*tags)
        self._fences: FenceExtractor | None = FenceExtractor()
        self._chosen: TagExtractor | FenceExtractor | None = None

    def feed(self, text: str) -> str:
        if self._chosen is not None:
            return self._chosen.feed(text)
        code = ""
        for extractor in (self._tags, self._fences):
            if extractor is None:
                continue
            got = extractor.feed(text)
            if got and self._chosen is None:
                self._chosen, code = extractor, got
        return code

    def closing(self) -> str:
        """The fence or tag that closes the block still open ('' when none is)."""
        if isinstance(self._chosen, TagExtractor) and self._chosen.inside:
            return self._chosen.close_tag
        if isinstance(self._chosen, FenceExtractor) and self._chosen.in_code:
            return "\n```"
        return ""

    def close(self) -> str:
        if self._chosen is not None:
            return self._chosen.close()
        for extractor in (self._tags, self._fences):
            if extractor is not None:
                got = extractor.close()
                if got:
                    return got
        return ""


def _closing(extractor: _CodeExtractor | JsonStringExtractor, text: str) -> str:
    """What a cut answer needs to parse as smolagents parses it: the open block's closing fence
    or tag, or the end of the JSON object."""
    if isinstance(extractor, _CodeExtractor):
        return extractor.closing()
    for suffix in ('"}', "}", '\\"}', '0"}', '00"}', '000"}', '0000"}'):
        try:
            json.loads(text + suffix)
        except ValueError:
            continue
        return suffix
    return ""


def _tags_of(code_block_tags: str | tuple[str, str] | None) -> tuple[str, str]:
    if code_block_tags is None:
        return ("<code>", "</code>")
    if code_block_tags == "markdown":
        return ("```python", "```")
    if isinstance(code_block_tags, tuple) and len(code_block_tags) == 2:
        return code_block_tags
    raise UsageError(f"code_block_tags must be None, 'markdown' or a pair of tags, not {code_block_tags!r}")


def _normal(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines() if line.strip())


class EagerExecutor(PythonExecutor):  # type: ignore[misc]  # smolagents is untyped
    """A smolagents ``PythonExecutor`` on an eagerexec session (pass it as ``executor=``).

    Args:
        backend: ``sandbox`` (the default: bubblewrap, no network), ``local``, ``docker``, ``jupyter`` or a
            ``Backend`` instance.
        code_block_tags: the agent's ``code_block_tags`` (None: ``<code>`` tags; ``"markdown"``;
            or a pair of literal tags). Markdown fences are understood in every case.
        **options: ``CodeToolSession`` options (``timeout=``, ``max_output=``, ``workdir=``...).

    Raises:
        UnknownOptionError: an option the session does not take.
    """

    def __init__(
        self,
        backend: str | Backend = "sandbox",
        *,
        code_block_tags: str | tuple[str, str] | None = None,
        **options: Any,
    ) -> None:
        self.code_block_tags = _tags_of(code_block_tags)
        self.core = ThreadedCodeTool(backend, **options)
        self.state: dict[str, Any] = {"_print_outputs": ""}
        """``_print_outputs``: the logs of the last call (the agent reads them on an error)."""
        self._pending: ToolCall | None = None
        self._answer_defined = False

    @property
    def results(self) -> list[Result]:
        """Every finished run of this session, in order."""
        return list(self.core.tools.results)

    def wrap_model(self, model: Model) -> EagerModel:
        """The model wrapper that streams code into this executor (give it to ``CodeAgent``)."""
        return EagerModel(model, self)

    # -- PythonExecutor ---------------------------------------------------------------------
    def send_tools(self, tools: dict[str, Tool]) -> None:
        """Define ``final_answer`` (raising ``FinalAnswerException``) and the other tools.

        Tools are defined from their source, as smolagents' remote executors do; a tool whose
        source cannot be extracted is left out (logged).

        Raises:
            InterpreterError: defining the tools failed in the interpreter.
        """
        self._define(_FINAL_ANSWER_CODE, "final_answer")
        self._answer_defined = True
        for name, tool in tools.items():
            if name == "final_answer":
                continue
            try:
                code = get_tools_definition_code({name: tool})
            except Exception as exc:  # smolagents' own validation: not defined remotely
                _log.warning("eagerexec: tool %r cannot be sent to the interpreter: %s", name, exc)
                continue
            self._define(code, name)

    def send_variables(self, variables: dict[str, Any]) -> None:
        """Set variables in the interpreter (JSON values: str, numbers, lists, dicts...).

        Raises:
            UsageError: a value is not JSON-serialisable.
            InterpreterError: setting them failed in the interpreter.
        """
        if not variables:
            return
        try:
            payload = json.dumps(variables)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"EagerExecutor.send_variables: values must be JSON-serialisable ({exc})") from None
        self._define(f"import json as _json\nglobals().update(_json.loads({payload!r}))\ndel _json\n", "variables")

    def __call__(self, code_action: str) -> CodeOutput:
        """Run ``code_action``: the streamed run's result when its code is this code.

        Returns:
            ``CodeOutput(output, logs, is_final_answer)``.

        Raises:
            InterpreterError: a statement failed (the message is the error for the model; the
                logs so far are in ``state["_print_outputs"]``).
        """
        call, self._pending = self._pending, None
        if call is not None:
            result = self.core.result(call.call_id)  # (code_so_far is complete only then)
            if _normal(call.code_so_far) == _normal(code_action):
                return self._output(result)
            if call.code_so_far.strip():
                _log.info("eagerexec: the agent parsed other code than what streamed; the streamed code ran")
                return self._output(result)
        return self._output(self.core.result(None, code_action))

    def cleanup(self) -> None:
        """Close the session (the interpreter is stopped and reaped); ``CodeAgent`` calls it."""
        self.core.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()

    # -- internals --------------------------------------------------------------------------
    def _begin(self) -> ToolCall:
        if self._pending is not None:
            self.core.end(self._pending)  # a message the agent never executed
        self._pending = self.core.begin(None, raw=True)
        return self._pending

    def _define(self, code: str, what: str) -> None:
        result = self.core.result(None, code)
        if result.error is not None:
            raise InterpreterError(f"eagerexec: defining {what} failed: {format_error(result.error)}")

    def _output(self, result: Result) -> CodeOutput:
        logs = result.stdout
        if result.stderr.strip():
            logs += ("" if not logs or logs.endswith("\n") else "\n") + result.stderr
        self.state["_print_outputs"] = logs
        error = result.error
        if error is None:
            return CodeOutput(output=None, logs=logs, is_final_answer=False)
        if error.type == FINAL_ANSWER_EXCEPTION and error.origin == "runtime":
            return CodeOutput(output=_decode_answer(error.message), logs=logs, is_final_answer=True)
        raise InterpreterError(format_error(error))


def _decode_answer(message: str) -> Any:
    if message.startswith("json:"):
        try:
            return json.loads(message[5:])
        except ValueError:
            return message[5:]
    return message[5:] if message.startswith("repr:") else message


class EagerModel(Model):  # type: ignore[misc]  # smolagents is untyped
    """Wraps a smolagents ``Model``: the code in its answers runs in ``executor`` as it streams.

    Args:
        model: the model to wrap (any smolagents ``Model``; streamed when it has
            ``generate_stream``).
        executor: the ``EagerExecutor`` the agent uses.
    """

    def __init__(self, model: Model, executor: EagerExecutor) -> None:
        super().__init__(model_id=model.model_id)
        self.inner = model
        self.executor = executor

    @property
    def supports_stop_parameter(self) -> bool:
        return bool(self.inner.supports_stop_parameter)

    def generate(
        self,
        messages: list[ChatMessage | dict[str, Any]],
        stop_sequences: list[str] | None = None,
        response_format: dict[str, str] | None = None,
        tools_to_call_from: list[Tool] | None = None,
        **kwargs: Any,
    ) -> ChatMessage:
        """The whole answer (streamed from the inner model, so its code runs as it comes)."""
        deltas = list(
            self.generate_stream(
                messages, stop_sequences, response_format=response_format, tools_to_call_from=tools_to_call_from, **kwargs
            )
        )
        return agglomerate_stream_deltas(deltas, role=MessageRole.ASSISTANT)

    def generate_stream(
        self,
        messages: list[ChatMessage | dict[str, Any]],
        stop_sequences: list[str] | None = None,
        response_format: dict[str, str] | None = None,
        tools_to_call_from: list[Tool] | None = None,
        **kwargs: Any,
    ) -> Generator[ChatMessageStreamDelta, None, None]:
        """The inner model's deltas, while their code runs; ends early when a statement fails.

        Yields:
            ``ChatMessageStreamDelta``s, unchanged; after a failure, one more that closes the
            open block (or the JSON of structured outputs) so that the cut answer parses.
        """
        if response_format is not None:
            kwargs["response_format"] = response_format
        if tools_to_call_from is not None:
            kwargs["tools_to_call_from"] = tools_to_call_from
        stream = self._inner_stream(messages, stop_sequences=stop_sequences, **kwargs)
        if not stop_sequences or "Observation:" not in stop_sequences:
            yield from stream  # not an action step (planning, summary): no code runs
            return
        # structured outputs (``use_structured_outputs_internally``): {"thought": ..., "code": ...}
        extractor: _CodeExtractor | JsonStringExtractor = (
            JsonStringExtractor("code") if response_format is not None else _CodeExtractor(self.executor.code_block_tags)
        )
        call: ToolCall | None = None
        core = self.executor.core

        def feed(code: str) -> None:
            nonlocal call
            if code:
                if call is None:
                    call = self.executor._begin()
                core.feed(call, code)

        stopped = malformed = False
        text: list[str] = []
        try:
            for delta in stream:
                if delta.content:
                    text.append(delta.content)
                    try:
                        feed("" if malformed else extractor.feed(delta.content))
                    except StreamInterruptedError:  # not the JSON asked for: smolagents says so
                        malformed = True
                yield delta
                if call is not None and call.error is not None:
                    stopped = True
                    break
        finally:
            stream.close()
            feed(extractor.close())
            if call is not None:
                core.end(call)
        if stopped:  # the cut answer must still parse: close its block (or its JSON)
            closing = _closing(extractor, "".join(text))
            if closing:
                yield ChatMessageStreamDelta(content=closing)

    def _inner_stream(
        self, messages: list[ChatMessage | dict[str, Any]], **kwargs: Any
    ) -> Generator[ChatMessageStreamDelta, None, None]:
        generate_stream = getattr(self.inner, "generate_stream", None)
        if generate_stream is not None:
            yield from generate_stream(messages, **kwargs)
            return
        message = self.inner.generate(messages, **kwargs)
        content = message.content if isinstance(message.content, str) else None
        yield ChatMessageStreamDelta(content=content, token_usage=message.token_usage)
