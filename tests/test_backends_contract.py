"""The backend contract: options, one call at a time, cancellation, the wire codec, portability.

Behaviour only: timeouts bound hangs, nothing asserts a duration. Processes are checked through
/proc (no psutil): a reaped worker has no /proc entry, and no child of this process outlives its
session.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eagerexec._exceptions import (
    BackendUnavailableError,
    SessionBusyError,
    UnknownOptionError,
    UsageError,
)
from eagerexec.backends import Backend, ExecRequest, Outcome, open_backend
from eagerexec.backends._options import (
    LimitOptions,
    Limits,
    WorkerOptions,
    WorkerSettings,
    cpu_count,
    option_names,
)
from eagerexec.backends._wire import (
    FLUSH_MESSAGE,
    PROGRAM_FILE,
    WORKER_ERROR,
    encode_request,
    error_of,
    interrupt_message,
    split_frames,
)
from eagerexec.backends._workerclient import WorkerBackend
from eagerexec.backends._workerproc import ExitWatch

WORKERS = ["local", "sandbox"]
WORKER_BACKENDS = [*WORKERS, "docker"]  # every backend that runs the worker's files
ALL = ["local", "sandbox", "docker", "jupyter"]
IMAGE = os.environ.get("EAGEREXEC_DOCKER_IMAGE", "eagerexec/python:bookworm")
STUBBORN = (  # ignores interrupts; prints inside the ``try`` so that it is in there once seen
    "import time\nwhile True:\n    try:\n        print('in', flush=True)\n        time.sleep(1)\n"
    "    except KeyboardInterrupt:\n        pass\n"
)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 120))  # type: ignore[arg-type]


def options_for(name: str) -> dict[str, Any]:
    return {"image": IMAGE} if name == "docker" else {}


def in_session(name: str, body: Callable[[Backend], Awaitable[Any]], **options: Any) -> Any:
    """Run ``body`` in a started session of backend ``name``; skip when it cannot run here."""

    async def main() -> Any:
        backend = open_backend(name, **options_for(name), **options)
        try:
            await backend.start()
        except BackendUnavailableError as exc:
            await backend.aclose()
            pytest.skip(str(exc))
        try:
            return await body(backend)
        finally:
            await backend.aclose()

    return run(main())


def children() -> set[int]:
    """Live (non-zombie) children of this process, and zombies (unreaped) of it as negatives."""
    found: set[int] = set()
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            found.add(-int(entry.name) if fields[0] == "Z" else int(entry.name))
    return found


def exists(pid: int) -> bool:
    """``pid`` has a /proc entry (alive, or a zombie nobody reaped)."""
    return Path(f"/proc/{pid}").exists()


# -- options ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_unknown_option_is_named_with_the_valid_ones(name: str) -> None:
    with pytest.raises(UnknownOptionError) as info:
        open_backend(name, pyhton="x")  # type: ignore[call-overload]
    assert "'pyhton'" in str(info.value) and "timeout" in str(info.value)
    assert info.value.options == ("pyhton",)
    assert "\n" not in str(info.value)


def test_each_backend_takes_its_groups_of_options() -> None:
    local = set(option_names(WorkerOptions))
    limits = set(option_names(LimitOptions))
    from eagerexec.backends.docker import DockerBackend
    from eagerexec.backends.jupyter import JupyterBackend
    from eagerexec.backends.local import LocalBackend
    from eagerexec.backends.sandbox import SandboxBackend

    # the backends that fork their sessions from a template take its server (SessionPool sets it)
    assert set(option_names(LocalBackend.options_type)) == local | {"fork_server"}
    sandbox = local | limits | {"ro_paths", "uid", "fork_server"}
    assert set(option_names(SandboxBackend.options_type)) == sandbox
    assert local | limits <= set(option_names(DockerBackend.options_type))
    assert not limits & set(option_names(JupyterBackend.options_type))
    # one definition of the limits: the dataclass has exactly the options' fields
    assert set(Limits.__dataclass_fields__) == limits


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("local", {"timeout": -1}),
        ("local", {"timeout": math.nan}),
        ("local", {"timeout": math.inf}),
        ("local", {"timeout": 0}),
        ("local", {"max_output": 1}),
        ("local", {"max_output": 10.5}),
        ("local", {"max_output": True}),
        ("local", {"grace": -0.1}),
        ("local", {"spin": 1.0}),
        ("sandbox", {"memory": 0}),
        ("sandbox", {"cpu": math.inf}),
        ("sandbox", {"uid": -5}),
        ("docker", {"processes": 2}),
        ("docker", {"cpus": 0}),
        ("jupyter", {"interrupt_grace": math.nan}),
        ("jupyter", {"timeout": "3"}),
    ],
)
def test_bad_values_are_one_line_usage_errors(name: str, options: dict[str, Any]) -> None:
    with pytest.raises(UsageError) as info:
        open_backend(name, **options)
    assert not isinstance(info.value, UnknownOptionError)
    assert "\n" not in str(info.value) and name in str(info.value)


def test_contract_is_five_public_abstract_methods() -> None:
    assert Backend.__abstractmethods__ == {"start", "execute", "interrupt", "restart", "aclose"}

    class Half(Backend):
        async def start(self) -> None: ...

    with pytest.raises(TypeError):
        Half()  # type: ignore[abstract]


def test_run_builds_the_request_and_rejects_unknown_fields() -> None:
    seen: list[ExecRequest] = []

    class Echo(Backend):
        name = "echo"

        async def start(self) -> None: ...

        async def execute(self, request: ExecRequest) -> Outcome:
            seen.append(request)
            return Outcome(stdout=request.code)

        async def interrupt(self) -> None: ...

        async def restart(self) -> None: ...

        async def aclose(self) -> None: ...

    async def main() -> None:
        async with Echo() as b:
            out = await b.run("x = 1", first_line=3, end=True)
            assert out.stdout == "x = 1"
            with pytest.raises(UnknownOptionError, match="firstline"):
                await b.run("x", firstline=2)

    run(main())
    assert seen == [ExecRequest(code="x = 1", first_line=3, end=True)]


# -- one call at a time ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_a_second_call_while_one_runs_is_refused_at_once(name: str) -> None:
    async def body(b: Backend) -> None:
        first = asyncio.create_task(b.run("import time\ntime.sleep(0.5)\nprint('first')"))
        await asyncio.sleep(0.05)
        with pytest.raises(SessionBusyError, match="already running"):
            await b.run("print('second')")
        done = await asyncio.wait_for(first, 30)
        assert done.ok and done.stdout == "first\n"
        after = await b.run("print('after')")  # the refusal left the session usable
        assert after.ok and after.stdout == "after\n"

    in_session(name, body)


def test_concurrent_calls_one_finishes_the_other_raises() -> None:
    async def body(b: Backend) -> None:
        results = await asyncio.wait_for(
            # the first call sleeps, so it is surely running when the second one starts (a
            # trivial call could reply within the host's spin, before the second one begins)
            asyncio.gather(b.run("import time\ntime.sleep(0.5)\nprint(1)"), b.run("print(2)"), return_exceptions=True),
            30,
        )
        outcomes = [r for r in results if isinstance(r, Outcome)]
        errors = [r for r in results if isinstance(r, BaseException)]
        assert len(outcomes) == 1 and outcomes[0].ok
        assert len(errors) == 1 and isinstance(errors[0], SessionBusyError)

    in_session("local", body)


# -- cancellation ----------------------------------------------------------------------------
async def started(b: Backend, code: str) -> asyncio.Task[Outcome]:
    """Start ``code`` and return once it printed its first line."""
    seen = asyncio.Event()
    b.on_output = lambda event: seen.set()
    task = asyncio.create_task(b.run(code))
    await asyncio.wait_for(seen.wait(), 30)
    b.on_output = None
    return task


@pytest.mark.parametrize("name", WORKERS)
def test_cancelled_stubborn_call_kills_and_reaps_and_next_call_is_fresh(name: str) -> None:
    async def body(b: Backend) -> None:
        assert isinstance(b, WorkerBackend)
        await b.run("x = 1")
        pid = b._proc.process.pid if b._proc is not None else -1
        tasks_before = asyncio.all_tasks()
        task = await started(b, STUBBORN)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        assert not exists(pid)  # killed and reaped before the cancellation propagated
        assert asyncio.all_tasks() - tasks_before == set()  # no task outlives the call
        after = await b.run("print('x' in globals())")
        assert after.ok and after.stdout == "False\n" and after.fresh_session and after.state_lost
        again = await b.run("print(1)")
        assert not again.fresh_session and not again.state_lost

    in_session(name, body)


def test_cancelled_stubborn_cell_kills_the_kernel_and_next_call_is_fresh() -> None:
    async def body(b: Backend) -> None:
        from eagerexec.backends.jupyter import JupyterBackend

        assert isinstance(b, JupyterBackend)
        await b.run("x = 1")
        pid = b._km.provisioner.process.pid
        task = await started(b, STUBBORN)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        assert not exists(pid)  # killed and reaped before the cancellation propagated
        after = await b.run("print('x' in globals())")
        assert after.ok and after.stdout == "False\n" and after.fresh_session and after.state_lost

    in_session("jupyter", body)


@pytest.mark.parametrize("name", WORKERS)
def test_cancelled_interruptible_call_keeps_the_session(name: str) -> None:
    async def body(b: Backend) -> None:
        await b.run("x = 1")
        task = await started(b, "import time\nprint('in', flush=True)\ntime.sleep(60)")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        after = await b.run("print(x)")
        assert after.ok and after.stdout == "1\n" and not after.fresh_session

    in_session(name, body)


@pytest.mark.parametrize("name", WORKERS)
def test_aclose_after_cancel_leaves_no_process(name: str) -> None:
    before = children()

    async def main() -> None:
        b = open_backend(name)
        await b.start()
        task = await started(b, STUBBORN)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await b.aclose()
        b2 = open_backend(name)
        await b2.start()
        task = await started(b2, "import time\nprint('in', flush=True)\ntime.sleep(60)")
        closing = asyncio.create_task(b2.aclose())  # close while the call still runs
        outcome = await asyncio.wait_for(task, 10)
        await closing
        assert not outcome.survived

    run(main())
    assert children() - before == set()


def test_cancelled_start_leaves_no_process() -> None:
    before = children()

    async def main() -> None:
        b = open_backend("local", preload=("json",))
        task = asyncio.create_task(b.start())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await b.aclose()
        await asyncio.sleep(0.2)  # a spawn finishing in its thread is killed by its callback

    run(main())
    deadline = time.monotonic() + 10
    while children() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert children() - before == set()


# -- errors and output as Python shows them ----------------------------------------------------
@pytest.mark.parametrize("name", WORKER_BACKENDS)
def test_uncaught_error_is_printed_once_when_asked(name: str) -> None:
    async def body(b: Backend) -> None:
        shown = await b.run("import sys\nprint('before', file=sys.stderr)\n1/0\n", show_traceback=True)
        assert shown.error is not None and shown.error.printed and shown.error.type == "ZeroDivisionError"
        assert shown.stderr.startswith("before\nTraceback (most recent call last):\n")
        assert shown.stderr.endswith("ZeroDivisionError: division by zero\n")
        assert shown.stderr.count("ZeroDivisionError") == 1 and shown.error.traceback in shown.stderr
        quiet = await b.run("1/0\n", first_line=4)
        assert quiet.error is not None and not quiet.error.printed and quiet.stderr == ""
        assert "ZeroDivisionError" in quiet.error.traceback
        # the program's own hook is called as Python calls it (shown or not), and only it prints
        hook = "sys.excepthook = lambda t, e, tb: print('hook saw', t.__name__, file=sys.stderr)\n"
        hooked = await b.run(hook + "[][0]\n", first_line=5, show_traceback=True)
        assert hooked.error is not None and hooked.error.printed and hooked.stderr == "hook saw IndexError\n"
        again = await b.run("{}['k']\n", first_line=7)
        assert again.error is not None and again.error.printed and again.stderr == "hook saw KeyError\n"

    in_session(name, body)


@pytest.mark.parametrize("name", WORKER_BACKENDS)
def test_worker_failure_is_not_the_programs_error(name: str) -> None:
    async def body(b: Backend) -> None:
        await b.run("x = 41\n")
        broken = await b.execute(ExecRequest(code="x += 1\n", first_line="two"))  # type: ignore[arg-type]
        assert broken.error is not None and broken.error.internal and broken.error.type == WORKER_ERROR
        assert broken.survived and broken.error.frames == ()
        after = await b.run("print(x)\n", first_line=2)  # nothing ran, the session goes on
        assert after.ok and after.stdout == "41\n"

    in_session(name, body)


STREAMED = (
    "import os, time\n"
    "print('ready')\n"  # block-buffered on a pipe: only a flush request sends it now
    "deadline = time.monotonic() + 20\n"
    "while not os.path.exists('go') and time.monotonic() < deadline:\n"
    "    time.sleep(0.01)\n"
    "print('released' if os.path.exists('go') else 'never released')\n"
)


@pytest.mark.parametrize("name", WORKER_BACKENDS)
def test_long_call_output_streams_while_it_runs(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The host asks the worker to flush while a call runs: the program waits for a file that
    the host creates only once it has seen the program's first (buffered) line."""
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # the program's stdout buffers, as usual
    where: dict[str, Path] = {}

    def on_output(event: Any) -> None:
        if event.kind == "stdout" and "ready" in event.data:
            (where["workdir"] / "go").touch()

    async def body(b: Backend) -> None:
        assert isinstance(b, WorkerBackend) and b.workdir is not None
        where["workdir"] = b.workdir
        out = await b.run(STREAMED)
        assert out.ok and out.stdout == "ready\nreleased\n"

    in_session(name, body, on_output=on_output)


