"""Session rules: one run at a time, source failures recorded (never raised), cancellation that
never hangs, misspelt options named, lost state said, and the typed events of a run."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest

import eagerexec as ee
from eagerexec import Session


def arun(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, 60))


async def _slowly(pieces: list[str], pause: float = 0.05) -> AsyncIterator[str]:
    for piece in pieces:
        yield piece
        await asyncio.sleep(pause)


# -- bug 1: two runs on one session ---------------------------------------------------------
def test_a_second_run_while_one_is_active_is_refused_at_once() -> None:
    async def main() -> tuple[ee.Result, BaseException | None, ee.Result]:
        async with Session("local") as s:
            first = asyncio.create_task(s.run(_slowly(["import time\n", "time.sleep(0.3)\n", "print('one')\n"])))
            await asyncio.sleep(0.1)
            assert s.busy
            err: BaseException | None = None
            try:
                await asyncio.wait_for(s.run("print('two')\n"), 5)
            except ee.SessionBusyError as exc:
                err = exc
            a = await asyncio.wait_for(first, 10)
            b = await s.run("print('three')\n")  # free again
            return a, err, b

    a, err, b = arun(main())
    assert isinstance(err, ee.SessionBusyError) and "busy" in str(err)
    assert a.ok and a.stdout == "one\n"
    assert b.ok and b.stdout == "three\n"


# -- bug 2: a user's iterable that raises -----------------------------------------------------
def _sync_failing() -> Iterator[str]:
    yield "print('ran')\n"
    yield "x = 1\n"
    raise ValueError("feed broke")


async def _async_failing() -> AsyncIterator[str]:
    yield "print('ran')\n"
    await asyncio.sleep(0.05)
    yield "x = 1\n"
    await asyncio.sleep(0.05)
    raise ValueError("feed broke")


@pytest.mark.parametrize("make", [_sync_failing, _async_failing], ids=["sync", "async"])
@pytest.mark.parametrize("mode", ["eager", "serial"])
def test_a_failing_iterable_is_recorded_and_output_kept(make, mode: str) -> None:  # type: ignore[no-untyped-def]
    async def main() -> ee.Result:
        async with Session("local", mode=mode) as s:
            return await s.run(make())

    r = arun(main())
    assert r.error is not None
    assert (r.error.origin, r.error.type, r.error.message) == ("source", "ValueError", "feed broke")
    assert r.code == "print('ran')\nx = 1\n"
    # eager mode ran what arrived; serial mode never runs a truncated program
    assert r.stdout == ("ran\n" if mode == "eager" else "")


# -- bug 3: cancellation ----------------------------------------------------------------------
def test_cancelling_the_caller_raises_promptly_and_leaves_nothing_running() -> None:
    async def main() -> tuple[float, int, int, ee.Result]:
        before = len(asyncio.all_tasks())
        async with Session("local") as s:
            task = asyncio.create_task(s.run(_slowly(["import time\n", "time.sleep(30)\n", "print('no')\n"])))
            await asyncio.sleep(0.5)
            loop = asyncio.get_running_loop()
            t = loop.time()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            took = loop.time() - t
            pid = s.backend.worker_pid  # type: ignore[attr-defined]
            after = await s.run("print('still here')\n")
        # the session's worker is reaped once the session is closed
        assert pid is not None
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return took, before, len(asyncio.all_tasks()), after

    took, before, after_tasks, after = arun(main())
    assert took < 1.0
    assert after_tasks == before
    assert after.stdout == "still here\n"


def test_cancelling_a_session_that_ignores_the_interrupt_still_returns() -> None:
    program = [
        "import time\n",
        "while True:\n    try:\n        time.sleep(1)\n    except KeyboardInterrupt:\n        pass\n",
    ]

    async def main() -> float:
        async with Session("local", grace=0.3) as s:
            task = asyncio.create_task(s.run(program))
            await asyncio.sleep(0.5)
            loop = asyncio.get_running_loop()
            t = loop.time()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return loop.time() - t

    assert arun(main()) < 1.0


async def _cancelled_from_inside() -> AsyncIterator[str]:
    yield "print('before')\n"
    await asyncio.sleep(0.05)
    raise asyncio.CancelledError()  # what an httpx/anyio stack can do to a pending read


def test_a_source_cancelled_by_its_own_stack_is_a_source_error_not_a_hang() -> None:
    async def main() -> ee.Result:
        async with Session("local") as s:
            return await s.run(_cancelled_from_inside())

    r = arun(main())
    assert r.stdout == "before\n"
    assert r.error is not None and r.error.origin == "source"


def test_aclose_does_not_swallow_the_callers_cancellation() -> None:
    async def main() -> bool:
        s = Session("local")
        await s.__aenter__()

        async def closer() -> None:
            await s.aclose()
            await asyncio.sleep(10)  # must not be reached when cancelled during the close

        task = asyncio.create_task(closer())
        await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    assert arun(main())


# -- bug 4: misspelt options ------------------------------------------------------------------
def test_a_misspelt_session_option_is_named_with_the_valid_ones() -> None:
    with pytest.raises(ee.UnknownOptionError) as info:
        Session("local", timeot=3)
    message = str(info.value)
    assert "'timeot'" in message and "timeout" in message and "python" in message


def test_a_misspelt_backend_option_is_named() -> None:
    with pytest.raises(ee.UnknownOptionError, match="'pyhton'"):
        ee.open_backend("local", pyhton="python3")


def test_options_with_a_backend_instance_are_refused() -> None:
    backend = ee.open_backend("local")
    with pytest.raises(ee.UnknownOptionError, match="workdir"):
        Session(backend, workdir="/tmp")


# -- bug 5: lost state is said ----------------------------------------------------------------
def test_a_worker_death_marks_the_state_lost_in_this_run_and_the_next() -> None:
    events: list[ee.Event] = []

    async def main() -> tuple[ee.Result, ee.Result]:
        async with Session("local", on_event=events.append) as s:
            a = await s.run("x = 1\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
            b = await s.run("print('x' in globals())\n")
            return a, b

    a, b = arun(main())
    assert a.state_lost and a.error is not None and a.error.origin == "backend"
    assert b.state_lost and b.stdout == "False\n"
    lost = [e for e in events if isinstance(e, ee.StateLost)]
    assert len(lost) == 2


# -- the typed record -------------------------------------------------------------------------
def test_events_carry_chunks_batches_outcomes_and_the_failing_statement() -> None:
    events: list[ee.Event] = []
    program = "x = 1\ndef f():\n    return 1 / 0\nprint('a')\nf()\nprint('never')\n"
    r = ee.run(_slowly(program.splitlines(keepends=True), 0.05), on_event=events.append)
    kinds = [type(e).__name__ for e in events]
    assert kinds[-1] == "RunFinished"
    assert "GenerationStopped" in kinds
    ready = [e for e in events if isinstance(e, ee.ChunkReady)]
    assert "".join(e.chunk.text for e in ready) == r.code[: sum(len(e.chunk.text) for e in ready)]
    assert [e.index for e in ready] == list(range(len(ready)))
    ended = [e for e in events if isinstance(e, ee.BatchEnded)]
    assert ended[-1].error is not None and ended[-1].error == r.error
    assert r.error is not None and r.error.type == "ZeroDivisionError"
    failing = ready[r.error.chunk].chunk  # type: ignore[index]
    assert failing.text == "f()\n" and r.error.statement_line == 5
    assert [f.line for f in r.error.frames][-2:] == [5, 3]
    outputs = "".join(e.text for e in events if isinstance(e, ee.OutputReceived))
    assert outputs == r.stdout + r.stderr


def test_the_run_output_limit_keeps_head_and_tail_the_same_in_both_modes() -> None:
    program = "for i in range(3):\n    print('x' * 3000)\nprint('the end')\n"
    results = {mode: ee.run(program, mode=mode, max_output=1000) for mode in ("eager", "serial")}
    for r in results.values():
        assert r.stdout.startswith("x" * 500)
        assert r.stdout.endswith("\n" + "x" * 491 + "\nthe end\n")
        assert r.output_dropped == len("x" * 3000 + "\n") * 3 + len("the end\n") - 1000
    assert results["eager"].stdout == results["serial"].stdout


def test_outputs_are_records_the_same_in_both_modes() -> None:
    # across stdout and stderr the order is the pipes' (as for `python prog.py | ...`): only
    # each stream's own order is asserted
    program = "import sys\nprint('a')\nprint('b', file=sys.stderr)\nprint('c')\nprint('d')\n"
    results = {mode: ee.run(program, mode=mode) for mode in ("eager", "serial")}
    for r in results.values():
        for stream in ("stdout", "stderr"):
            text = "".join(o.data["text/plain"] for o in r.outputs if o.type == stream)
            assert text == getattr(r, stream)
        assert {"type": "stderr", "data": {"text/plain": "b\n"}} in r.to_dict()["outputs"]
    only_stdout = {mode: ee.run("for i in range(3):\n    print(i)\nprint('x')\n", mode=mode) for mode in ("eager", "serial")}
    assert only_stdout["eager"].outputs == only_stdout["serial"].outputs
    assert [o.type for o in only_stdout["eager"].outputs] == ["stdout"]


def test_show_traceback_prints_it_where_python_does_once() -> None:
    program = "print('a')\ndef f():\n    return 1 / 0\nf()\n"
    shown = ee.run(program, show_traceback=True)
    assert shown.error is not None and shown.error.printed
    assert shown.stderr.count("Traceback (most recent call last):") == 1
    assert shown.stderr.rstrip().endswith("ZeroDivisionError: division by zero")
    assert shown.exit_code == 1  # the program ended with this run: python's status
    quiet = ee.run(program)
    assert quiet.error is not None and not quiet.error.printed and quiet.stderr == ""
    assert "ZeroDivisionError" in quiet.error.traceback
