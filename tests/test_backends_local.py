"""Worker behaviour through the ``local`` backend, and the same faults on ``sandbox``.

Every test runs its own short session; no test asserts a duration (timeouts only bound hangs).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from eagerexec._exceptions import UsageError
from eagerexec.backends._base import open_backend
from eagerexec.backends._outcome import OutputEvent
from eagerexec.backends.local import LocalBackend
from eagerexec.backends.sandbox import SandboxBackend


def _python38() -> str | None:
    """A working Python 3.8 (the worker supports 3.7 to 3.13): pyenv's versions, then PATH."""
    root = Path(os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")))
    candidates = [str(p) for p in sorted(root.glob("versions/3.8*/bin/python3.8"), reverse=True)]
    on_path = shutil.which("python3.8")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        try:
            subprocess.run([candidate, "-c", "pass"], check=True, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        return candidate
    return None


PY38 = _python38()
BACKENDS = ["local", "sandbox"]


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 120))  # type: ignore[arg-type]


def session(name: str, **options: Any) -> LocalBackend | SandboxBackend:
    backend = open_backend(name, **options)
    assert isinstance(backend, LocalBackend | SandboxBackend)
    return backend


def in_session(name: str, body: Callable[[Any], Awaitable[None]], **options: Any) -> None:
    async def main() -> None:
        async with session(name, **options) as b:
            await body(b)

    run(main())


