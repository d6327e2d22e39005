"""Tests of the pipeline: eager vs serial equivalence, dynamic batching, gating, early error
interruption (the source is closed at once), complete-code semantics, sys.exit, timelines,
sessions that keep state, warm pools, and no leftover tasks."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai_server import OpenAIServer, Script
from programs_util import programs

import eagerexec as ee
from eagerexec import IterableSource, ReplaySource, Session, SessionPool
from eagerexec.backends import ExecRequest, Outcome
from eagerexec.backends.local import LocalBackend

PROGRAM = """import time
print("start")
def double(x):
    return x * 2
class Box:
    pass
time.sleep(0.05)
print(double(21))
for i in range(2):
    print(i)
"""

FAILING = 'print("before")\nx = 1 / 0\nprint("after")\n' + "y = 2\n" * 200


def arun(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, 120))


async def one(source: object, **kw: object) -> ee.Result:
    async with Session("local", **kw) as s:  # type: ignore[arg-type]
        # started before the stream: what a test sees does not depend on how long the
        # interpreter took to start on a loaded machine
        await s.backend.start()
        return await s.run(source)  # type: ignore[arg-type]


def test_eager_and_serial_same_output_and_sane_metrics() -> None:
    serial = arun(one(ReplaySource(PROGRAM, tps=2000), mode="serial"))
    eager = arun(one(ReplaySource(PROGRAM, tps=300), mode="eager"))
    assert serial.stdout == eager.stdout == "start\n42\n0\n1\n"
    assert serial.ok and eager.ok
    assert len(serial.batches) == 1 and len(eager.batches) >= 2
    for r in (serial, eager):
        m = r.metrics
        assert m.ttft >= 0 and m.t_gen >= m.ttft and m.nel >= 0
        assert m.e2el == pytest.approx(m.t_gen + m.nel)
        assert r.code == PROGRAM
        for c in r.chunks:
            assert c.generated_at <= c.ready_at
            if c.exec_start is not None:
                assert c.ready_at <= c.exec_end  # type: ignore[operator]
    d = eager.to_dict()
    assert set(d["metrics"]) == {"t_gen", "ttft", "nel", "e2el"}
    assert {"stream", "chunks", "batches"} <= set(d["timeline"])


def test_gating_defers_definitions_into_the_next_batch() -> None:
    # each chunk arrives as its own delta, slowly enough that the executor is idle in between
    src = ["import os\n", "def f():\n    return 1\n", "class A:\n    pass\n", "x = f()\n", "print(x)\n"]

    async def slow() -> object:
        for piece in src:
            yield piece
            await asyncio.sleep(0.05)

    r = arun(one(IterableSource(slow())))
    kinds = {c.index: c.kind for c in r.chunks}
    for b in r.batches:
        # a batch never ends with a definition while the stream is still going
        assert kinds[b.chunks[-1]] != "definition" or b.index == len(r.batches) - 1
    by_index = {c.index: c.batch for c in r.chunks}
    assert by_index[1] == by_index[2] == by_index[3]  # def f and class A merged with `x = f()`
    assert r.stdout == "1\n"


def test_runtime_error_stops_generation_early() -> None:
    r = arun(one(ReplaySource(FAILING, tps=400)))
    assert r.error is not None and r.error.type == "ZeroDivisionError" and r.error.line == 2
    assert r.error.origin == "runtime"
    assert r.stopped_early
    assert len(r.code) < len(FAILING)
    assert r.stdout == "before\n"
    assert r.stream.closed_early


def test_continue_on_error_keeps_generating_and_reports_at_the_end() -> None:
    r = arun(one(ReplaySource(FAILING, tps=4000), stop_on_error=False))
    assert r.error is not None and r.error.type == "ZeroDivisionError"
    assert not r.stopped_early
    assert r.code == FAILING
    assert r.stdout == "before\n"  # nothing after the error ran, as in serial execution


def test_syntax_error_chunk_stops_generation() -> None:
    src = "print(1)\nx = = 2\n" + "y = 3\n" * 200
    r = arun(one(ReplaySource(src, tps=400)))
    assert r.error is not None and r.error.origin == "syntax" and r.error.line == 2
    assert r.stopped_early and r.stdout == "1\n"


def test_sys_exit_stops_with_status() -> None:
    r = arun(one("print('a')\nimport sys\nsys.exit(3)\nprint('b')\n"))
    assert r.exit_code == 3 and r.stdout == "a\n"
    r0 = arun(one("print('a')\nimport sys\nsys.exit(0)\nprint('b')\n"))
    assert r0.exit_code == 0 and r0.ok and r0.stdout == "a\n"


def test_session_keeps_state_between_runs_and_no_tasks_leak() -> None:
    async def main() -> tuple[ee.Result, ee.Result, int, int]:
        before = len(asyncio.all_tasks())
        async with Session("local") as s:
            a = await s.run("x = 41\n")
            b = await s.run(["print(x ", "+ 1)\n"])
        return a, b, before, len(asyncio.all_tasks())

    a, b, before, after = arun(main())
    assert a.ok and b.stdout == "42\n"
    assert after == before  # the runs left nothing running


def test_pool_gives_started_sessions() -> None:
    async def main() -> ee.Result:
        async with SessionPool("local", size=1, preload=("json",)) as pool:
            backend = await pool.acquire()
            assert backend._started
            await backend.aclose()
            async with Session(pool=pool) as s:
                return await s.run("import sys\nprint('json' in sys.modules)\n")

    assert arun(main()).stdout == "True\n"


def test_bad_options_fail_clearly() -> None:
    with pytest.raises(ee.UnknownBackendError, match="unknown backend"):
        Session("nope")
    with pytest.raises(ee.UsageError, match="mode"):
        Session("local", mode="fast")  # type: ignore[arg-type]

    async def inside() -> None:
        ee.run("x = 1\n")

    with pytest.raises(ee.UsageError, match="running event loop"):
        arun(inside())


def test_blocking_run() -> None:
    r = ee.run(ReplaySource("print('hi')\n", tps=1000))
    assert r.ok and r.stdout == "hi\n"


def test_error_closes_the_http_stream_before_it_completes() -> None:
    pieces = ["Here is the code:\n```python\n", "print('go')\n", "raise ValueError('boom')\n"]
    pieces += [f"z{i} = {i}\n" for i in range(300)] + ["```\n"]
    with OpenAIServer() as server:
        server.push(Script(content=pieces, delay=0.01))
        source = ee.OpenAISource("write code", model="m", base_url=server.base_url, api_key="k")
        r = arun(one(source))
        assert r.error is not None and r.error.type == "ValueError"
        assert r.stopped_early and r.stdout == "go\n"
        record = server.requests[-1]
        deadline = time.monotonic() + 2
        while record.disconnected_at is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert record.disconnected_at is not None
        assert not record.completed  # how soon it closes is measured in bench/, not asserted here


@pytest.mark.parametrize("program", programs(), ids=lambda p: p.stem)
def test_programs_eager_equals_serial(program: Path, tmp_path: Path) -> None:
    text = program.read_text(encoding="utf-8")
    rng = random.Random(program.stem)
    cuts = sorted(rng.sample(range(len(text)), min(len(text), 40)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=False)]
    (tmp_path / "s").mkdir()
    (tmp_path / "e").mkdir()
    serial = arun(one(text, mode="serial", workdir=tmp_path / "s"))
    eager = arun(one(pieces, mode="eager", workdir=tmp_path / "e"))
    assert eager.stdout == serial.stdout
    assert eager.exit_code == serial.exit_code
    assert (eager.error and (eager.error.type, eager.error.line)) == (serial.error and (serial.error.type, serial.error.line))


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(0, len(PROGRAM)), max_size=30))
def test_any_split_gives_the_same_output(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    pieces = [PROGRAM[a:b] for a, b in zip([0, *points], [*points, len(PROGRAM)], strict=False)]
    r = arun(one([p for p in pieces if p]))
    assert r.stdout == "start\n42\n0\n1\n" and r.ok


PLOT = """import matplotlib.pyplot as plt
plt.figure()
plt.plot([1, 2, 3])
plt.title("one")
plt.figure()
plt.plot([3, 2, 1])
plt.savefig("two.png")
plt.xlabel("x")
print("done")
"""


async def _slow(pieces: list[str], pause: float = 0.02):  # type: ignore[no-untyped-def]
    for piece in pieces:
        yield piece
        await asyncio.sleep(pause)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


@pytest.mark.parametrize("mode", ["eager", "serial"])
def test_figures_are_captured_once_in_their_final_state(mode: str) -> None:
    r = arun(one(IterableSource(_slow(_lines(PLOT))), mode=mode))
    assert r.ok and r.stdout == "done\n"
    if mode == "serial":
        assert len(r.batches) == 1
    else:
        assert len(r.batches) > 1  # the slow stream ran in several calls, captured once
    assert len(r.figures) == 2  # one PNG per open figure, drawn after the last statement
    assert all(Path(f).read_bytes()[:4] == b"\x89PNG" for f in r.figures)


def test_live_figures_capture_after_every_batch() -> None:
    async def main() -> ee.Result:
        async with Session("local", live_figures=True, preload=("matplotlib.pyplot",)) as s:
            await s.backend.start()  # started before the first line arrives, whatever the load
            return await s.run(IterableSource(_slow(_lines(PLOT), 0.15)))

    r = arun(main())
    assert r.ok and len(r.batches) > 3
    assert len(r.figures) > 2  # intermediate states too


@pytest.mark.parametrize("tail", ["x = 1 / 0\n", "import sys\nsys.exit(3)\n"])
def test_figures_are_captured_when_the_program_stops_early(tail: str) -> None:
    program = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\n" + tail + "print('never')\n" * 3000
    r = arun(one(IterableSource(_slow(_lines(program), 0.01))))
    assert r.stopped_early and r.stdout == ""
    assert len(r.figures) == 1 and Path(r.figures[0]).read_bytes()[:4] == b"\x89PNG"
    last = r.batches[-1]
    assert last.start <= last.exec_start <= last.exec_end <= last.end  # the capture is in the last call


def test_chunks_are_timed_one_by_one_within_a_batch() -> None:
    program = "import time\nx = 1\ntime.sleep(0.1)\nprint(x)\nraise ValueError('stop')\nprint('never')\n"
    r = arun(one(program))  # one delta: every chunk lands in one batch
    assert len(r.batches) == 1 and r.error is not None and r.error.type == "ValueError"
    timed = [c for c in r.chunks if c.exec_start is not None]
    assert [c.start_line for c in timed] == [1, 2, 3, 4, 5]
    sleep = r.chunks[2]
    assert sleep.exec_end - sleep.exec_start >= 0.09  # type: ignore[operator]
    assert r.chunks[5].exec_start is None  # never ran
    batch = r.batches[0]
    assert batch.exec_start <= timed[0].exec_start and timed[-1].exec_end <= batch.exec_end  # type: ignore[operator]


class _RecordingBackend(LocalBackend):
    """A local backend that notes the ``more`` flag of every call."""

    def __init__(self) -> None:
        super().__init__()
        self.more: list[bool] = []

    async def execute(self, request: ExecRequest) -> Outcome:
        self.more.append(request.more)
        return await super().execute(request)


@pytest.mark.parametrize(("mode", "idle_work"), [("eager", True), ("eager", False), ("serial", True)])
def test_only_eager_batches_before_the_end_offer_the_wait(mode: str, idle_work: bool) -> None:
    backend = _RecordingBackend()

    async def go() -> ee.Result:
        async with Session(backend, mode=mode, idle_work=idle_work) as s:  # type: ignore[arg-type]
            return await s.run(IterableSource(_slow(_lines(PROGRAM), 0.03)))

    r = arun(go())
    assert r.ok and r.stdout == "start\n42\n0\n1\n"
    assert backend.more[-1] is False  # the last call: nothing more will come
    if mode == "eager" and idle_work:
        assert len(backend.more) > 2 and all(backend.more[:-1])
    else:
        assert not any(backend.more)
