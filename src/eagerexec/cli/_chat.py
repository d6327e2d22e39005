"""``eager chat``: the agent loop. A model writes Python (a ``run_python`` tool call or fenced
blocks), each statement runs as it streams, and the output or the error goes back to the model.

Strategy: one ``CodeToolSession`` (``integrations._common``) for the whole chat, so variables,
imports and files persist across turns. Each turn streams one chat completion with the official
``openai`` SDK, offering the tool (the tool call is preferred; a server that refuses tools is
asked again without them, in fence mode, and that is said). Content deltas are shown as prose and
go through a ``FenceExtractor``; tool-call argument deltas feed the call's run by index. The
moment a statement fails the session's error hook fires and the turn closes the HTTP response:
the model stops generating, the statements after the failing one never run, and the error goes
back (the tool result, or the next user message for fenced code). The loop ends when the model
answers without code, or at ``--max-turns`` (said).

Bad input never loses the transcript: a refused request (401/429/5xx), a dropped stream or a
malformed event ends the chat with one line ``eager: error: ...`` and exit status 1, after the
conversation so far is saved (``--save``). The program runs as ``eager run``'s does
(``files_options``): in ``--workdir`` (default: the current directory), with only the
environment variables named by ``--env`` and, in the sandbox, no network unless ``--network``;
``--notebook`` shows displayed values (and the model reads them). The API key is read from
``OPENAI_API_KEY`` and removed from this process's environment before the interpreter starts, so
the program never sees it unless ``--env OPENAI_API_KEY`` names it. ``--resume FILE`` reloads a saved conversation and re-runs its code (said) to rebuild
the interpreter's state before continuing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import click

from .._exceptions import EagerError, UsageError, require
from ..integrations._common import (
    CODE_SCHEMA,
    NOT_RUN,
    TOOL_DESCRIPTION,
    TOOL_NAME,
    CodeToolSession,
    ToolCall,
    format_result,
)
from ..pipeline import BatchEnded, BatchStarted, ChunkReady, Event, OutputReceived, Result, RunFinished
from ..sources import FenceExtractor
from ._replay import (
    check_backend,
    files_options,
    notebook_option,
    notebook_session,
    program_options,
    warn_unisolated,
)

__all__ = ["chat_command"]

DEFAULT_SYSTEM = (
    f"You can run Python. To run code, call the {TOOL_NAME} tool (or, without tools, write one "
    "```python fenced block). Statements run one by one as you write them, in a persistent "
    "interpreter: variables, imports and files stay from one call to the next. Print what you "
    "need to see. If a statement fails you get the error at once and the rest does not run: fix "
    "it in the next call, without repeating what already ran. When you have the answer, reply "
    "in plain text without code."
)
_PLACEHOLDER_KEY = "sk-no-key-needed"
_SHOWN_LINES = 8  # lines of each statement shown as it runs
_TOOL = {"type": "function", "function": {"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "parameters": CODE_SCHEMA}}


class ChatError(EagerError):
    """The model server failed (refused, dropped the stream, sent a malformed event)."""


@dataclass(slots=True)
class _Call:
    """A tool call of the turn being streamed."""

    id: str
    name: str = ""
    args: list[str] = field(default_factory=list)
    run: ToolCall | None = None


@dataclass(slots=True)
class TurnRecord:
    """One model turn: its code runs, and the times shown to the user."""

    results: list[Result] = field(default_factory=list)
    seconds: float = 0.0
    saved: float = 0.0
    stopped_early: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "saved": self.saved,
            "stopped_early": self.stopped_early,
            "runs": [
                {
                    "code": r.code,
                    "stdout": r.stdout,
                    "stderr": r.stderr,
                    "outputs": [o.to_dict() for o in r.outputs],
                    "error": None if r.error is None else r.error.to_dict(),
                    "metrics": r.metrics.to_dict(),
                }
                for r in self.results
            ],
        }


def saved_seconds(result: Result) -> float:
    """Execution time hidden behind generation: total execution minus what came after it."""
    busy = sum(max(0.0, b.exec_end - b.exec_start) for b in result.batches)
    return max(0.0, busy - result.metrics.nel)


class _View:
    """The terminal view: prose as it streams; each statement shown when it starts running
    (``>``), the program's output live (``|``), a failure (``!``)."""

    def __init__(self, out: TextIO | None) -> None:
        self.out = out
        self._chunks: dict[int, str] = {}
        self._col0 = True
        self._out_start = True  # the program's output is at a line start

    def write(self, text: str) -> None:
        if self.out is not None and text:
            self.out.write(text)
            self.out.flush()
            self._col0 = text.endswith("\n")

    def line(self, text: str) -> None:
        if not self._col0:
            self.write("\n")
        self.write(text + "\n")

    def event(self, event: Event) -> None:
        if isinstance(event, ChunkReady):
            self._chunks[event.index] = event.chunk.text
        elif isinstance(event, OutputReceived):
            if event.stream == "figure":
                self.line(f"  [figure] {event.text}")
            elif event.bundle is None and event.stream in ("display", "result"):
                self.line("  [... displayed values dropped by the output limit; the model gets the last ones ...]")
            else:
                if not self._col0 and self._out_start:
                    self.write("\n")
                out = []
                for piece in event.text.splitlines(keepends=True):
                    out.append(("  | " if self._out_start else "") + piece)
                    self._out_start = piece.endswith("\n")
                self.write("".join(out))
        elif isinstance(event, BatchStarted):
            self._out_start = True
            for index in event.chunks:
                lines = self._chunks.get(index, "").strip("\n").splitlines() or [""]
                if len(lines) > _SHOWN_LINES:
                    lines = [*lines[:_SHOWN_LINES], f"... ({len(lines) - _SHOWN_LINES} more lines)"]
                self.line("\n".join(f"  > {ln}" for ln in lines))
        elif isinstance(event, BatchEnded):
            if event.error is not None:
                self.line(f"  ! {event.error}: stopping the model")
        elif isinstance(event, RunFinished):
            self._chunks.clear()


