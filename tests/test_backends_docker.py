"""The ``docker`` backend: the worker in a locked-down container, its faults and its walls.

Needs a Docker engine and a local Python image (scripts/start-docker.sh and
scripts/build-docker-image.sh make both; $EAGEREXEC_DOCKER_IMAGE names another image). Without
them every test but the "no engine" one is skipped with the reason. Sessions are few and each
checks several things, since a container's cold start dominates. No test asserts a duration.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from eagerexec import BackendError, BackendUnavailableError, open_backend
from eagerexec.backends._outcome import OutputEvent
from eagerexec.backends.docker import LABEL, DockerBackend

IMAGE = os.environ.get("EAGEREXEC_DOCKER_IMAGE", "eagerexec/python:bookworm")
DATA_IMAGE = os.environ.get("EAGEREXEC_DOCKER_DATA_IMAGE", "eagerexec/python-data:bookworm")
"""An image with numpy, pandas and matplotlib (Debian's), for the programs that need them."""


def _engine_problem(image: str = IMAGE) -> str | None:
    try:
        import docker
        import docker.errors

        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        return f"no Docker engine: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return f"image {image} missing (run scripts/build-docker-image.sh; see .ci/run)"
    finally:
        client.close()
    return None


_PROBLEM = _engine_problem()
DATA_PROBLEM = _engine_problem(DATA_IMAGE)
needs_docker = pytest.mark.skipif(_PROBLEM is not None, reason=_PROBLEM or "")
pytestmark = pytest.mark.docker


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 110))  # type: ignore[arg-type]


def in_session(body: Callable[[DockerBackend], Awaitable[None]], **options: Any) -> DockerBackend:
    options.setdefault("image", IMAGE)
    backend = open_backend("docker", **options)
    assert isinstance(backend, DockerBackend)

    async def main() -> None:
        async with backend:
            await body(backend)

    run(main())
    return backend


def leftovers(session_id: str) -> list[Any]:
    import docker

    client = docker.from_env()
    try:
        return list(client.containers.list(all=True, filters={"label": f"{LABEL}={session_id}"}))
    finally:
        client.close()


def test_no_engine_is_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-engine.sock")

    async def main() -> None:
        async with open_backend("docker", image=IMAGE):
            pass

    with pytest.raises(BackendUnavailableError, match="no Docker engine answers") as info:
        run(main())
    assert "\n" not in str(info.value)


@needs_docker
def test_missing_image_is_unavailable() -> None:
    async def main() -> None:
        async with open_backend("docker", image="eagerexec/no-such-image:never"):
            pass

    with pytest.raises(BackendUnavailableError, match=r"build-docker-image\.sh"):
        run(main())


