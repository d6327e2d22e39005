"""The jupyter backend against a real ipykernel: state, output, errors, figures, faults."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

pytest.importorskip("jupyter_client", reason="the jupyter backend needs jupyter_client (eagerexec[jupyter])")
pytest.importorskip("ipykernel", reason="the jupyter backend tests need ipykernel (eagerexec[jupyter])")

from eagerexec import BackendUnavailableError, OutputEvent, open_backend
from eagerexec.backends._output import drop_marker
from eagerexec.backends.jupyter import JupyterBackend

T = TypeVar("T")

pytestmark = pytest.mark.timeout(60)


def run(fn: Callable[..., Awaitable[T]], **options: Any) -> T:
    """Open a jupyter session with ``options``, run ``fn(backend)`` in it, close it."""

    async def main() -> T:
        async with open_backend("jupyter", **options) as backend:
            assert isinstance(backend, JupyterBackend)
            return await fn(backend)

    return asyncio.run(main())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); look at its state
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _kernel_pid(backend: JupyterBackend) -> int:
    pid = backend._km.provisioner.process.pid
    assert isinstance(pid, int)
    return pid


def test_state_persists_across_calls() -> None:
    async def body(b: JupyterBackend) -> list[Any]:
        first = await b.run("import math\nx = 20")
        second = await b.run("def twice(v):\n    return 2 * v\n", first_line=3)
        third = await b.run("print(twice(x) + math.floor(2.5))", first_line=5)
        return [first, second, third]

    first, second, third = run(body)
    assert first.ok and second.ok and third.ok
    assert third.stdout == "42\n"


def test_stdout_stderr_and_repl_value_with_live_events() -> None:
    events: list[OutputEvent] = []

    async def body(b: JupyterBackend) -> Any:
        # a bare expression is not echoed (program semantics, as under `python file.py`);
        # an explicit display() still is
        return await b.run(
            "import sys\nprint('out')\nprint('err', file=sys.stderr)\n6 * 7\nfrom IPython.display import display\ndisplay(42)"
        )

    outcome = run(body, on_output=events.append)
    assert outcome.ok
    assert outcome.stdout == "out\n42\n"
    assert outcome.stderr == "err\n"
    assert {(e.kind, e.data) for e in events} == {("stdout", "out\n"), ("stderr", "err\n"), ("stdout", "42\n")}
    # worker times are on the host's monotonic clock
    assert outcome.started_at <= outcome.ended_at <= time.monotonic()
    assert outcome.started_at > time.monotonic() - 60


def test_error_type_message_and_whole_program_line() -> None:
    async def body(b: JupyterBackend) -> Any:
        await b.run("def f(a):\n    return a / 0\n", first_line=10)
        return await b.run("y = 1\nz = f(y)\n", first_line=40)

    outcome = run(body)
    err = outcome.error
    assert err is not None and not outcome.ok
    assert err.type == "ZeroDivisionError"
    assert err.message == "division by zero"
    assert err.line == 11
    assert err.line_text == "return a / 0"
    assert [(f.line, f.name) for f in err.frames] == [(41, "<module>"), (11, "f")]
    assert "\x1b[" not in err.traceback
    assert "---> 41 z = f(y)" in err.traceback
    assert "---> 11     return a / 0" in err.traceback


def test_syntax_error_reports_program_line() -> None:
    async def body(b: JupyterBackend) -> Any:
        return await b.run("x = (1,\n", first_line=7)

    err = run(body).error
    assert err is not None
    assert err.type == "SyntaxError"
    assert err.line == 7
    assert "<program>, line 7" in err.message


def test_figure_saved_as_png(tmp_path: Path) -> None:
    events: list[OutputEvent] = []

    async def body(b: JupyterBackend) -> Any:
        return await b.run(
            "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('t')\nprint('drawn')"
        )

    outcome = run(body, on_output=events.append, workdir=tmp_path)
    assert outcome.ok
    assert outcome.stdout == "drawn\n"
    assert len(outcome.figures) == 1
    path = Path(outcome.figures[0])
    assert path.parent != tmp_path and list(tmp_path.iterdir()) == []  # never in the workdir
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert [e.data for e in events if e.kind == "figure"] == [str(path)]


def test_timeout_interrupts_and_keeps_state() -> None:
    async def body(b: JupyterBackend) -> list[Any]:
        await b.run("kept = 'yes'")
        slow = await b.run("import time\nwhile True:\n    time.sleep(0.05)", timeout=1.0)
        after = await b.run("print(kept)")
        return [slow, after]

    slow, after = run(body)
    assert slow.timed_out and not slow.state_lost
    assert slow.error is not None and slow.error.type == "KeyboardInterrupt"
    assert after.ok and after.stdout == "yes\n"


def test_external_interrupt_from_another_task() -> None:
    async def body(b: JupyterBackend) -> Any:
        call = asyncio.create_task(b.run("import time\nprint('go', flush=True)\ntime.sleep(30)"))
        await asyncio.sleep(1.0)
        await b.interrupt()
        return await call

    outcome = run(body)
    assert outcome.error is not None and outcome.error.type == "KeyboardInterrupt"
    assert not outcome.timed_out


def test_ignored_interrupt_restarts_kernel() -> None:
    code = (
        "import time\n"
        "while True:\n"
        "    try:\n"
        "        time.sleep(0.05)\n"
        "    except KeyboardInterrupt:\n"
        "        pass\n"
    )

    async def body(b: JupyterBackend) -> list[Any]:
        await b.run("kept = 1")
        stuck = await b.run(code, timeout=0.5)
        after = await b.run("print('kept' in globals())")
        return [stuck, after]

    stuck, after = run(body, interrupt_grace=1.0)
    assert stuck.timed_out and stuck.state_lost
    assert stuck.error is not None
    assert after.ok and after.stdout == "False\n"


def test_kernel_death_then_fresh_session() -> None:
    async def body(b: JupyterBackend) -> list[Any]:
        await b.run("kept = 1")
        died = await b.run("import os\nprint('bye', flush=True)\nos._exit(3)")
        after = await b.run("print('kept' in globals())")
        again = await b.run("print('again')")
        return [died, after, again]

    died, after, again = run(body)
    assert not died.survived and not died.ok
    assert died.exit_status == 3
    assert after.fresh_session and after.ok and after.stdout == "False\n"
    assert not again.fresh_session and again.stdout == "again\n"


@pytest.mark.parametrize(
    ("code", "exit_code", "is_error", "stderr"),
    [
        ("import sys\nsys.exit(3)", 3, True, ""),
        ("import sys\nsys.exit()", 0, False, ""),
        ("raise SystemExit('no')", 1, True, "no\n"),
        # as python: an int's low byte, -1 beyond a C long long; any other value printed, status 1
        ("import sys\nsys.exit(256)", 0, False, ""),
        ("import sys\nsys.exit(-1)", 255, True, ""),
        ("raise SystemExit(2**64)", 255, True, ""),
        ("import sys\nsys.exit(False)", 0, False, ""),
        ("import sys\nsys.exit(True)", 1, True, ""),
        ("import sys\nsys.exit('5')", 1, True, "5\n"),
        ("raise SystemExit(1, 'two')", 1, True, "(1, 'two')\n"),
    ],
)
def test_sys_exit_maps_to_exit_code(code: str, exit_code: int, is_error: bool, stderr: str) -> None:
    async def body(b: JupyterBackend) -> list[Any]:
        return [await b.run(code), await b.run("print('still here')")]

    outcome, after = run(body)
    assert outcome.exit_code == exit_code and outcome.stopped
    assert outcome.stderr == stderr
    assert (outcome.error is not None) == is_error
    if is_error:
        assert outcome.error is not None and outcome.error.type == "SystemExit"
    assert "To exit" not in outcome.stderr  # IPython's warning is silenced
    assert after.ok and after.stdout == "still here\n"  # ipykernel keeps the session


def test_output_flood_is_truncated() -> None:
    events: list[OutputEvent] = []

    async def body(b: JupyterBackend) -> Any:
        return await b.run("for i in range(20000):\n    print('x' * 99)\nprint('done')")

    outcome = run(body, max_output=5000, on_output=events.append)
    assert outcome.truncated and outcome.ok
    assert len(outcome.stdout) < 5200
    assert "characters of output dropped" in outcome.stdout
    assert outcome.stdout.endswith("x" * 99 + "\ndone\n")  # head and tail are kept
    dropped = sum(e.skipped for e in events)
    assert dropped == 20000 * 100 + 5 - 5000  # one tail event carries the count
    assert "".join(e.data for e in events) == outcome.stdout.replace(drop_marker(dropped), "")


def test_unknown_kernel_name_is_unavailable() -> None:
    async def main() -> None:
        async with open_backend("jupyter", kernel_name="no-such-kernel-xyz"):
            pass

    with pytest.raises(BackendUnavailableError) as info:
        asyncio.run(main())
    text = str(info.value)
    assert "no-such-kernel-xyz" in text and "\n" not in text
    assert "python3" in text  # names what is installed


def test_aclose_reaps_kernel_and_own_workdir() -> None:
    pids: list[int] = []
    dirs: list[Path] = []

    async def body(b: JupyterBackend) -> None:
        pids.append(_kernel_pid(b))
        assert b.workdir is not None
        dirs.append(b.workdir)
        await b.run("x = 1")

    run(body)
    assert not _alive(pids[0])
    assert not dirs[0].exists()  # nothing was saved there


def test_aclose_on_cancellation_reaps_kernel() -> None:
    pids: list[int] = []

    async def main() -> None:
        backend = open_backend("jupyter")
        assert isinstance(backend, JupyterBackend)
        await backend.start()
        pids.append(_kernel_pid(backend))

        async def use() -> None:
            try:
                await backend.run("import time\ntime.sleep(30)")
            finally:
                await backend.aclose()

        task = asyncio.create_task(use())
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert not _alive(pids[0])


def test_cancelled_call_is_interrupted_and_session_goes_on() -> None:
    async def body(b: JupyterBackend) -> Any:
        await b.run("kept = 'still'")
        call = asyncio.create_task(b.run("import time\ntime.sleep(600)"))
        await asyncio.sleep(1.0)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        return await b.run("print(kept)", timeout=20)

    after = run(body)
    assert not after.timed_out
    assert after.ok and after.stdout == "still\n"


def test_kernel_that_cannot_start_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec_dir = tmp_path / "kernels" / "broken"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-c", "import sys; sys.exit(5)", "{connection_file}"],
        "display_name": "broken",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))

    async def main() -> None:
        async with open_backend("jupyter", kernel_name="broken", startup_timeout=10):
            pass

    with pytest.raises(BackendUnavailableError) as info:
        asyncio.run(main())
    assert "'broken' did not start" in str(info.value) and "\n" not in str(info.value)