# -- traceback frames --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["local", "jupyter"])
def test_frames_say_which_are_in_the_program(name: str) -> None:
    async def body(b: Backend) -> Outcome:
        await b.run("import json\n\ndef load(text):\n    return json.loads(text)\n")
        return await b.run("load('{')\n", first_line=5)

    out = in_session(name, body)
    assert out.error is not None and out.error.type.endswith("JSONDecodeError")
    ours = [f for f in out.error.frames if f.in_program]
    assert [f.line for f in ours] == [5, 4]
    assert any(not f.in_program and "json" in f.filename for f in out.error.frames)


def test_program_path_is_one_attribute() -> None:
    async def body(b: Backend) -> None:
        assert isinstance(b, WorkerBackend) and b.workdir is not None
        assert b.program_path is not None and b.program_path.endswith(PROGRAM_FILE)

    in_session("local", body)


# -- the wire codec ----------------------------------------------------------------------------
def test_requests_map_every_field() -> None:
    request = ExecRequest(
        code="x", first_line=3, figures=False, split_at=(4,), more=True, end=True, show_traceback=True
    )
    frames = split_frames(bytearray(encode_request(7, request)))
    assert frames == [
        (b"E", {"i": 7, "src": "x", "line": 3, "fig": False, "cuts": [4], "idle": 1, "end": 1, "show": 1})
    ]
    plain = split_frames(bytearray(encode_request(1, ExecRequest(code="y"))))
    assert plain == [(b"E", {"i": 1, "src": "y", "line": 1})]
    assert interrupt_message(2**32 + 5) == (5).to_bytes(4, "big")
    assert FLUSH_MESSAGE == interrupt_message(0)  # id 0: flush the program's output now


