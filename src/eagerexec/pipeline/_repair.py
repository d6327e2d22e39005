"""Repair loops: when the generated program fails, ask the same model to fix it, up to K times.

Two strategies (the paper's section on partial-code repair, Table 3):

* ``partial``: the session keeps the state of every statement that already ran. The model is
  shown the program *cut at the failing statement* plus the error, and asked to write only the
  code that continues from that statement on (a fixed version of it, then the rest). The
  continuation runs on the *same* session, so nothing that ran is run again.
* ``full``: the model is shown the whole program it wrote plus the error and asked for a whole
  corrected program, which runs from scratch on a *fresh* session.

The failing statement comes from the run's structured record: ``RunError.statement_line`` (the
first line of the statement that was running, located by the pipeline from the traceback's
frames), else ``RunError.chunk``, else the outermost frame's line; the traceback text is never
parsed.

When the session's interpreter was restarted during the run (``Result.state_lost``: a death, a
kill after a timeout), the statements before the failure no longer have any effect: telling the
model that their variables are still defined would be false. ``partial`` then asks for the
whole corrected program instead of a continuation, says why (the session was restarted and the
earlier statements' state is gone), and runs it on the same session; the code kept from before
is dropped, since none of it is in effect any more.

The model is reached through ``make_source(messages)``, a factory that turns a conversation
(user/assistant turns, without a system prompt: the factory adds its own) into a ``Source``;
``OpenAISource(messages=...)`` fits. Errors whose origin is ``source`` (the model endpoint
failed) are not repaired: the loop stops and reports them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .._exceptions import UsageError
from ..sources import Source
from ._result import Result, RunError

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["RepairReport", "failing_cut", "repair_messages", "repair_run"]

Messages = list[dict[str, str]]
Strategy = Literal["partial", "full"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RepairReport:
    """What a repair loop did.

    Attributes:
        strategy: ``partial`` or ``full``.
        attempts: the result of every run, the first generation then each repair.
        code: the program as finally assembled (partial: the statements that ran before each
            failure followed by the continuations; full: the last program).
        ok: the last attempt ran without error.
        repairs: how many repair requests were made.
        messages: the conversation of the last request.
    """

    strategy: Strategy
    attempts: tuple[Result, ...]
    code: str
    ok: bool
    repairs: int
    messages: tuple[Mapping[str, str], ...] = ()

    @property
    def final(self) -> Result:
        """The last attempt's result."""
        return self.attempts[-1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "ok": self.ok,
            "repairs": self.repairs,
            "code": self.code,
            "attempts": [a.to_dict() for a in self.attempts],
        }


def failing_cut(result: Result) -> int:
    """The 1-based line where the failing statement starts in ``result.code``.

    In order: ``error.statement_line`` (set by the pipeline from the structured frames); the
    start of chunk ``error.chunk``; the chunk (of the call that raised, else any) holding the
    outermost traceback frame's line in the program (the statement that was running: a failure inside a
    function called from it still has it as the outermost frame), else ``error.line``; the
    first chunk of the call that raised. Without any timeline, the error line itself.

    Args:
        result: a failed run.

    Returns:
        The first line of the failing statement (1 when nothing is known: repair everything).
    """
    err = result.error
    if err is None:
        return len(result.code.splitlines()) + 1
    if err.statement_line is not None:
        return err.statement_line
    by_index = {c.index: c for c in result.chunks}
    if err.chunk is not None and err.chunk in by_index:
        return by_index[err.chunk].start_line
    failed = [b for b in result.batches if not b.ok]
    candidates = [by_index[i] for i in (failed[-1].chunks if failed else ()) if i in by_index]
    outermost = next((f.line for f in err.frames if f.in_program), None)
    lines = [line for line in (outermost, err.line) if line is not None]
    for pool in (candidates, list(result.chunks)):
        for line in lines:
            for chunk in pool:
                if chunk.start_line <= line <= chunk.end_line:
                    return chunk.start_line
    if candidates:
        return min(c.start_line for c in candidates)
    return err.line if err.line is not None else 1


_LINE_END = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")


def _split_lines(text: str) -> list[str]:
    """``text`` cut into lines at Python's line ends only (``\n``, ``\r\n``, ``\r``), ends kept;
    ``str.splitlines`` would also cut inside strings holding U+2028, form feeds and the like."""
    lines = _LINE_END.findall(text)
    rest = text[sum(map(len, lines)) :]
    return [*lines, rest] if rest else lines


def _error_text(err: RunError) -> str:
    if err.traceback.strip():
        return err.traceback.strip()
    return str(err)


def _fence(code: str) -> str:
    return f"```python\n{code.rstrip()}\n```"


