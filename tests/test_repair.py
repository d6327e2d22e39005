"""Tests for the repair loop (eagerexec.pipeline._repair): partial continuation and full rewrite."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence

import pytest

from eagerexec import UsageError
from eagerexec.pipeline._repair import failing_cut, repair_messages, repair_run
from eagerexec.pipeline._result import Result
from eagerexec.pipeline._session import Session
from eagerexec.sources import Source, as_source


class Scripted:
    """make_source that plays programs in order and records each conversation."""

    def __init__(self, *programs: str) -> None:
        self.programs = list(programs)
        self.seen: list[list[dict[str, str]]] = []

    def __call__(self, messages: Sequence[Mapping[str, str]]) -> Source:
        self.seen.append([dict(m) for m in messages])
        return as_source(self.programs.pop(0))


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


FIRST = (
    "import math\nr = 3\narea = math.pi * r ** 2\nprint(round(area, 2))\nside = area / nothing\nprint(side)\n"
)


def test_partial_repair_keeps_session_state() -> None:
    src = Scripted(FIRST, "nothing = 2\nside = area / nothing\nprint(round(side, 2))\n")

    async def go():  # type: ignore[no-untyped-def]
        async with Session("local") as s:
            return await repair_run(s, src, "compute", attempts=3)

    rep = run(go())
    assert rep.ok and rep.repairs == 1 and len(rep.attempts) == 2
    assert rep.attempts[0].error is not None and rep.attempts[0].error.type == "NameError"
    assert rep.final.stdout == "14.14\n"  # `area` survived from the first attempt
    assert rep.code.startswith(
        "import math\nr = 3\narea = math.pi * r ** 2\nprint(round(area, 2))\nnothing = 2\n"
    )
    convo = src.seen[1]
    assert convo[0] == {"role": "user", "content": "compute"}
    assert "side = area / nothing" in convo[1]["content"]
    assert "print(side)" not in convo[1]["content"]
    assert "line 5" in convo[2]["content"] and "NameError" in convo[2]["content"]


def test_partial_repair_gives_up_after_attempts() -> None:
    src = Scripted("x = 1\ny = x / 0\n", "y = x / 0\n", "y = x / 0\n")

    async def go():  # type: ignore[no-untyped-def]
        async with Session("local") as s:
            return await repair_run(s, src, "p", attempts=2)

    rep = run(go())
    assert not rep.ok and rep.repairs == 2 and len(src.seen) == 3
    # Second repair: the conversation shows everything kept so far plus the new failing line.
    assert src.seen[2][1]["content"].count("x = 1") == 1
    assert "line 2" in src.seen[2][2]["content"]


def test_full_repair_uses_fresh_session() -> None:
    src = Scripted("a = 5\nprint(a / b)\n", "print(a)\n", "a = 5\nb = 1\nprint(a / b)\n")

    async def go():  # type: ignore[no-untyped-def]
        async with Session("local") as s:
            return await repair_run(
                s, src, "p", attempts=3, strategy="full", new_session=lambda: Session("local")
            )

    rep = run(go())
    # The second program relied on `a` from the first session: a fresh session does not have it.
    assert rep.attempts[1].error is not None and rep.attempts[1].error.type == "NameError"
    assert rep.ok and rep.repairs == 2 and rep.final.stdout == "5.0\n"
    assert rep.code == "a = 5\nb = 1\nprint(a / b)\n"
    assert (
        "print(a / b)" in src.seen[1][1]["content"] and "whole corrected program" in src.seen[1][2]["content"]
    )


def test_no_error_means_no_repair() -> None:
    src = Scripted("print('fine')\n")

    async def go():  # type: ignore[no-untyped-def]
        async with Session("local") as s:
            return await repair_run(s, src, "p", attempts=2)

    rep = run(go())
    assert rep.ok and rep.repairs == 0 and len(src.seen) == 1
    assert rep.to_dict()["attempts"][0]["stdout"] == "fine\n"


def test_bad_arguments() -> None:
    async def go(**kw):  # type: ignore[no-untyped-def]
        async with Session("local") as s:
            return await repair_run(s, Scripted("x=1\n"), "p", **kw)

    with pytest.raises(UsageError):
        run(go(attempts=-1))
    with pytest.raises(UsageError):
        run(go(attempts=1, strategy="full"))
    with pytest.raises(UsageError):
        run(go(attempts=1, strategy="sideways"))


def test_failing_cut_inside_function_points_at_the_call() -> None:
    program = "def f(v):\n    return 1 / v\n\nx = 3\nprint(f(0))\n"

    async def go():  # type: ignore[no-untyped-def]
        async with Session("local", mode="serial") as s:
            return await s.run(program)

    result = run(go())
    assert result.error is not None
    assert failing_cut(result) == 5
    messages, kept = repair_messages("p", result, "partial")
    assert kept == "def f(v):\n    return 1 / v\n\nx = 3\n"
    assert "from line 5 on" in messages[-1]["content"]


def _failed(program: str, mode: str = "serial") -> Result:
    async def go() -> Result:
        async with Session("local", mode=mode) as s:  # type: ignore[arg-type]
            return await s.run(program)

    result: Result = run(go())
    assert result.error is not None
    return result


def test_failing_cut_reads_the_structured_record_not_the_traceback_text() -> None:
    program = "def f(v):\n    return 1 / v\n\nx = 3\nprint(f(0))\n"
    result = _failed(program)
    err = result.error
    assert err is not None and err.statement_line == 5 and err.frames
    # A traceback text naming other lines changes nothing: it is never parsed.
    misleading = dataclasses.replace(err, traceback='File "program.py", line 1\nline 2\n')
    assert failing_cut(dataclasses.replace(result, error=misleading)) == 5
    # Without statement_line: the chunk index; without both: the outermost frame's line.
    by_chunk = dataclasses.replace(misleading, statement_line=None)
    assert by_chunk.chunk is not None
    assert failing_cut(dataclasses.replace(result, error=by_chunk)) == 5
    by_frame = dataclasses.replace(by_chunk, chunk=None, line=None)
    assert next(f.line for f in by_frame.frames if f.in_program) == 5
    assert failing_cut(dataclasses.replace(result, error=by_frame)) == 5
    nothing = dataclasses.replace(by_frame, frames=())
    assert failing_cut(dataclasses.replace(result, error=nothing)) == 1  # one batch: its first chunk


def test_partial_cut_keeps_lines_holding_unicode_line_separators() -> None:
    # The same lines without the separators run; the cut is then taken on the text holding them.
    ran = _failed("s = 'abc'\nprint(len(s))\nprint(s / 0)\nprint('never')\n")
    program = "s = 'a\u2028b\x0cc'\nprint(len(s))\nprint(s / 0)\nprint('never')\n"
    result = dataclasses.replace(ran, code=program)
    assert failing_cut(result) == 3
    messages, kept = repair_messages("p", result, "partial")
    assert kept == "s = 'a\u2028b\x0cc'\nprint(len(s))\n"
    assert "from line 3 on" in messages[-1]["content"]
    assert "print('never')" not in messages[1]["content"]


KILLS_ITSELF = "x = 21\nprint(x, flush=True)\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)\nprint('after')\n"


def test_partial_repair_after_a_restart_asks_for_the_whole_program() -> None:
    """Bug 5: the session was restarted mid-run, so nothing may be claimed to be still defined."""
    src = Scripted(KILLS_ITSELF, "x = 21\nprint(x * 2)\n")

    async def go():  # type: ignore[no-untyped-def]
        async with Session("local") as s:
            return await repair_run(s, src, "p", attempts=2)

    rep = run(go())
    first = rep.attempts[0]
    assert first.state_lost and first.error is not None and first.error.origin == "backend"
    assert first.stdout == "21\n"
    request = src.seen[1][-1]["content"]
    assert "still defined" not in request
    assert "restarted" in request and "gone" in request and "whole corrected program" in request
    assert "os.kill" in src.seen[1][1]["content"]  # the model sees what it wrote
    assert rep.ok and rep.repairs == 1 and rep.final.stdout == "42\n"
    assert rep.code == "x = 21\nprint(x * 2)\n"  # nothing from before the restart is kept


def test_repair_messages_when_state_lost_keep_nothing() -> None:
    result = _failed("a = 1\nprint(a / 0)\n")
    restarted = dataclasses.replace(result, state_lost=True)
    messages, kept = repair_messages("p", restarted, "partial", before="b = 2\n")
    assert kept == ""
    assert "b = 2\na = 1\n" in messages[1]["content"]
    assert "still defined" not in messages[-1]["content"] and "restarted" in messages[-1]["content"]
    # Without the restart, the same run gets a continuation request that keeps the state.
    messages, kept = repair_messages("p", result, "partial", before="b = 2\n")
    assert kept == "b = 2\na = 1\n" and "still defined" in messages[-1]["content"]