class Chat:
    """The conversation and the loop (one instance per ``eager chat``)."""

    def __init__(
        self,
        *,
        client: Any,
        model: str,
        tools: CodeToolSession,
        view: _View,
        messages: list[dict[str, Any]],
        max_turns: int,
        save: Path | None,
    ) -> None:
        self.client = client
        self.model = model
        self.tools = tools
        self.view = view
        self.messages = messages
        self.max_turns = max_turns
        self.save = save
        self.use_tools = True
        self.turns: list[TurnRecord] = []
        self._stop: asyncio.Event | None = None
        tools.on_error = self._on_error

    def _on_error(self, call_id: str, error: Any) -> None:
        if self._stop is not None:
            self._stop.set()

    def write_transcript(self) -> None:
        """Write the conversation as JSON lines (``--save``)."""
        if self.save is not None:
            text = "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in self.messages)
            self.save.write_text(text, encoding="utf-8")

    async def ask(self, prompt: str) -> str:
        """Run the loop for one user prompt.

        Returns:
            How it ended: ``answer`` (a reply without code) or ``max_turns``.

        Raises:
            ChatError: the server failed (the transcript so far is kept).
        """
        self.messages.append({"role": "user", "content": prompt})
        for _ in range(self.max_turns):
            try:
                more = await self._turn()
            except asyncio.CancelledError:
                self.tools.cancel_all()  # Ctrl-C: the running statement is interrupted
                raise
            if not more:
                return "answer"
        self.view.line(f"[stopped: --max-turns {self.max_turns} reached while the model was still writing code]")
        return "max_turns"

    async def _open(self) -> Any:
        import openai

        request: dict[str, Any] = {"model": self.model, "messages": self.messages, "stream": True}
        if self.use_tools:
            request["tools"] = [_TOOL]
        try:
            return await self.client.chat.completions.create(**request)
        except openai.APIStatusError as exc:
            if self.use_tools and exc.status_code in (400, 404, 422) and "tool" in str(exc).lower():
                self.use_tools = False
                self.view.line("[the server does not take tools: code in fenced blocks instead]")
                return await self._open()
            raise ChatError(f"HTTP {exc.status_code} from {self.client.base_url}: {_message(exc)}") from exc
        except openai.APITimeoutError as exc:
            raise ChatError(f"timed out waiting for {self.client.base_url}") from exc
        except openai.OpenAIError as exc:
            raise ChatError(f"request to {self.client.base_url} failed: {_message(exc)}") from exc

    async def _turn(self) -> bool:
        """One model response and its code. Returns whether the model wrote code."""
        start = time.monotonic()
        record = TurnRecord()
        self._stop = stop = asyncio.Event()
        content: list[str] = []
        fences = FenceExtractor()
        fence_run: ToolCall | None = None
        calls: dict[int, _Call] = {}
        turn = len(self.turns) + 1

        def code_delta(code: str) -> None:
            nonlocal fence_run
            if code:
                if fence_run is None:
                    fence_run = self.tools.begin(f"fence-{turn}", raw=True)
                fence_run.feed(code)

        response = await self._open()

        async def read() -> None:
            import openai

            try:
                async for chunk in response:
                    for choice in chunk.choices:
                        if choice.index not in (0, None) or choice.delta is None:
                            continue
                        delta = choice.delta
                        if delta.content:
                            content.append(delta.content)
                            self.view.write(delta.content)
                            code_delta(fences.feed(delta.content))
                        for tc in delta.tool_calls or ():
                            call = calls.get(tc.index or 0)
                            if call is None:
                                call = calls[tc.index or 0] = _Call(id=tc.id or f"call_{turn}_{tc.index or 0}")
                            fn = tc.function
                            if fn is not None and fn.name:
                                call.name += fn.name
                            if fn is not None and fn.arguments:
                                call.args.append(fn.arguments)
                                if call.run is None and call.name == TOOL_NAME:
                                    call.run = self.tools.begin(f"{turn}:{call.id}")  # ids may repeat
                                    self.view.line("")
                                if call.run is not None:
                                    call.run.feed(fn.arguments)
            except openai.APIError as exc:
                raise ChatError(f"the stream from {self.client.base_url} failed: {_message(exc)}") from exc
            except (ValueError, TypeError, AttributeError) as exc:
                raise ChatError(f"malformed event from {self.client.base_url}: {exc}") from exc
            except Exception as exc:  # what a dropped connection raises (httpx, anyio)
                raise ChatError(f"the stream from {self.client.base_url} dropped: {exc!r}") from exc

        reader = asyncio.create_task(read())
        waiter = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([reader, waiter], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if not reader.done():
                record.stopped_early = True
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
            await response.close()
        failure = None if record.stopped_early else reader.exception()
        if not record.stopped_early:
            code_delta(fences.close())
        self.view.line("")
        # the assistant's message, as received (a call cut short gets the code it had so far)
        message: dict[str, Any] = {"role": "assistant", "content": "".join(content) or None}
        if calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": _arguments(c, record.stopped_early)},
                }
                for c in calls.values()
            ]
        self.messages.append(message)
        self.tools.end_all()
        failed = False
        for c in calls.values():
            if c.run is None:
                text = f"unknown tool {c.name!r}: the only tool is {TOOL_NAME}" if c.name != TOOL_NAME else "(no code)"
            elif failed or c.run.skipped:
                c.run.cancel()
                text = NOT_RUN
            else:
                result = await c.run.wait()
                record.results.append(result)
                failed = result.error is not None
                text = format_result(result)
            self.messages.append({"role": "tool", "tool_call_id": c.id, "content": text})
        if fence_run is not None:
            if failed or fence_run.skipped:
                fence_run.cancel()
            else:
                result = await fence_run.wait()
                record.results.append(result)
                self.messages.append({"role": "user", "content": "Output of your code:\n" + format_result(result)})
        record.seconds = time.monotonic() - start
        record.saved = sum(saved_seconds(r) for r in record.results)
        self.turns.append(record)
        if record.results:
            self.view.line(f"[turn {turn}: {record.seconds:.2f}s, eager execution saved {record.saved:.2f}s]")
        self.write_transcript()
        if failure is not None:
            raise failure
        return bool(calls) or fence_run is not None

    async def resume(self) -> int:
        """Re-run the code of the loaded conversation to rebuild the interpreter's state.

        Returns:
            How many code blocks were run.
        """
        blocks: list[str] = []
        for m in self.messages:
            if m.get("role") != "assistant":
                continue
            for tc in m.get("tool_calls") or ():
                fn = tc.get("function") or {}
                if fn.get("name") == TOOL_NAME:
                    with contextlib.suppress(ValueError, TypeError, AttributeError):
                        blocks.append(str(json.loads(fn.get("arguments") or "{}").get("code", "")))
            if not m.get("tool_calls") and isinstance(m.get("content"), str):
                fences = FenceExtractor()
                code = fences.feed(m["content"]) + fences.close()
                if code:
                    blocks.append(code)
        for code in blocks:
            await self.tools.run_code(code)
        return len(blocks)