def repair_messages(
    prompt: str, result: Result, strategy: Strategy, *, before: str = ""
) -> tuple[Messages, str]:
    """The conversation asking the model to repair a failed run, and the code kept from it.

    Args:
        prompt: the user's original request.
        result: the failed run.
        strategy: ``partial`` (continue from the failing statement) or ``full`` (rewrite).
        before: (``partial``) code that ran in the session before ``result``'s program (the
            kept part of earlier attempts); it is shown ahead of ``result.code``.

    Returns:
        ``(messages, kept)``: the user/assistant turns to send, and for ``partial`` the code
        before the failing statement (already run in the session; ``''`` for ``full``, and for
        ``partial`` when ``result.state_lost``: the session was restarted, so nothing before is
        in effect and the model is asked for the whole program, told why).
    """
    err = result.error
    assert err is not None
    if strategy == "full":
        messages = [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": _fence(result.code)},
            {
                "role": "user",
                "content": (
                    f"Running this program failed with:\n\n{_error_text(err)}\n\n"
                    "Write the whole corrected program. It will run from the start in a fresh "
                    "interpreter."
                ),
            },
        ]
        return messages, ""
    if before and not before.endswith(("\n", "\r")):
        before += "\n"
    if result.state_lost:
        return _restarted_messages(prompt, before + result.code, err), ""
    lines = _split_lines(result.code)
    cut = failing_cut(result)
    kept = "".join(lines[: cut - 1])
    partial = "".join(lines[:cut])  # up to and including the failing statement's first line
    by_start = {c.start_line: c for c in result.chunks}
    if cut in by_start:
        partial = "".join(lines[: by_start[cut].end_line])
    partial = before + partial
    cut += len(_split_lines(before))
    messages = [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": _fence(partial)},
        {
            "role": "user",
            "content": (
                f"The program was run statement by statement as you wrote it. The statement "
                f"starting at line {cut} failed with:\n\n{_error_text(err)}\n\n"
                f"Lines 1-{cut - 1} already ran: their imports, variables and functions are "
                "still defined in the interpreter. Do not repeat them. Write only the code that "
                f"continues from line {cut} on: a corrected version of the failing statement, "
                "then the rest of the program."
                if cut > 1
                else (
                    f"The program was run as you wrote it and failed with:\n\n{_error_text(err)}\n\n"
                    "Nothing before the failing statement ran. Write the corrected program."
                )
            ),
        },
    ]
    return messages, before + kept


def _restarted_messages(prompt: str, code: str, err: RunError) -> Messages:
    """The partial strategy's request when the session was restarted during the run."""
    where = f"The statement starting at line {err.statement_line}" if err.statement_line else "It"
    return [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": _fence(code)},
        {
            "role": "user",
            "content": (
                f"The program was run statement by statement as you wrote it. {where} failed "
                f"with:\n\n{_error_text(err)}\n\nDuring the run the interpreter session was "
                "restarted: the imports, variables and functions the earlier statements defined "
                "are gone. Write the whole corrected program, from the first line, including "
                "everything it needs: it runs in that session, where nothing from before is "
                "defined."
            ),
        },
    ]


async def repair_run(
    session: Session,
    make_source: Callable[[Sequence[Mapping[str, str]]], Source],
    prompt: str,
    *,
    attempts: int,
    strategy: Strategy = "partial",
    new_session: Callable[[], Session] | None = None,
    on_attempt: Callable[[int, Result], None] | None = None,
) -> RepairReport:
    """Generate a program with the model, run it, and repair it on error up to ``attempts`` times.

    Args:
        session: an entered ``Session``; the first generation runs on it (and, with ``partial``,
            every continuation too).
        make_source: builds the model's stream from a conversation (user/assistant turns).
        prompt: the user's request.
        attempts: the most repair requests to make (0: just run once).
        strategy: ``partial`` (continue on the same session from the failing statement) or
            ``full`` (a whole new program on a fresh session from ``new_session``).
        new_session: a factory of *unentered* sessions, required by ``full``.
        on_attempt: called after each run with its number (0 = the first generation).

    Returns:
        A ``RepairReport``; errors in the program are data, as in ``Result``.

    Raises:
        UsageError: bad arguments (negative attempts, unknown strategy, ``full`` without
            ``new_session``).
    """
    if attempts < 0:
        raise UsageError(f"attempts must be >= 0, not {attempts}")
    if strategy not in ("partial", "full"):
        raise UsageError(f"strategy must be 'partial' or 'full', not {strategy!r}")
    if strategy == "full" and attempts > 0 and new_session is None:
        raise UsageError("strategy 'full' needs new_session (each rewrite runs on a fresh session)")
    messages: Messages = [{"role": "user", "content": prompt}]
    result = await session.run(make_source(messages))
    if on_attempt is not None:
        on_attempt(0, result)
    results = [result]
    code = result.code
    kept = ""  # partial: the code that ran before the current attempt's program
    repairs = 0
    while result.error is not None and result.error.origin != "source" and repairs < attempts:
        repairs += 1
        messages, kept = repair_messages(prompt, result, strategy, before=kept)
        source = make_source(messages)
        if strategy == "partial":
            result = await session.run(source)
            code = kept + result.code
        else:
            assert new_session is not None
            async with new_session() as fresh:
                result = await fresh.run(source)
            code = result.code
        results.append(result)
        if on_attempt is not None:
            on_attempt(repairs, result)
    return RepairReport(
        strategy=strategy,
        attempts=tuple(results),
        code=code,
        ok=result.error is None,
        repairs=repairs,
        messages=tuple(messages),
    )