@settings(max_examples=300, deadline=None)
@given(
    code=st.text(st.characters(), max_size=40),
    line=st.integers(1, 2**40),
    cuts=st.lists(st.integers(1, 2**31), max_size=3).map(tuple),
    flags=st.tuples(*(st.booleans() for _ in range(5))),
)
def test_formatted_requests_are_the_json_of_their_fields(
    code: str, line: int, cuts: tuple[int, ...], flags: tuple[bool, ...]
) -> None:
    """The request frame is formatted by hand: it must decode to exactly what ``json.dumps``
    of the fields gives, for any text (quotes, controls, lone surrogates, astral characters)."""
    figures, more, end, show, notebook = flags
    request = ExecRequest(
        code=code, first_line=line, split_at=cuts, figures=figures, more=more, end=end, show_traceback=show,
        notebook=notebook,
    )
    frame = encode_request(9, request, part_marks=True)
    assert frame[4:].isascii()
    expected: dict[str, Any] = {"i": 9, "src": code, "line": line}
    expected.update({"fig": False} if not figures else {})
    expected.update({"cuts": list(cuts), "tp": 1} if cuts else {})
    for key, on in (("idle", more), ("end", end), ("show", show), ("nb", notebook)):
        expected.update({key: 1} if on else {})
    assert split_frames(bytearray(frame)) == [(b"E", expected)]
    assert json.loads(frame[5:].decode("ascii")) == json.loads(json.dumps(expected))