def _arguments(call: _Call, cut: bool) -> str:
    if cut and call.run is not None:
        return json.dumps({"code": call.run.code_so_far})
    return "".join(call.args)


def _message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    message: object = None
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
    return " ".join(str(message or getattr(exc, "message", None) or exc).split())[:300]


def load_transcript(path: Path) -> list[dict[str, Any]]:
    """Read a ``--save`` file (JSON lines of OpenAI-format messages).

    Raises:
        UsageError: unreadable, or a line that is not a message object.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    messages: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            msg = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"{path}:{n}: not JSON: {exc}") from exc
        if not isinstance(msg, dict) or "role" not in msg:
            raise UsageError(f"{path}:{n}: not a chat message (an object with a 'role')")
        messages.append(msg)
    return messages


async def _interactive(chat: Chat) -> str:
    loop = asyncio.get_running_loop()
    ended = "answer"
    while True:
        try:
            prompt = await asyncio.to_thread(input, "\n> ")
        except EOFError:
            return ended
        if prompt.strip() in ("", "exit", "quit"):
            if prompt.strip():
                return ended
            continue
        task = asyncio.ensure_future(chat.ask(prompt))
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, task.cancel)  # Ctrl-C stops the turn only
        try:
            ended = await task
        except asyncio.CancelledError:
            chat.view.line("[turn stopped]")
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)


async def _go(
    prompt: str | None,
    *,
    once: bool,
    model: str,
    base_url: str | None,
    api_key: str,
    backend: str,
    options: dict[str, Any],
    system: str,
    max_turns: int,
    save: Path | None,
    resume: Path | None,
    view: _View,
) -> tuple[Chat, str]:
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=1)
    messages = load_transcript(resume) if resume else [{"role": "system", "content": system}]
    async with CodeToolSession(backend, on_event=view.event, **options) as tools:
        chat = Chat(client=client, model=model, tools=tools, view=view, messages=messages, max_turns=max_turns, save=save)
        try:
            if resume:
                n = await chat.resume()
                view.line(f"[resumed {len(messages)} messages; re-ran {n} code blocks to rebuild the state]")
            ended = "answer"
            if prompt is not None:
                ended = await chat.ask(prompt)
            if not once:
                ended = await _interactive(chat)
            return chat, ended
        except ChatError as exc:
            chat.write_transcript()
            exc.chat = chat  # type: ignore[attr-defined]
            raise
        finally:
            await client.close()


@click.command("chat")
@click.argument("prompt", required=False)
@click.option("--once", is_flag=True, help="Answer PROMPT and exit (0; 1 when it ended on an error or limit).")
@click.option("--model", required=True, help="Model name.")
@click.option("--base-url", default=None, help="OpenAI-compatible base URL [OPENAI_BASE_URL].")
@click.option(
    "--backend",
    default="sandbox",
    show_default=True,
    help="sandbox (isolated, no network), docker, local or jupyter (unisolated: a warning says so).",
)
@click.option("--max-turns", type=click.IntRange(min=1), default=20, show_default=True, help="Model turns per prompt.")
@click.option("--system", "system_file", default=None, type=click.Path(dir_okay=False), help="System prompt file.")
@click.option("--save", default=None, type=click.Path(dir_okay=False), help="Write the conversation (JSON lines).")
@click.option("--resume", default=None, type=click.Path(dir_okay=False), help="Continue a saved conversation.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end instead of the live view.")
@notebook_option
@files_options
def chat_command(
    prompt: str | None,
    once: bool,
    model: str,
    base_url: str | None,
    backend: str,
    max_turns: int,
    system_file: str | None,
    save: str | None,
    resume: str | None,
    as_json: bool,
    notebook: bool,
    workdir: str | None,
    env_names: tuple[str, ...],
    network: bool,
) -> None:
    """Chat with a model that runs Python as it writes it (an agent loop).

    The key comes from OPENAI_API_KEY and is never passed to the program (unless named with
    --env). Exit status with --once: 0 when the model answered, 1 when the loop hit --max-turns
    or the server failed; 2 for usage errors.
    """
    require("openai", extra="openai", feature="eager chat")
    check_backend(backend)
    options = {**program_options(backend, workdir, env_names, network), **notebook_session(notebook)}
    warn_unisolated(backend)
    if once and prompt is None:
        raise UsageError("--once needs a PROMPT")
    if not once and as_json:
        raise UsageError("--json needs --once")
    system = DEFAULT_SYSTEM
    if system_file is not None:
        try:
            system = Path(system_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read --system {system_file}: {exc}") from exc
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    api_key = os.environ.pop("OPENAI_API_KEY", None)  # the program never sees it
    if not api_key:
        if base_url is None:
            raise UsageError("no API key: set OPENAI_API_KEY (or give --base-url for a local server)")
        api_key = _PLACEHOLDER_KEY
    view = _View(None if as_json else sys.stdout)
    try:
        chat, ended = asyncio.run(
            _go(
                prompt,
                once=once,
                model=model,
                base_url=base_url,
                api_key=api_key,
                backend=backend,
                options=options,
                system=system,
                max_turns=max_turns,
                save=Path(save) if save else None,
                resume=Path(resume) if resume else None,
                view=view,
            )
        )
    except ChatError as exc:
        partial = getattr(exc, "chat", None)
        if as_json and partial is not None:
            _print_json(partial, "error", str(exc))
        click.echo(f"eager: error: {' '.join(str(exc).split())}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    if as_json:
        _print_json(chat, ended, None)
    sys.exit(0 if ended == "answer" else 1)


def _print_json(chat: Chat, ended: str, error: str | None) -> None:
    click.echo(
        json.dumps(
            {"ended": ended, "error": error, "turns": [t.to_dict() for t in chat.turns], "messages": chat.messages},
            indent=2,
        )
    )