def gone(pid: int) -> bool:
    """True once ``pid`` no longer exists (or is a zombie awaiting its reaper), within 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(params=BACKENDS)
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_state_output_and_main_module(name: str) -> None:
    events: list[OutputEvent] = []

    async def body(b: Any) -> None:
        first = await b.run("x = 20\nprint('hello', x)\nimport sys\nprint('err', file=sys.stderr)\n")
        assert first.ok and first.stdout == "hello 20\n" and first.stderr == "err\n"
        assert first.started_at <= first.ended_at <= time.monotonic()
        raw = await b.run(
            "import os\nos.system('echo from-shell')\nos.write(2, b'raw-err\\n')\n", first_line=5
        )
        assert raw.stdout == "from-shell\n" and raw.stderr == "raw-err\n"
        info = await b.run(
            "print(x + 1, __name__, __file__, sys.argv)\nprint(open(__file__).read())\n",
            first_line=8,
        )
        program = str(Path(b.private) / "program.py")  # the session's own directory, not the workdir
        lines = info.stdout.splitlines()
        assert lines[0] == f"21 __main__ {program} ['program.py']"  # argv as `python program.py` has it
        assert lines[1:4] == ["x = 20", "print('hello', x)", "import sys"]
        assert lines[8] == "print(x + 1, __name__, __file__, sys.argv)"

    in_session(name, body, on_output=events.append)
    streamed = "".join(e.data for e in events if e.kind == "stdout")
    assert "hello 20\n" in streamed and "from-shell\n" in streamed


def test_program_excepthook_handles_the_error_which_is_still_reported(name: str) -> None:
    """An uncaught error goes to the program's ``sys.excepthook`` (the worker's frames removed
    from its traceback), not printed by the worker; the call still reports the error."""
    src = (
        "import sys, traceback\n"
        "def hook(kind, value, tb):\n"
        "    print('hooked', kind.__name__, value, [f.name for f in traceback.extract_tb(tb)])\n"
        "sys.excepthook = hook\n"
        "def f():\n"
        "    raise ValueError('boom')\n"
        "f()\n"
    )

    async def body(b: Any) -> None:
        for show in (False, True):
            out = await b.run(src, show_traceback=show)
            assert out.stdout == "hooked ValueError boom ['<module>', 'f']\n" and out.stderr == ""
            assert out.error is not None and out.error.type == "ValueError" and out.error.message == "boom"
            assert out.error.printed and out.error.line == 6

    in_session(name, body)


def test_traceback_uses_whole_program_lines(name: str) -> None:
    async def body(b: Any) -> None:
        await b.run("def f(n):\n    return 10 // n\n")
        out = await b.run("y = 1\nf(0)\n", first_line=3)
        assert out.error is not None and out.error.type == "ZeroDivisionError"
        assert out.error.line == 2 and out.error.line_text == "return 10 // n"
        assert 'program.py", line 4, in <module>' in out.error.traceback
        assert "f(0)" in out.error.traceback and "return 10 // n" in out.error.traceback
        assert [fr.line for fr in out.error.frames] == [4, 2]
        syntax = await b.run("z = (1,\n", first_line=10)
        assert syntax.error is not None and syntax.error.type == "SyntaxError"
        assert syntax.error.line == 10
        custom = await b.run("class Oops(Exception): pass\nraise Oops('no')\n", first_line=12)
        assert custom.error is not None and (custom.error.type, custom.error.message) == ("Oops", "no")

    in_session(name, body)


def test_future_import_carries_over(name: str) -> None:
    async def body(b: Any) -> None:
        await b.run("from __future__ import annotations\n")
        out = await b.run("def g(a: NotDefinedAnywhere) -> None: pass\nprint(g.__annotations__['a'])\n")
        assert out.ok and out.stdout == "NotDefinedAnywhere\n"

    in_session(name, body)


def test_matplotlib_figures_are_saved(name: str) -> None:
    events: list[OutputEvent] = []

    async def body(b: Any) -> None:
        out = await b.run("import matplotlib\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\n")
        assert out.ok, out.error
        assert len(out.figures) == 1
        assert Path(out.figures[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        again = await b.run("print(matplotlib.get_backend().lower())\n")
        assert again.figures == () and again.stdout == "agg\n"

    in_session(name, body, on_output=events.append)
    assert [e.kind for e in events if e.kind == "figure"] == ["figure"]


def test_timeout_interrupts_and_keeps_state(name: str) -> None:
    async def body(b: Any) -> None:
        await b.run("x = 41\n")
        out = await b.run("while True:\n    pass\n", timeout=1.0)
        assert out.timed_out and out.survived and not out.state_lost
        assert out.error is not None and out.error.type == "KeyboardInterrupt"
        after = await b.run("print(x + 1)\n")
        assert after.ok and after.stdout == "42\n" and not after.fresh_session

    in_session(name, body)


def test_timeout_is_per_statement(name: str) -> None:
    """A call of several statements (``split_at``, as serial mode sends the whole program) may
    take longer than the timeout in all: each statement gets the whole timeout."""
    src = "import time\ntime.sleep(0.6)\ntime.sleep(0.6)\ntime.sleep(0.6)\nprint('done')\n"

    async def body(b: Any) -> None:
        out = await b.run(src, timeout=1.0, split_at=(2, 3, 4, 5))
        assert out.ok and not out.timed_out and out.stdout == "done\n"
        assert len(out.part_times) == 5

    in_session(name, body)


def test_timeout_stops_the_slow_statement_and_keeps_earlier_output(name: str) -> None:
    """The statement that runs too long is interrupted and reported; the statements before it
    ran (their output kept) and the ones after it never run."""
    src = "import time\nprint('one', flush=True)\ntime.sleep(0.6)\nprint('two')\ntime.sleep(5)\nprint('never')\n"

    async def body(b: Any) -> None:
        started = time.monotonic()
        out = await b.run(src, timeout=1.0, split_at=(2, 3, 4, 5, 6))
        assert time.monotonic() - started < 4.5  # stopped long before the sleep ends (a bound, not a timing)
        assert out.timed_out and out.survived
        assert out.error is not None and out.error.type == "KeyboardInterrupt" and out.error.line == 5
        assert out.stdout == "one\ntwo\n"
        assert len(out.part_times) == 5  # the fifth part is the one that was stopped

    in_session(name, body)


def test_per_statement_timeout_still_kills_a_statement_ignoring_the_interrupt(name: str) -> None:
    src = (
        "x = 41\nprint('first')\n"
        "while True:\n    try:\n        __import__('time').sleep(0.01)\n    except KeyboardInterrupt:\n        pass\n"
    )

    async def body(b: Any) -> None:
        out = await b.run(src, timeout=0.5, split_at=(2, 3))
        assert out.timed_out and out.state_lost and not out.survived
        assert out.error is not None and out.error.type == "TimeoutError" and "statement" in out.error.message
        assert out.stdout == "first\n"
        after = await b.run("print(x)\n")
        assert after.fresh_session and after.error is not None and after.error.type == "NameError"

    in_session(name, body, grace=0.5)


@pytest.mark.parametrize("spin", [0.0, 0.05])
def test_spin_settings_do_not_change_behaviour(name: str, spin: float) -> None:
    """No spin (both sides block) and a long one (calls end inside it) give the same results."""

    async def body(b: Any) -> None:
        assert (await b.run("x = 1\n")).ok
        out = await b.run("print(x + 1)\nimport sys\nprint('e', file=sys.stderr)\n", first_line=2)
        assert (out.stdout, out.stderr) == ("2\n", "e\n")
        failed = await b.run("1 / 0\n", first_line=5)
        assert failed.error is not None and failed.error.line == 5
        slow = await b.run("import time\ntime.sleep(0.2)\nprint('late')\n", first_line=6)
        assert slow.ok and slow.stdout == "late\n"
        stuck = await b.run("while True:\n    pass\n", timeout=0.5)
        assert stuck.timed_out and stuck.survived
        assert (await b.run("print(x)\n")).stdout == "1\n"

    in_session(name, body, spin=spin)


@pytest.mark.parametrize("spin", [0.0, 0.05])
def test_a_thread_printing_between_calls_reaches_the_host_before_the_next_call(name: str, spin: float) -> None:
    """While the worker waits for the next call, what a background thread prints is flushed to
    the host (with or without a spin: the wait watches the program's threads)."""
    events: list[Any] = []

    async def body(b: Any) -> None:
        code = "import threading, time\nthreading.Timer(0.3, lambda: print('tick')).start()\n"
        assert (await b.run(code)).ok
        deadline = time.monotonic() + 10
        while not any(e.kind == "stdout" and "tick" in e.data for e in events):
            assert time.monotonic() < deadline, events
            await asyncio.sleep(0.05)
        assert (await b.run("print('next')\n", first_line=3)).stdout == "next\n"

    in_session(name, body, spin=spin, on_output=events.append)


def test_spin_out_of_range_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="spin"):
        open_backend("local", spin=1.0)