def test_errors_say_printed_and_internal() -> None:
    program = "/work/program.py"
    shown = error_of(
        {
            "type": "ZeroDivisionError",
            "message": "division by zero",
            "traceback": "Traceback ...",
            "line": 2,
            "line_text": "1/0",
            "frames": [[program, 2, "<module>", "1/0"]],
            "printed": True,
        },
        program,
    )
    assert shown.printed and not shown.internal and shown.frames[0].in_program
    assert "internal" not in shown.to_dict()
    failed = error_of(
        {"type": "TypeError", "message": "eagerexec worker: boom", "traceback": "W", "frames": [], "internal": True},
        program,
    )
    assert failed.internal and not failed.printed and failed.type == WORKER_ERROR != "TypeError"
    assert failed.message == "TypeError: eagerexec worker: boom" and failed.traceback == "W"
    assert failed.to_dict()["internal"] is True


@pytest.mark.parametrize("feed", ["whole", "by_byte", "random"])
def test_frames_split_from_any_chunking(feed: str) -> None:
    requests = [ExecRequest(code=f"print({i!r})\n" * (i % 7), first_line=i + 1) for i in range(40)]
    requests.append(ExecRequest(code="s = '\u00e9\U0001f600'"))
    stream = b"".join(encode_request(i, r) for i, r in enumerate(requests))
    rng = random.Random(feed)
    if feed == "whole":
        pieces = [stream]
    elif feed == "by_byte":
        pieces = [stream[i : i + 1] for i in range(len(stream))]
    else:
        pieces, at = [], 0
        while at < len(stream):
            step = rng.randint(1, 40)
            pieces.append(stream[at : at + step])
            at += step
    buffer = bytearray()
    got: list[tuple[bytes, dict[str, Any]]] = []
    for piece in pieces:
        buffer += piece
        got.extend(split_frames(buffer))
    assert not buffer
    assert [m["src"] for _, m in got] == [r.code for r in requests]
    assert [m["i"] for _, m in got] == list(range(len(requests)))


