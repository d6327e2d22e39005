"""eager serve as a real process (uvicorn on a free loopback port): clients, floods, SIGTERM, Node."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("uvicorn")
import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = pytest.mark.timeout(120)

TOKEN = "secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def running_server(*options: str, token: str | None = TOKEN) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``eager serve`` on a free loopback port: yields (ws base URL, the process); stops it after."""
    port = free_port()
    args = [sys.executable, "-m", "eagerexec.cli", "serve", "--port", str(port), "--log-level", "warning"]
    args += ["--token", token] if token else []
    if "--backend" not in options:
        args += ["--backend", "local"]
    if "--pool" not in options:
        args += ["--pool", "1", "--preload", ""]
    proc = subprocess.Popen([*args, *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"eager serve did not start: {proc.communicate()[1]}")
            time.sleep(0.1)
        yield f"ws://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def program(ws: Any, deltas: list[str]) -> list[dict[str, Any]]:
    for d in deltas:
        await ws.send(json.dumps({"type": "delta", "text": d}))
    await ws.send(json.dumps({"type": "end"}))
    msgs = []
    while True:
        msgs.append(json.loads(await ws.recv()))
        if msgs[-1]["type"] == "result":
            return msgs


def stdout(msgs: list[dict[str, Any]]) -> str:
    return "".join(m["text"] for m in msgs if m["type"] == "output" and m["stream"] == "stdout")


def children(pid: int) -> set[int]:
    kids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    kids.add(int(entry.name))
    return kids


def alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server("--max-sessions", "6", "--max-message", "64K") as (url, _):
        yield url


def test_refuses_a_public_host_without_a_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "EAGER_TOKEN"}
    proc = subprocess.run([sys.executable, "-m", "eagerexec.cli", "serve", "--host", "0.0.0.0"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("eager: error: refusing to listen on 0.0.0.0")


def test_streams_over_a_real_socket_and_refuses_bad_tokens_with_401(server: str) -> None:
    async def go() -> None:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            with pytest.raises(InvalidStatus) as info:
                await connect(f"{server}/v1/stream", additional_headers=headers)
            assert info.value.response.status_code == 401
        async with connect(f"{server}/v1/stream", additional_headers=AUTH) as ws:
            first = await program(ws, list("n = 2\nprint(n * 21)\n"))
            assert stdout(first) == "42\n" and first[-1]["result"]["error"] is None
            assert stdout(await program(ws, ["print(n)\n"])) == "2\n"

    asyncio.run(go())
    r = httpx.post(f"http{server[2:]}/v1/execute", json={"code": "print(7)"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["stdout"] == "7\n"
    assert httpx.post(f"http{server[2:]}/v1/execute", json={"code": "1"}).status_code == 401


def test_serve_notebook_sends_expression_values_as_display_records() -> None:
    with running_server("--notebook") as (url, _):

        async def go() -> list[dict[str, Any]]:
            async with connect(f"{url}/v1/stream", additional_headers=AUTH) as ws:
                return await program(ws, list("x = 2\nx * 21\nprint('done')\n"))

        msgs = asyncio.run(go())
    shown = [m for m in msgs if m["type"] == "display"]
    assert [(m["kind"], m["data"]["text/plain"]) for m in shown] == [("result", "42")]
    assert stdout(msgs) == "done\n"
    assert msgs.index(shown[0]) < next(i for i, m in enumerate(msgs) if m["type"] == "output")


def test_a_100_mb_message_closes_that_connection_only(server: str) -> None:
    async def go() -> None:
        async with connect(f"{server}/v1/stream", additional_headers=AUTH) as other:
            async with connect(f"{server}/v1/stream", additional_headers=AUTH, max_size=None) as ws:
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(json.dumps({"type": "delta", "text": "#" * (100 << 20)}))
                with pytest.raises(ConnectionClosed):
                    while True:
                        await ws.recv()
                assert ws.close_code == 1009
            assert stdout(await program(other, ["print('untouched')\n"])) == "untouched\n"

    asyncio.run(go())
    assert httpx.get(f"http{server[2:]}/healthz").status_code == 200


def test_a_flood_of_connections_gets_records_and_close_codes(server: str) -> None:
    async def one() -> tuple[int | None, list[dict[str, Any]]]:
        ws = await connect(f"{server}/v1/stream", additional_headers=AUTH)
        msgs: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(1.0):
                while True:
                    msgs.append(json.loads(await ws.recv()))
        except (TimeoutError, ConnectionClosed):
            pass
        code = ws.close_code
        if code is None:  # admitted: still usable
            msgs = await program(ws, ["print('in')\n"])
        await ws.close()
        return code, msgs

    async def go() -> list[tuple[int | None, list[dict[str, Any]]]]:
        return await asyncio.gather(*(one() for _ in range(30)))

    outcomes = asyncio.run(go())
    admitted = [m for code, m in outcomes if code is None]
    refused = [m for code, m in outcomes if code == 4429]
    assert len(admitted) + len(refused) == 30 and 1 <= len(admitted) <= 6
    assert all(stdout(m) == "in\n" for m in admitted)
    assert all(m[0]["error"]["type"] in ("SessionLimit", "ServerBusy") for m in refused)
    assert httpx.get(f"http{server[2:]}/healthz").status_code == 200


def test_sigterm_drains_running_programs_then_stops() -> None:
    with running_server("--drain-timeout", "20") as (url, proc):
        workers = children(proc.pid)
        assert workers  # the warm pool

        async def go() -> list[dict[str, Any]]:
            async with connect(f"{url}/v1/stream", additional_headers=AUTH) as ws:
                await ws.send(json.dumps({"type": "delta", "text": "import time\nprint('start', flush=True)\n"}))
                while json.loads(await ws.recv())["type"] != "output":
                    pass
                workers.update(children(proc.pid))  # the session's worker and the pool's refill
                proc.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.3)
                with pytest.raises(InvalidStatus) as info:  # draining: no new session
                    await connect(f"{url}/v1/stream", additional_headers=AUTH)
                assert info.value.response.status_code == 503
                return await program(ws, ["time.sleep(1)\nprint('done')\n"])

        msgs = asyncio.run(go())
        assert msgs[-1]["result"]["stdout"] == "start\ndone\n"
        assert proc.wait(60) == 0
    assert not [pid for pid in workers if alive(pid)]


@pytest.fixture(scope="module")
def node() -> str:
    exe = shutil.which("node")
    js = ROOT / "examples" / "js"
    reason = "node is not installed" if exe is None else "examples/js: run `npm ci` first"
    if exe is None or not (js / "node_modules" / "ws").is_dir():
        if os.environ.get("EAGEREXEC_REQUIRE_NODE") == "1":
            pytest.fail(f"EAGEREXEC_REQUIRE_NODE=1 but {reason}")
        pytest.skip(reason)
    return exe


def test_the_node_example_client(server: str, node: str, tmp_path: Path) -> None:
    js = ROOT / "examples" / "js"
    env = {**os.environ, "EAGER_TOKEN": TOKEN}
    ok = subprocess.run([node, "stream.mjs", server, "--rate", "2000"], cwd=js, env=env,
                        capture_output=True, text=True, timeout=60)
    records = [json.loads(line) for line in ok.stdout.splitlines()]
    assert ok.returncode == 0, ok.stderr
    results = [r["result"] for r in records if r["type"] == "result"]
    assert [r["stdout"] for r in results] == ["x is 42.0\n0 0\n1 1\n2 4\n", "still here: x = 42.0\n"]
    assert {r["type"] for r in records} >= {"chunk", "output", "result"}

    bad = tmp_path / "bad.py"
    bad.write_text("print('a')\n1/0\nprint('never')\n" + "x = 1\n" * 50)
    failed = subprocess.run([node, "stream.mjs", server, str(bad), "--rate", "400"], cwd=js, env=env,
                            capture_output=True, text=True, timeout=60)
    records = [json.loads(line) for line in failed.stdout.splitlines()]
    assert failed.returncode == 1
    error = next(r for r in records if r["type"] == "error")
    assert error["stop"] is True and error["error"]["type"] == "ZeroDivisionError"
    first = next(r["result"] for r in records if r["type"] == "result")
    assert first["stopped_early"] is True and "never" not in first["stdout"]

    refused = subprocess.run([node, "stream.mjs", server], cwd=js, env={**env, "EAGER_TOKEN": "wrong"},
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "HTTP 401" in refused.stderr