def test_forked_children_run_later_calls_and_leave_no_descriptors(name: str) -> None:
    """A child forked at the top level runs the later calls too (the worker forwards them);
    children forked and reaped in a loop leave no descriptor behind in the worker."""
    loop = (
        "n0 = len(os.listdir('/proc/self/fd'))\n"
        "for _ in range(100):\n"
        "    if os.fork() == 0:\n"
        "        os._exit(0)\n"
        "    os.wait()\n"
        "for _ in range(100):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        os._exit(0)\n"
        "    os.waitpid(pid, 0)\n"
        "print(len(os.listdir('/proc/self/fd')) - n0)\n"
    )

    async def body(b: Any) -> None:
        await b.run("import os\nprint('one', flush=True)\npid = os.fork()\n")
        later = await b.run("print('child' if pid == 0 else 'parent', flush=True)\n", first_line=4)
        done = await b.run("if pid == 0:\n    os._exit(0)\nprint(os.waitpid(pid, 0)[1])\n", first_line=5)
        assert later.ok and done.ok and done.stdout.endswith("0\n")
        counted = await b.run(loop, first_line=8)
        assert counted.ok and counted.stdout == "0\n"

    events: list[OutputEvent] = []
    in_session(name, body, on_output=events.append)
    # the child's output streams with whichever call runs as it writes (or between calls)
    streamed = "".join(e.data for e in events if e.kind == "stdout")
    assert sorted(streamed.splitlines()) == ["0", "0", "child", "one", "parent"]


def test_code_ignoring_the_interrupt_is_killed(name: str) -> None:
    async def body(b: Any) -> None:
        await b.run("x = 41\n")
        src = "import time\nwhile True:\n    try:\n        time.sleep(0.01)\n    except KeyboardInterrupt:\n        pass\n"
        out = await b.run(src, timeout=0.5)
        assert out.timed_out and out.state_lost and not out.survived
        after = await b.run("print(x)\n")
        assert after.fresh_session
        assert after.error is not None and after.error.type == "NameError"

    in_session(name, body, grace=0.5)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("import ctypes\nctypes.string_at(0)\n", -11),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", -9),  # what an OOM kill does
    ],
)
def test_worker_death_is_reported_and_next_call_is_fresh(name: str, code: str, status: int) -> None:
    async def body(b: Any) -> None:
        await b.run("x = 1\n")
        out = await b.run(code)
        assert not out.survived and out.exit_status == status and out.state_lost
        assert out.error is not None
        after = await b.run("print('alive')\n")
        assert after.fresh_session and after.ok and after.stdout == "alive\n"
        again = await b.run("pass\n")
        assert not again.fresh_session

    in_session(name, body)