# -- portability -------------------------------------------------------------------------------
def test_exit_is_seen_without_pidfds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "pidfd_open", raising=False)

    async def body(b: Backend) -> None:
        assert isinstance(b, WorkerBackend) and b._watch is not None
        assert not b._watch.uses_pidfd
        await b.run("x = 1")
        died = await b.run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
        assert not died.survived and died.exit_status == -signal.SIGKILL
        after = await b.run("print('x' in globals())")
        assert after.fresh_session and after.stdout == "False\n"

    in_session("local", body)


def test_exit_watch_thread_reports_a_plain_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    monkeypatch.delattr(os, "pidfd_open", raising=False)

    async def main() -> None:
        process = subprocess.Popen([sys.executable, "-c", "pass"])
        fired = asyncio.Event()
        watch = ExitWatch(asyncio.get_running_loop(), process, fired.set)
        assert not watch.uses_pidfd
        await asyncio.wait_for(fired.wait(), 30)
        assert process.poll() == 0 and not exists(process.pid)
        watch.stop()

    run(main())


def test_cpu_count_without_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert cpu_count() == (os.cpu_count() or 1)
    settings = WorkerSettings.parse("local", {})
    assert settings.spin == (0.0 if cpu_count() == 1 else settings.spin) >= 0
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert cpu_count() == 1 and WorkerSettings.parse("local", {}).spin == 0.0


def _worker_io_module() -> Any:
    import importlib.util

    from eagerexec.backends._workerclient import WORKER_PATH

    spec = importlib.util.spec_from_file_location("_eagerexec_worker_io_test", WORKER_PATH.with_name("_worker_io.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@settings(max_examples=200, deadline=None)
@given(call_id=st.integers(0, 2**32 - 1), start=st.floats(0, 1e9), took=st.floats(0, 1e4))
def test_formatted_plain_replies_are_their_json(call_id: int, start: float, took: float) -> None:
    """The worker formats the reply of a call that ended normally: the host must read exactly
    the reply the JSON encoder would have sent; a reply that says more goes through the encoder."""
    wio = _worker_io_module()
    reply: dict[str, Any] = {"i": call_id, "s": start, "e": start + took, "err": None, "x": None, "f": [], "t": False}
    body = wio._plain_reply(reply)
    assert body is not None and body[:1] == b"R"
    assert split_frames(bytearray(len(body).to_bytes(4, "big") + body)) == [(b"R", reply)]
    for more in ({"x": 3}, {"f": ["a.png"]}, {"err": {"type": "E"}}, {"q": 1}, {"p": [[1.0, 2.0]]}, {"i": "7"}):
        assert wio._plain_reply({**reply, **more}) is None