@needs_docker
def test_session_state_output_errors_timeouts(tmp_path: Path) -> None:
    events: list[OutputEvent] = []

    async def body(b: DockerBackend) -> None:
        first = await b.run("x = 20\nprint('out', x)\nimport sys\nprint('err', file=sys.stderr)\n")
        assert first.ok and first.stdout == "out 20\n" and first.stderr == "err\n"
        second = await b.run("x += 1\nprint(x, sys.version_info[:2] >= (3, 8))", first_line=5)
        assert second.stdout == "21 True\n"
        failed = await b.run("y = 1\n\nz = x / 0\n", first_line=7)
        assert failed.error is not None and failed.survived
        assert failed.error.type == "ZeroDivisionError"
        assert failed.error.line == 9 and failed.error.line_text == "z = x / 0"
        assert "line 9" in failed.error.traceback
        # The program file is written in the session's private directory (bind-mounted at the
        # same path as here), never in the working directory.
        assert b.private is not None and not (tmp_path / "program.py").exists()
        assert (b.private / "program.py").read_text().splitlines()[8] == "z = x / 0"
        slow = await b.run("import time\ntime.sleep(60)\n", first_line=10, timeout=0.5)
        assert slow.timed_out and slow.survived
        assert slow.error is not None and slow.error.type == "KeyboardInterrupt"
        task = asyncio.create_task(b.run("time.sleep(60)", first_line=12))
        for _ in range(100):  # until the call is running and sees it (bounded)
            await asyncio.sleep(0.2)
            await b.interrupt()
            if task.done():
                break
        interrupted = await task
        assert interrupted.error is not None and interrupted.error.type == "KeyboardInterrupt"
        assert interrupted.survived and not interrupted.timed_out
        after = await b.run("print(x, y)")
        assert after.ok and after.stdout == "21 1\n" and not after.fresh_session
        # stdout is a block-buffered pipe, as for `python prog.py` (no PYTHONUNBUFFERED, no -u)
        buffered = await b.run("import os\nprint(type(sys.stdout.buffer).__name__, 'PYTHONUNBUFFERED' in os.environ)")
        assert buffered.ok and buffered.stdout == "BufferedWriter False\n"
        exited = await b.run("raise SystemExit(4)")
        assert exited.exit_code == 4 and exited.survived

    b = in_session(body, workdir=tmp_path, on_output=events.append)
    streamed = {kind: "".join(e.data for e in events if e.kind == kind) for kind in ("stdout", "stderr")}
    assert streamed["stdout"].startswith("out 20\n21 True\n") and streamed["stderr"].startswith("err\n")
    assert leftovers(b.session_id) == []


@needs_docker
def test_escapes_fail(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = f"fake-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("EAGEREXEC_TEST_SECRET", secret)
    base = Path("/root") if os.access("/root", os.W_OK) else tmp_path.parent
    host_file = base / f"eagerexec-host-file-{uuid.uuid4().hex}.txt"
    host_file.write_text(secret)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    port = server.getsockname()[1]
    try:

        async def body(b: DockerBackend) -> None:
            env = await b.run(
                "import os\n"
                "print(os.environ.get('EAGEREXEC_TEST_SECRET'))\n"
                "print(any(k == 'EAGEREXEC_TEST_SECRET' for k in os.environ))\n"
                "print(open('/proc/1/environ', 'rb').read().decode(errors='replace'))\n"
            )
            assert env.ok, env.error
            assert secret not in env.stdout and env.stdout.startswith("None\nFalse\n")
            read = await b.run(f"print(open({str(host_file)!r}).read())")
            assert read.error is not None and read.error.type in ("FileNotFoundError", "PermissionError")
            assert secret not in read.stdout
            connect = await b.run(
                f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5)\n"
            )
            assert connect.error is not None and connect.survived
            assert connect.error.type in ("ConnectionRefusedError", "OSError", "TimeoutError")
            nets = await b.run("print(sorted(os.listdir('/sys/class/net')))")
            assert nets.stdout == "['lo']\n"  # no interface leads anywhere

        b = in_session(body, workdir=tmp_path)
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing from the container ever reached the host's port
        assert leftovers(b.session_id) == []
    finally:
        server.close()
        host_file.unlink()


@needs_docker
def test_runs_as_another_user_when_asked() -> None:
    async def body(b: DockerBackend) -> None:
        who = await b.run("import os\nprint(os.getuid(), os.getgid())\nopen('made.txt', 'w').write('x')\n")
        assert who.ok and who.stdout == "65534 65534\n"
        assert b.workdir is not None and (b.workdir / "made.txt").stat().st_uid == 65534

    in_session(body, user="65534:65534")


@needs_docker
def test_broken_image_fails_to_start_cleanly() -> None:
    backend = open_backend("docker", image=IMAGE, python="/no/such/python")
    assert isinstance(backend, DockerBackend)

    async def main() -> None:
        async with backend:
            pass

    with pytest.raises(BackendError, match="cannot start the worker"):
        run(main())
    assert leftovers(backend.session_id) == []


