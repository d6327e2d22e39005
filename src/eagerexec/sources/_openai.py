"""``OpenAISource``: code streamed from any OpenAI-compatible chat-completions endpoint.

Goes through the official ``openai`` SDK (``AsyncOpenAI(...).chat.completions.create(...,
stream=True)``), so OpenAI, OpenRouter, vLLM, Ollama and llama.cpp's server all work. Two ways
to get the code out of the answer:

* ``mode="fence"``: the content is markdown; ``FenceExtractor`` streams the code of its Python
  (or bare) fenced blocks as they arrive.
* ``mode="tool"``: a ``run_python`` function taking ``{"code": "..."}`` is offered (and forced);
  ``JsonStringExtractor`` unescapes the streamed JSON arguments as they arrive.

Errors are mapped at the boundary (``raise ... from``): no connection or an HTTP error status
before the stream -> ``SourceConnectionError``; a stream that drops, times out or carries a
malformed or error event -> ``StreamInterruptedError``; an answer with no code ->
``NoCodeError``. What was received before an error stays in ``stats.raw_text`` and in the deltas
already yielded. ``aclose()`` closes the HTTP response (and, before the response, the client's
connections) at once, so the provider stops generating; the iteration then ends quietly.

The SDK is the ``openai`` extra: this module imports it only when an ``OpenAISource`` is
constructed (``MissingExtraError`` naming the extra when it is not installed), so importing it
(and ``eagerexec``) stays light.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from .._exceptions import NoCodeError, SourceConnectionError, StreamInterruptedError, UsageError, require
from ._base import Source
from ._fences import FenceExtractor
from ._jsonargs import JsonStringExtractor

if TYPE_CHECKING:
    import openai

__all__ = ["DEFAULT_SYSTEM_FENCE", "DEFAULT_SYSTEM_TOOL", "TOOL_NAME", "OpenAISource"]

TOOL_NAME = "run_python"

DEFAULT_SYSTEM_FENCE = (
    "You write Python programs. Answer with one complete Python program in a single ```python "
    "fenced code block. It runs top to bottom in a fresh interpreter as it is written: put imports "
    "first, print the results, and keep explanations short and outside the code block."
)
DEFAULT_SYSTEM_TOOL = (
    f"You write Python programs. Call the {TOOL_NAME} tool once with one complete Python program. "
    "It runs top to bottom in a fresh interpreter as it is written: put imports first and print "
    "the results."
)

_TOOL = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Run a Python program in a persistent interpreter and return its output.",
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "The complete Python program."}},
            "required": ["code"],
        },
    },
}

_PLACEHOLDER_KEY = "sk-no-key-needed"
_UNSET: Any = object()


def _status_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    message: object = None
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, Mapping) else inner
    if not message:
        message = exc.message
    text = " ".join(str(message).split())
    return text[:300]


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(cause) if cause is not None and str(cause) else str(exc)
    return " ".join(text.split())[:300]


class OpenAISource(Source):
    """Code from an OpenAI-compatible chat-completions stream.

    Args:
        prompt: the user's request (a user message); or give ``messages``.
        messages: the whole conversation (``[{"role": ..., "content": ...}, ...]``); ``system`` is
            then not added.
        model: the model name.
        base_url: the API base URL (default: ``OPENAI_BASE_URL``, else OpenAI's).
        api_key: the API key (default: ``OPENAI_API_KEY``; with a custom base URL a missing key
            is replaced by a placeholder, as local servers need none).
        mode: ``"fence"`` (code in markdown fences) or ``"tool"`` (a ``run_python`` tool call).
        system: the system prompt (default: one suited to ``mode``; ``None``: none).
        temperature: sampling temperature (``None``: the server's default).
        max_tokens: cap on generated tokens (``None``: the server's default).
        timeout: seconds to connect, and the longest silence tolerated mid-stream.
        max_retries: the SDK's retries of failed requests (429, 5xx, connection errors) before
            the stream starts.
        bare_code_fallback: in fence mode, an answer without any fence is taken as code (at its
            end). Off by default: such an answer raises ``NoCodeError``.
        client: an ``AsyncOpenAI`` to use (``base_url``/``api_key``/``timeout``/``max_retries``
            are then ignored; the client is not closed by the source).
        extra_body: extra JSON fields for the request (provider-specific options).

    Raises:
        UsageError: bad options (no prompt nor messages, unknown mode, no key for OpenAI).
        MissingExtraError: the ``openai`` package is not installed (the ``openai`` extra).
    """

    def __init__(
        self,
        prompt: str | None = None,
        *,
        messages: Sequence[Mapping[str, Any]] | None = None,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        mode: Literal["fence", "tool"] = "fence",
        system: str | None = _UNSET,
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        bare_code_fallback: bool = False,
        client: openai.AsyncOpenAI | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        require("openai", extra="openai", feature="OpenAISource")
        import openai

        if mode not in ("fence", "tool"):
            raise UsageError(f"mode must be 'fence' or 'tool', not {mode!r}")
        if (prompt is None) == (messages is None):
            raise UsageError("give exactly one of prompt and messages")
        if system is _UNSET:
            system = DEFAULT_SYSTEM_FENCE if mode == "fence" else DEFAULT_SYSTEM_TOOL
        if messages is not None:
            self.messages = [dict(m) for m in messages]
        else:
            self.messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": prompt}
            ]
        self.model = model
        self.mode = mode
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.bare_code_fallback = bare_code_fallback
        self.extra_body = dict(extra_body) if extra_body else None
        self._own_client = client is None
        if client is None:
            base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
            api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
            if api_key is None:
                if base_url is None:
                    raise UsageError("no API key: set OPENAI_API_KEY or pass api_key (or a base_url)")
                api_key = _PLACEHOLDER_KEY
            client = openai.AsyncOpenAI(
                base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
            )
        self._client = client
        self.base_url = str(client.base_url).rstrip("/")
        self._response: Any = None  # the SDK's AsyncStream, once the request was answered

    def _request(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self.model, "messages": self.messages, "stream": True}
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        if self.max_tokens is not None:
            kwargs["max_tokens"] = self.max_tokens
        if self.mode == "tool":
            kwargs["tools"] = [_TOOL]
            kwargs["tool_choice"] = {"type": "function", "function": {"name": TOOL_NAME}}
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        return kwargs

    async def _abort(self) -> None:
        response = self._response
        if response is not None:
            await response.close()
        elif self._own_client:
            await self._client.close()  # a request still waiting for its headers

    async def _open(self) -> Any:
        import openai

        try:
            return await self._client.chat.completions.create(**self._request())
        except openai.APIStatusError as exc:
            raise SourceConnectionError(
                f"HTTP {exc.status_code} from {self.base_url}: {_status_message(exc)}"
            ) from exc
        except openai.APITimeoutError as exc:
            raise SourceConnectionError(
                f"timed out after {self.timeout:g}s waiting for {self.base_url}"
            ) from exc
        except openai.APIConnectionError as exc:
            raise SourceConnectionError(f"cannot reach {self.base_url}: {_cause(exc)}") from exc
        except openai.OpenAIError as exc:
            raise SourceConnectionError(f"request to {self.base_url} failed: {exc}") from exc

    async def _stream(self) -> AsyncGenerator[str, None]:
        import openai

        stats = self.stats
        stats.request_start = time.monotonic()
        fences = FenceExtractor(bare_code_fallback=self.bare_code_fallback) if self.mode == "fence" else None
        calls: dict[int, JsonStringExtractor] = {}
        last_call: int | None = None
        emitted_last = ""  # last character yielded, to separate the code of several tool calls
        try:
            try:
                response = await self._open()
            except SourceConnectionError:
                if self._closed:
                    return
                raise
            self._response = response
            if self._closed:
                await response.close()
                return
            try:
                async for chunk in response:
                    choices = getattr(chunk, "choices", None)
                    if not isinstance(choices, list):
                        raise StreamInterruptedError("malformed event: a chunk without choices")
                    for choice in choices:
                        if getattr(choice, "index", 0) not in (0, None):
                            continue
                        if choice.finish_reason:
                            stats.finish_reason = choice.finish_reason
                        delta = choice.delta
                        if delta is None:
                            continue
                        text = delta.content or ""
                        out: list[str] = []
                        if text:
                            stats.note_tokens(1, text)
                            if fences is not None:
                                out.append(fences.feed(text))
                        for call in delta.tool_calls or ():
                            args = call.function.arguments if call.function is not None else None
                            if not args:
                                continue
                            stats.note_tokens(1 if not text else 0, args)
                            if self.mode != "tool":
                                continue
                            index = call.index or 0
                            extractor = calls.get(index)
                            if extractor is None:
                                extractor = calls[index] = JsonStringExtractor("code")
                            if (
                                last_call is not None
                                and index != last_call
                                and emitted_last not in ("", "\n")
                            ):
                                out.append("\n")
                            last_call = index
                            out.append(extractor.feed(args))
                        code = "".join(out)
                        if code:
                            emitted_last = code[-1]
                            yield code
            except (StreamInterruptedError, NoCodeError):
                if self._closed:
                    return
                raise
            except openai.APITimeoutError as exc:
                if self._closed:
                    return
                raise StreamInterruptedError(
                    f"the stream from {self.base_url} went silent for {self.timeout:g}s"
                ) from exc
            except openai.APIConnectionError as exc:
                if self._closed:
                    return
                raise StreamInterruptedError(
                    f"the stream from {self.base_url} dropped: {_cause(exc)}"
                ) from exc
            except openai.APIError as exc:
                if self._closed:
                    return
                raise StreamInterruptedError(
                    f"the server reported an error mid-stream: {exc.message}"
                ) from exc
            except (json.JSONDecodeError, ValueError, AttributeError, TypeError) as exc:
                if self._closed:
                    return
                raise StreamInterruptedError(
                    f"malformed event in the stream from {self.base_url}: {exc}"
                ) from exc
            except Exception as exc:
                # Whatever a connection closed under a pending read raises (httpx, anyio).
                if self._closed:
                    return
                raise StreamInterruptedError(f"the stream from {self.base_url} failed: {exc!r}") from exc
            if self._closed:
                return
            # The end of the answer.
            tail = ""
            if fences is not None:
                tail = fences.close()
                found = fences.found_code
            else:
                tail = "".join(e.close() for e in calls.values())
                found = any(e.found for e in calls.values())
            if tail:
                yield tail
            if stats.finish_reason is None:
                raise StreamInterruptedError(
                    f"the stream from {self.base_url} ended before the model finished"
                )
            if not found:
                where = "no fenced Python block" if self.mode == "fence" else f"no {TOOL_NAME} call with code"
                raise NoCodeError(f"the answer held {where} (finish_reason={stats.finish_reason})")
        finally:
            response = self._response
            if response is not None:
                await response.close()
            if self._own_client:
                await self._client.close()