def test_output_flood_is_truncated(name: str) -> None:
    events: list[OutputEvent] = []

    async def body(b: Any) -> None:
        out = await b.run("for i in range(200_000):\n    print('x' * 1000)\n")
        assert out.ok and out.truncated
        assert len(out.stdout) < 20_000 and "characters of output dropped" in out.stdout
        assert out.stdout.endswith("x" * 999 + "\n")  # the tail is kept
        raw = await b.run("import os\nos.system('head -c 100000000 /dev/zero')\n")
        assert raw.ok and raw.truncated and len(raw.stdout) < 20_000
        assert "100000000" not in raw.stdout and "99990000 characters of output dropped" in raw.stdout
        small = await b.run("print('small')\n")
        assert small.stdout == "small\n" and not small.truncated

    in_session(name, body, max_output=10_000, on_output=events.append)
    assert sum(len(e.data) for e in events) < 100_000


def test_os_exit_ends_the_program_and_next_call_is_fresh(name: str) -> None:
    async def body(b: Any) -> None:
        await b.run("x = 1\n")
        out = await b.run("import os\nprint('bye', flush=True)\nos._exit(3)\n")
        assert out.exit_code == 3 and out.stopped and out.stdout == "bye\n"
        after = await b.run("print('x' in globals())\n")
        assert after.fresh_session and after.ok and after.stdout == "False\n"
        again = await b.run("pass\n")
        assert not again.fresh_session

    in_session(name, body)


def test_end_request_ends_the_program_and_next_call_is_silently_fresh(name: str) -> None:
    async def body(b: Any) -> None:
        out = await b.run("import atexit\nx = 1\natexit.register(print, 'at exit')\n", end=True)
        assert out.ok and out.exit_code == 0 and out.stdout == "at exit\n"
        after = await b.run("print('x' in globals())\n")
        assert after.ok and after.stdout == "False\n" and not after.fresh_session and not after.state_lost

    in_session(name, body)


def test_replaced_streams_and_stdin(name: str) -> None:
    async def body(b: Any) -> None:
        await b.run("import io, os, sys\n")
        swapped = await b.run("sys.stdout = io.StringIO()\nprint('hidden')\nv = 5\n")
        assert swapped.ok and swapped.stdout == ""
        assert (await b.run("sys.stdout = sys.__stdout__\nprint(v)\n")).stdout == "5\n"
        stdin = await b.run("print(repr(sys.stdin.read()))\ninput()\n")
        assert stdin.stdout == "''\n" and stdin.error is not None and stdin.error.type == "EOFError"
        bad = await b.run("os.write(1, b'\\xff\\xfeok\\n')\n")
        assert bad.stdout == "\ufffd\ufffdok\n"

    in_session(name, body)


def test_sys_exit(name: str) -> None:
    async def body(b: Any) -> None:
        out = await b.run("import sys\nsys.exit(3)\n")
        assert out.exit_code == 3 and out.error is not None and out.error.type == "SystemExit"
        assert out.survived and out.stopped
        clean = await b.run("sys.exit()\n")
        assert clean.exit_code == 0 and clean.error is None
        text = await b.run("sys.exit('bye')\n")
        assert text.exit_code == 1 and text.stderr == "bye\n"
        assert (await b.run("print('still here')\n")).stdout == "still here\n"

    in_session(name, body)


def test_aclose_reaps_threads_and_children(name: str) -> None:
    async def main() -> tuple[int, int | None]:
        b = session(name)
        await b.start()
        src = (
            "import subprocess, threading, time\n"
            "threading.Thread(target=time.sleep, args=(1000,)).start()\n"
            "child = subprocess.Popen(['sleep', '1000'])\n"
            "print(child.pid)\n"
        )
        out = await b.run(src)
        assert out.ok, out.error
        assert b._proc is not None
        host_pid = b._proc.process.pid
        child = int(out.stdout) if name == "local" else None  # sandbox pids are namespaced
        await b.aclose()
        return host_pid, child

    host_pid, child = run(main())
    assert gone(host_pid)
    if child is not None:
        assert gone(child)