@needs_docker
def test_ignored_interrupt_restarts_a_fresh_container() -> None:
    async def body(b: DockerBackend) -> None:
        await b.run("kept = 1")
        first_container = b.container_id
        stuck = await b.run(
            "import time\nwhile True:\n    try:\n        time.sleep(60)\n    except KeyboardInterrupt:\n        pass\n",
            timeout=0.5,
        )
        assert stuck.timed_out and stuck.state_lost and not stuck.survived
        after = await b.run("print('kept' in globals())")
        assert after.fresh_session and after.stdout == "False\n"
        assert b.container_id != first_container
        assert leftovers(b.session_id) != []  # the live one only
        assert len(leftovers(b.session_id)) == 1

    b = in_session(body, grace=0.5)
    assert leftovers(b.session_id) == []


@needs_docker
def test_worker_death_reports_status_and_next_call_is_fresh() -> None:
    async def body(b: DockerBackend) -> None:
        await b.run("state = 1")
        exited = await b.run("import os\nos._exit(3)\n")
        assert exited.exit_code == 3 and exited.stopped
        fresh = await b.run("print('state' in globals())")
        assert fresh.fresh_session and fresh.ok and fresh.stdout == "False\n"
        crash = await b.run("import ctypes\nctypes.string_at(0)\n")
        assert not crash.survived and crash.exit_status == -11  # SIGSEGV
        again = await b.run("print('up')")
        assert again.fresh_session and again.stdout == "up\n"

    in_session(body)


@needs_docker
def test_memory_bomb_is_contained_by_the_memory_limit() -> None:
    async def body(b: DockerBackend) -> None:
        bomb = await b.run("blob = b'x' * (1 << 30)\n")  # touches 1 GiB, limit is 128 MiB
        assert not bomb.survived and bomb.state_lost and bomb.extra.get("oom_killed") is True
        assert bomb.error is not None
        assert bomb.error.type == "MemoryError" and "128 MiB" in bomb.error.message
        assert bomb.exit_status == -9
        nxt = await b.run("print(2 + 2)")
        assert nxt.fresh_session and nxt.stdout == "4\n"

    b = in_session(body, memory=128 * 1024**2)
    assert leftovers(b.session_id) == []


@needs_docker
def test_fork_bomb_is_contained_by_the_process_limit() -> None:
    async def body(b: DockerBackend) -> None:
        bomb = await b.run(
            "import os, time\nchildren = []\n"
            "for _ in range(10_000):\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        time.sleep(2)\n"
            "        os._exit(0)\n"
            "    children.append(pid)\n",
            timeout=60,
        )
        assert bomb.survived and bomb.error is not None
        assert bomb.error.type == "BlockingIOError"  # fork: EAGAIN at the limit
        counted = await b.run("print(len(children) < 32)\nfor c in children: os.waitpid(c, 0)\n")
        assert counted.ok and counted.stdout == "True\n"

    in_session(body, processes=32)


@needs_docker
def test_cancelled_call_and_close_leave_no_container() -> None:
    backend = open_backend("docker", image=IMAGE)
    assert isinstance(backend, DockerBackend)

    async def main() -> None:
        async with backend:
            task = asyncio.create_task(backend.run("import time\ntime.sleep(60)\n"))
            await asyncio.sleep(0.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    run(main())
    assert backend.container_id is not None
    assert leftovers(backend.session_id) == []


def test_default_image_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from eagerexec.backends.docker import DEFAULT_IMAGE

    monkeypatch.delenv("EAGEREXEC_DOCKER_IMAGE", raising=False)
    assert open_backend("docker").image == DEFAULT_IMAGE  # type: ignore[attr-defined]
    monkeypatch.setenv("EAGEREXEC_DOCKER_IMAGE", "local/python:test")
    assert open_backend("docker").image == "local/python:test"  # type: ignore[attr-defined]
    assert open_backend("docker", image="explicit:1").image == "explicit:1"  # type: ignore[attr-defined]
