"""What only the ``sandbox`` backend promises: escapes fail, limits contain bombs.

(The worker behaviour and the faults shared with ``local`` are in test_backends_local.py.)
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from eagerexec.backends._workerclient import WORKER_FILES, WORKER_PATH
from eagerexec.backends.sandbox import SandboxBackend


def in_sandbox(body: Callable[[SandboxBackend], Awaitable[None]], **options: Any) -> None:
    async def main() -> None:
        async with SandboxBackend(**options) as b:
            await body(b)

    asyncio.run(asyncio.wait_for(main(), 120))


def test_network_is_unreachable() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    async def body(b: SandboxBackend) -> None:
        local = await b.run(
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
        )
        assert local.error is not None and local.error.type == "ConnectionRefusedError"
        outside = await b.run("socket.create_connection(('93.184.216.34', 80), timeout=3)\n")
        assert outside.error is not None and "unreachable" in outside.error.message.lower()

    try:
        in_sandbox(body)
    finally:
        server.close()


def test_host_files_and_environment_are_hidden(tmp_path: Path) -> None:
    home = Path.home()
    secret = Path(tempfile.mkstemp(prefix=".eager-secret-", dir=home)[1])
    secret.write_text("top secret")
    host_tmp = Path(tempfile.mkstemp(prefix="eager-host-")[1])
    host_tmp.write_text("host tmp")
    os.environ["EAGER_TEST_FAKE_API_KEY"] = "sk-should-not-leak"
    try:

        async def body(b: SandboxBackend) -> None:
            for path in (secret, host_tmp, Path("/etc/shadow")):
                out = await b.run(f"open({str(path)!r}).read()\n")
                assert out.error is not None and out.error.type in ("FileNotFoundError", "PermissionError")
            env = await b.run("import os\nprint(sorted(os.environ))\nprint(os.getuid())\n")
            assert "EAGER_TEST_FAKE_API_KEY" not in env.stdout and "sk-should" not in env.stdout
            assert "'HOME'" in env.stdout
            if os.getuid() == 0:
                assert env.stdout.splitlines()[1] == "65534"
            proc = await b.run("print(open('/proc/self/environ').read())\n")
            assert "sk-should-not-leak" not in proc.stdout
            ro = await b.run("open('/usr/eager-test', 'w')\n")
            assert ro.error is not None and ro.error.type in ("OSError", "PermissionError")
            own = await b.run("open('mine.txt', 'w').write('x')\nopen('/tmp/t', 'w').write('y')\n")
            assert own.ok, own.error
            assert (Path(str(b.workdir)) / "mine.txt").read_text() == "x"

        in_sandbox(body)
    finally:
        secret.unlink()
        host_tmp.unlink()
        del os.environ["EAGER_TEST_FAKE_API_KEY"]


def test_extra_read_only_paths(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "table.csv").write_text("a,b\n1,2\n")

    async def body(b: SandboxBackend) -> None:
        out = await b.run(f"print(open({str(data / 'table.csv')!r}).read().split()[1])\n")
        assert out.stdout == "1,2\n"
        write = await b.run(f"open({str(data / 'new.txt')!r}, 'w')\n")
        assert write.error is not None

    in_sandbox(body, ro_paths=[data], env={"EAGER_DATA": str(data)})


def test_memory_bomb_is_contained() -> None:
    async def body(b: SandboxBackend) -> None:
        await b.run("x = 1\n")
        out = await b.run("hog = bytearray(8 * 1024**3)\n")
        assert out.error is not None and out.error.type == "MemoryError" and out.survived
        growing = await b.run("chunks = []\nwhile True:\n    chunks.append(bytearray(64 * 1024**2))\n")
        assert growing.error is not None and growing.error.type == "MemoryError"
        after = await b.run("del chunks\nprint(x)\n")
        assert after.ok and after.stdout == "1\n"

    in_sandbox(body, memory=1024**3)


@pytest.mark.skipif(os.getuid() != 0, reason="RLIMIT_NPROC for the sandbox uid is tested when run as root")
def test_fork_bomb_is_contained() -> None:
    async def body(b: SandboxBackend) -> None:
        out = await b.run("import os\nwhile True:\n    os.fork()\n", timeout=30)
        assert out.error is not None
        assert out.error.type == "BlockingIOError" or out.timed_out
        after = await b.run("print('host and session fine')\n")
        assert after.stdout == "host and session fine\n"

    in_sandbox(body, processes=64, grace=1.0)


def test_file_size_limit() -> None:
    async def body(b: SandboxBackend) -> None:
        out = await b.run("open('big.bin', 'wb').write(b'x' * 2_000_000)\n")
        assert out.error is not None and out.survived
        assert "File too large" in out.error.message

    in_sandbox(body, file_size=1_000_000)


def test_interrupt_crosses_the_pid_namespace() -> None:
    async def body(b: SandboxBackend) -> None:
        pid = await b.run("import os\nprint(os.getpid())\n")
        assert b.worker_pid is not None and int(pid.stdout) == b.worker_pid
        assert b._proc is not None and b._proc.process.pid != b.worker_pid
        out = await b.run("import time\ntime.sleep(60)\n", timeout=0.5)
        assert out.timed_out and out.survived and out.error is not None
        assert out.error.type == "KeyboardInterrupt"

    in_sandbox(body)


def test_bwrap_command_isolates() -> None:
    async def body(b: SandboxBackend) -> None:
        command = b.bwrap_command()
        for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--cap-drop"):
            assert flag in command
        home = str(Path.home())
        bound = [command[i + 2] for i, a in enumerate(command) if a in ("--bind", "--ro-bind")]
        assert home not in bound and "/tmp" not in bound
        # the worker's files, each read-only under its own name, and nothing else of the package
        sources = [command[i + 1] for i, a in enumerate(command) if a == "--ro-bind"]
        package = str(WORKER_PATH.parent)
        assert sorted(p for p in sources if p.startswith(package)) == sorted(str(f) for f in WORKER_FILES)
        for file in WORKER_FILES:
            at = command.index(str(file))
            assert command[at - 1] == "--ro-bind" and command[at + 1] == f"/run/eagerexec/{file.name}"

    in_sandbox(body)