def test_interrupt_and_cancel_from_another_task(name: str) -> None:
    async def body(b: Any) -> None:
        started = asyncio.Event()
        b.on_output = lambda e: started.set()
        await b.run("import time\nx = 7\n")
        task = asyncio.create_task(b.run("print('go', flush=True)\ntime.sleep(60)\n"))
        await started.wait()
        await b.interrupt()
        out = await task
        assert out.error is not None and out.error.type == "KeyboardInterrupt" and not out.timed_out
        started.clear()
        task = asyncio.create_task(b.run("print('go', flush=True)\ntime.sleep(60)\n"))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        after = await b.run("print(x)\n")
        assert after.ok and after.stdout == "7\n"

    in_session(name, body)


def test_preload_and_workdir(name: str, tmp_path: Path) -> None:
    given = tmp_path / "session"

    async def main() -> Path:
        async with session(name, preload=("fractions", "no_such_module_xyz"), workdir=given) as b:
            out = await b.run("import sys, os\nprint('fractions' in sys.modules, os.getcwd())\n")
            assert out.stdout == f"True {given}\n"
            assert "no_such_module_xyz" in b.hello["preload_errors"]
        async with session(name) as b2:
            assert b2.workdir is not None
            default = Path(b2.workdir)
            assert default.is_dir()
        return default

    default = run(main())
    assert given.is_dir() and not (given / "program.py").exists()  # the session's files live elsewhere
    assert not default.exists()


@pytest.mark.skipif(PY38 is None, reason="no Python 3.8 installed")
def test_worker_runs_under_python38(name: str) -> None:
    async def body(b: Any) -> None:
        out = await b.run("import sys\nprint(sys.version_info[:2])\n1/0\n", first_line=5)
        assert out.stdout == "(3, 8)\n"
        assert out.error is not None and out.error.type == "ZeroDivisionError" and out.error.line == 7
        await b.run("def h():\n    return [][0]\n", first_line=8)
        nested = await b.run("h()\n", first_line=10)
        assert nested.error is not None and [f.line for f in nested.error.frames] == [10, 9]
        assert "    return [][0]" in nested.error.traceback
        assert (await b.run("from __future__ import annotations\nprint('ok')\n")).stdout == "ok\n"

    in_session(name, body, python=PY38)


def test_bad_interpreter_is_a_clear_error(name: str) -> None:
    from eagerexec._exceptions import BackendError

    missing = shutil.which("definitely-not-a-python") or "/nonexistent/python3"
    with pytest.raises(BackendError):
        in_session(name, lambda b: asyncio.sleep(0), python=missing)


def _pyenv(version: str) -> str | None:
    root = Path(os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")))
    found = sorted(root.glob(f"versions/{version}.*/bin/python"))
    return str(found[-1]) if found else None


@pytest.mark.parametrize("version", ["2.7", "3.6"])
def test_too_old_interpreter_is_one_line_quoting_the_worker(name: str, version: str) -> None:
    from eagerexec._exceptions import BackendUnavailableError

    python = _pyenv(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine")
    with pytest.raises(BackendUnavailableError) as caught:
        in_session(name, lambda b: asyncio.sleep(0), python=python)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{name}: eagerexec worker needs Python 3.7 to 3.13, this is {version}." in message


def test_figures_flag_and_the_programs_own_png(name: str) -> None:
    """``figures=False`` defers capture; a later capture draws each figure once, in its latest
    state, reusing the program's own PNG when neither the figure nor the file changed since."""

    async def body(b: Any) -> None:
        work = Path(b.workdir)
        first = await b.run("import matplotlib.pyplot as plt\nfig1 = plt.figure()\nplt.plot([1, 2])\n", figures=False)
        assert first.ok and first.figures == ()
        saved = await b.run("plt.savefig('own.png')\n", first_line=4)
        assert len(saved.figures) == 1
        assert Path(saved.figures[0]).read_bytes() == (work / "own.png").read_bytes()  # a copy, not a redraw
        edited = await b.run("plt.savefig('old.png')\nplt.title('changed')\n", first_line=5)
        assert len(edited.figures) == 1
        assert Path(edited.figures[0]).read_bytes() != (work / "old.png").read_bytes()
        unchanged = await b.run("x = 1\n", first_line=7)
        assert unchanged.figures == ()
        # the file the copy would come from was overwritten by another figure: draw fig1 again
        swap = await b.run(
            "plt.xlabel('x')\nplt.savefig('shared.png')\nfig2 = plt.figure()\nplt.plot([2, 1])\n"
            "plt.savefig('shared.png')\nplt.figure(fig1.number)\n",
            first_line=8,
        )
        assert len(swap.figures) == 2
        one_png, two_png = (Path(p).read_bytes() for p in swap.figures)
        assert two_png == (work / "shared.png").read_bytes() and one_png != two_png
        # capturing never changes the program's current figure
        current = await b.run("print(plt.gcf() is fig1)\n", first_line=14)
        assert current.stdout == "True\n"
        # a figure closed and a new one under the same number is captured
        reopened = await b.run("plt.close(fig1)\nplt.figure(fig1.number)\nplt.plot([5])\n", first_line=15)
        assert len(reopened.figures) == 1

    in_session(name, body)


def test_figures_outlive_a_temporary_workdir(name: str) -> None:
    paths: list[str] = []

    async def body(b: Any) -> None:
        out = await b.run("import matplotlib.pyplot as plt\nplt.plot([1])\nopen('data.txt', 'w').write('x')\n")
        paths.extend(out.figures)

    in_session(name, body)
    assert len(paths) == 1 and Path(paths[0]).read_bytes()[:4] == b"\x89PNG"
    workdir = Path(paths[0]).parent.parent
    assert sorted(p.name for p in workdir.iterdir()) == ["figures"]


def test_spin_defaults_off_on_a_single_cpu() -> None:
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(before)})
        assert open_backend("local").spin == 0  # type: ignore[attr-defined]
    finally:
        os.sched_setaffinity(0, before)
    if len(before) > 1:
        assert open_backend("local").spin > 0  # type: ignore[attr-defined]


def test_split_at_times_each_part_like_one_call(name: str) -> None:
    async def body(b: Any) -> None:
        src = "from __future__ import annotations\nx = 1\nimport time\ntime.sleep(0.05)\nprint(x)\n"
        out = await b.run(src, first_line=3, split_at=[4, 5, 7])
        assert out.ok and out.stdout == "1\n"
        times = out.part_times
        assert len(times) == 4
        assert out.started_at <= times[0][0] and times[-1][1] <= out.ended_at
        assert all(a <= b for a, b in times) and all(times[k][1] <= times[k + 1][0] for k in range(3))
        assert times[2][1] - times[2][0] >= 0.04  # the sleep is in the third part
        # the __future__ flag of the first part reaches the later ones and later calls
        later = await b.run("def g(a: Nope) -> None: pass\nprint(g.__annotations__['a'])\n", first_line=8)
        assert later.stdout == "Nope\n"
        # a part that raises ends the call there, with whole-program line numbers
        failed = await b.run("y = 2\nz = 1 / 0\nprint('never')\n", first_line=10, split_at=[11, 12])
        assert failed.error is not None and failed.error.line == 11 and failed.stdout == ""
        assert len(failed.part_times) == 2
        # cuts that do not fit the source are ignored: one part, no times
        whole = await b.run("w = 3\nprint(w)\n", first_line=13, split_at=[20])
        assert whole.ok and whole.stdout == "3\n" and whole.part_times == ()

    in_session(name, body)


# Enough kept-alive containers for several young-generation collections (each one moves the
# survivors towards the oldest generation) but fewer than CPython needs to start a full
# collection on its own (over ten young ones).
GROW_OLD = (
    "import gc\ngc.collect()\n"
    "keep = [[] for _ in range(gc.get_threshold()[0] * (gc.get_threshold()[1] + 1) * 4)]\n"
    "young = gc.get_count()[2]\n"
)


@pytest.mark.parametrize("more", [True, False], ids=["more", "last"])
def test_idle_wait_runs_a_due_full_collection(name: str, more: bool) -> None:
    async def body(b: Any) -> None:
        first = await b.run(GROW_OLD, more=more)
        assert first.ok
        await asyncio.sleep(0.2)  # the wait for the model
        probe = await b.run("print(young >= 3, gc.get_count()[2])\n", first_line=5)
        grown, now = probe.stdout.split()
        assert grown == "True"
        # with more=True the worker collected during the wait (the counts restart from zero);
        # without it, nothing ran between the calls
        assert (int(now) == 0) is more

    in_session(name, body)


def test_idle_wait_leaves_a_disabled_collector_alone(name: str) -> None:
    async def body(b: Any) -> None:
        await b.run(GROW_OLD)
        await b.run("gc.disable()\n", first_line=5, more=True)
        await asyncio.sleep(0.2)
        probe = await b.run("print(young >= 3, gc.get_count()[2] == young)\n", first_line=6)
        assert probe.stdout == "True True\n"

    in_session(name, body)
