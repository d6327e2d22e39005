"""eager serve: session-ready time (warm pool vs cold start), per-statement overhead over the
WebSocket on loopback, with N concurrent clients, and memory (PSS) per idle session.

Usage::

    python bench/bench_server.py [--backend sandbox] [-n 10] [--statements 200] [--rounds 3]
                                 [--clients 8] [--idle 10] [--pool 2] [--json out.json]
    python bench/bench_server.py --ray [--backend sandbox] [--statements 200] [--rounds 3]

Two servers run (``eager serve`` subprocesses on free loopback ports): *warm* (``--pool`` sessions
started ahead with numpy, pandas and matplotlib imported) and *cold* (``--pool 0``: every session
starts on demand). Measures, medians (p50) and p90:

* ready: connect, send ``x = 1\\nprint(x)\\n`` + ``end``, until its ``output`` record arrives; and
  ``import pandas`` as the first statement, until its output. Sessions are opened ``--gap``
  seconds apart so that the pool refills between them (a pool refills one session per start-up time).
* per-statement round trip on one connection: send ``{"type": "delta", "text": "print(i)\\n"}``, wait
  for the ``output`` record ``i``; the same-run baseline is the same loop in-process (a ``Session``
  fed by a queue, timing its ``OutputReceived`` events), so WebSocket overhead = the difference;
  ``--rounds`` rounds alternate the two so that both see the same machine load.
* the same round trip with ``--clients`` clients streaming at once (all their round trips pooled);
  baseline: as many in-process sessions at once in this process.
* ``--ray`` (alone): the same round trip with ``eager serve --ray`` on a local two-node Ray cluster
  (``ray.cluster_utils.Cluster``) against a plain server, alternating rounds.
* ``--corpus-clients N`` (alone): N clients at once each stream a bundled corpus program token by
  token at ``--tps`` (stopping at the first error record), against the same programs streamed one
  at a time on the same server; saving = 1 - NEL / the program's execution time (the share of
  execution overlapped with generation), mean over programs.
* ``--pss K`` (alone): K idle sessions opened back to back on a warm server whose sessions are
  forked from one template, then on one with ``--no-fork``: PSS per session and ready times.
* PSS: ``--idle`` idle sessions open on the warm server; the sum of ``Pss`` (``/proc/PID/smaps_rollup``)
  of all the server's descendant processes, divided by the number of sessions (pool included).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

import eagerexec
from eagerexec.bench._programs import bundled_dir
from eagerexec.pipeline import Event, OutputReceived
from eagerexec.server import DEFAULT_PRELOAD
from eagerexec.server._manager import importable
from eagerexec.sources._replay import split_tokens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def server(backend: str, pool: int, preload: str, *more: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    cmd = [sys.executable, "-m", "eagerexec.cli", "serve", "--port", str(port), "--backend", backend,
           "--pool", str(pool), "--preload", preload, "--log-level", "warning", "--max-sessions-per-token", "200",
           "--max-sessions", "200", *more]
    proc = subprocess.Popen(cmd)
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("eager serve did not start")
            time.sleep(0.1)
        yield f"ws://127.0.0.1:{port}/v1/stream", proc.pid
    finally:
        proc.terminate()
        proc.wait(60)


async def until_output(ws: ClientConnection) -> float:
    while True:
        msg = json.loads(await ws.recv())
        if msg["type"] == "output":
            return time.perf_counter()
        if msg["type"] in ("error", "result"):
            raise SystemExit(f"unexpected record: {msg}")


# The first statement's own run time, from the result record's timeline (the worker's clock).
FIRST_STATEMENT: list[float] = []


async def ready_once(url: str, program: str) -> float:
    t0 = time.perf_counter()
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "delta", "text": program}))
        await ws.send(json.dumps({"type": "end"}))
        t1 = await until_output(ws)
        while (msg := json.loads(await ws.recv()))["type"] != "result":
            pass
    chunks = (msg["result"].get("timeline") or {}).get("chunks") or []
    if chunks and chunks[0].get("exec_end") is not None:
        FIRST_STATEMENT.append(chunks[0]["exec_end"] - chunks[0]["exec_start"])
    return t1 - t0


async def ready(url: str, program: str, n: int, gap: float) -> list[float]:
    out = []
    FIRST_STATEMENT.clear()
    for _ in range(n):
        await asyncio.sleep(gap)
        out.append(await ready_once(url, program))
    return out


async def roundtrips_ws(url: str, m: int) -> list[float]:
    times = []
    async with connect(url) as ws:
        for i in range(m + 20):
            t0 = time.perf_counter()
            await ws.send(json.dumps({"type": "delta", "text": f"print({i})\n"}))
            t1 = await until_output(ws)
            if i >= 20:  # warm-up
                times.append(t1 - t0)
        await ws.send(json.dumps({"type": "end"}))
        while json.loads(await ws.recv())["type"] != "result":
            pass
    return times


async def roundtrips_inprocess(backend: str, m: int, preload: tuple[str, ...]) -> list[float]:
    got: asyncio.Queue[float] = asyncio.Queue()
    deltas: asyncio.Queue[str | None] = asyncio.Queue()

    def on_event(event: Event) -> None:
        if isinstance(event, OutputReceived):
            got.put_nowait(time.perf_counter())

    async def source() -> Any:
        while (d := await deltas.get()) is not None:
            yield d

    times = []
    async with eagerexec.Session(backend, on_event=on_event, timeout=30.0, preload=preload) as session:
        run = asyncio.create_task(session.run(source()))
        for i in range(m + 20):
            t0 = time.perf_counter()
            deltas.put_nowait(f"print({i})\n")
            t1 = await got.get()
            while not got.empty():
                got.get_nowait()
            if i >= 20:
                times.append(t1 - t0)
        deltas.put_nowait(None)
        await run
    return times


def descendants(pid: int) -> list[int]:
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parent[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found += kids
        todo += kids
    return found


def pss_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


async def idle_pss(url: str, server_pid: int, k: int, pool: int) -> dict[str, float]:
    conns = []
    for _ in range(k):
        ws = await connect(url)
        await ws.send(json.dumps({"type": "delta", "text": "x = 1\n"}))
        await ws.send(json.dumps({"type": "end"}))
        while json.loads(await ws.recv())["type"] != "result":
            pass
        conns.append(ws)
    await asyncio.sleep(3)  # refills settle
    procs = descendants(server_pid)
    total = sum(pss_kib(p) for p in procs)
    for ws in conns:
        await ws.close()
    sessions = k + pool
    return {"sessions": sessions, "processes": len(procs), "pss_total_mib": total / 1024,
            "pss_per_session_mib": total / 1024 / sessions}


def stats(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {"n": len(xs), "p50_ms": statistics.median(xs) * 1e3, "p90_ms": xs[int(0.9 * (len(xs) - 1))] * 1e3}


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": args.backend, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
                           "python": platform.python_version()}
    stack = importable(DEFAULT_PRELOAD)
    with server(args.backend, args.pool, ",".join(stack)) as (url, pid):
        await ready(url, "x = 1\nprint(x)\n", 1, args.gap)  # the first refill
        out["warm_ready"] = stats(await ready(url, "x = 1\nprint(x)\n", args.n, args.gap))
        out["warm_import_pandas"] = stats(await ready(url, "import pandas\nprint(1)\n", args.n, args.gap))
        out["warm_import_pandas_statement"] = stats(FIRST_STATEMENT)  # the statement alone
        await asyncio.sleep(args.gap)  # the pool's refill done
        # alternating rounds: the WebSocket and its in-process baseline see the same load
        ws_rounds, local_rounds = [], []
        for _ in range(args.rounds):
            ws_rounds.append(await roundtrips_ws(url, args.statements))
            local_rounds.append(await roundtrips_inprocess(args.backend, args.statements, stack))
        out["ws_roundtrip"] = stats([t for r in ws_rounds for t in r])
        out["inprocess_roundtrip"] = stats([t for r in local_rounds for t in r])
        out["round_p50_ms"] = {"ws": [stats(r)["p50_ms"] for r in ws_rounds],
                               "inprocess": [stats(r)["p50_ms"] for r in local_rounds]}
        results = await asyncio.gather(*(roundtrips_ws(url, args.statements // 2) for _ in range(args.clients)))
        out[f"ws_roundtrip_{args.clients}_clients"] = stats([t for r in results for t in r])
        results = await asyncio.gather(
            *(roundtrips_inprocess(args.backend, args.statements // 2, stack) for _ in range(args.clients))
        )
        out[f"inprocess_roundtrip_{args.clients}_sessions"] = stats([t for r in results for t in r])
        out["idle_pss"] = await idle_pss(url, pid, args.idle, args.pool)
    with server(args.backend, 0, "") as (url, _):
        out["cold_ready"] = stats(await ready(url, "x = 1\nprint(x)\n", args.n, 0.2))
        out["cold_import_pandas"] = stats(await ready(url, "import pandas\nprint(1)\n", args.n, 0.2))
        out["cold_import_pandas_statement"] = stats(FIRST_STATEMENT)
    return out


async def measure_ray(args: argparse.Namespace) -> dict[str, Any]:
    """Per-statement round trip: sessions in Ray actors (a local two-node cluster) vs on the server."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    out: dict[str, Any] = {"backend": args.backend}
    try:
        with server(args.backend, 0, "", "--ray", cluster.address) as (ray_url, _), server(
            args.backend, 0, ""
        ) as (url, _):
            ray_rounds, local_rounds = [], []
            for _ in range(args.rounds):
                ray_rounds.append(await roundtrips_ws(ray_url, args.statements))
                local_rounds.append(await roundtrips_ws(url, args.statements))
            out["ray_ws_roundtrip"] = stats([t for r in ray_rounds for t in r])
            out["local_ws_roundtrip"] = stats([t for r in local_rounds for t in r])
            out["round_p50_ms"] = {"ray": [stats(r)["p50_ms"] for r in ray_rounds],
                                   "local": [stats(r)["p50_ms"] for r in local_rounds]}
    finally:
        cluster.shutdown()
    return out


async def stream_corpus_program(url: str, code: str, tps: float) -> dict[str, Any]:
    """Stream ``code`` token by token at ``tps`` (stopping at an error record); its result."""
    tokens = split_tokens(code)
    async with connect(url) as ws:
        ended = False

        async def send() -> None:
            nonlocal ended
            start = time.perf_counter()
            for i, tok in enumerate(tokens):
                await asyncio.sleep(max(0.0, start + i / tps - time.perf_counter()))
                await ws.send(json.dumps({"type": "delta", "text": tok}))
            ended = True
            await ws.send(json.dumps({"type": "end"}))

        sender = asyncio.create_task(send())
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "error" and msg["stop"] and not sender.done():
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender
                if not ended:
                    await ws.send(json.dumps({"type": "end"}))
            if msg["type"] == "result":
                if not sender.cancelled():
                    await sender
                result: dict[str, Any] = msg["result"]
                return result


def saving(result: dict[str, Any]) -> float | None:
    """Share of the program's execution that overlapped generation: 1 - NEL / execution time."""
    busy = sum(b["exec_end"] - b["exec_start"] for b in result["timeline"]["batches"])
    return None if busy <= 0.01 else 1.0 - result["metrics"]["nel"] / busy


async def measure_corpus(args: argparse.Namespace) -> dict[str, Any]:
    """NEL saving of ``--corpus-clients`` clients streaming bundled programs at once vs one at a time."""
    programs = sorted(bundled_dir().glob("*.py"))[: args.programs]
    codes = [p.read_text() for p in programs]
    stack = importable(DEFAULT_PRELOAD)
    out: dict[str, Any] = {"backend": args.backend, "tps": args.tps, "programs": len(codes),
                           "clients": args.corpus_clients}
    with server(args.backend, args.corpus_clients, ",".join(stack)) as (url, _):
        single = [saving(await stream_corpus_program(url, code, args.tps)) for code in codes]
        await asyncio.sleep(args.gap)
        many = await asyncio.gather(
            *(stream_corpus_program(url, codes[i % len(codes)], args.tps) for i in range(args.corpus_clients))
        )
    one = [x for x in single if x is not None]
    conc = [x for x in (saving(r) for r in many) if x is not None]
    out["single_mean_saving"] = statistics.mean(one)
    out["concurrent_mean_saving"] = statistics.mean(conc)
    out["single_median_saving"] = statistics.median(one)
    out["concurrent_median_saving"] = statistics.median(conc)
    out["concurrent_median_nel_s"] = statistics.median(r["metrics"]["nel"] for r in many)
    return out


async def burst_ready(url: str, k: int) -> tuple[list[float], list[ClientConnection]]:
    """Open ``k`` sessions back to back (more than the pool holds), each running ``x = 1;
    print(x)``: the time from connect to its output, and the connections, left open and idle."""
    times, conns = [], []
    for _ in range(k):
        t0 = time.perf_counter()
        ws = await connect(url)
        await ws.send(json.dumps({"type": "delta", "text": "x = 1\nprint(x)\n"}))
        await ws.send(json.dumps({"type": "end"}))
        times.append(await until_output(ws) - t0)
        while json.loads(await ws.recv())["type"] != "result":
            pass
        conns.append(ws)
    return times, conns


async def measure_pss(args: argparse.Namespace) -> dict[str, Any]:
    """``--pss K`` (alone): K idle sessions on a warm server whose sessions are forked from one
    template (the default) and on one started with ``--no-fork`` (each session its own
    interpreter importing the stack), one after the other in the same run: PSS per session (all
    the server's descendants, template included, over K) and each session's ready time."""
    stack = importable(DEFAULT_PRELOAD)
    out: dict[str, Any] = {"backend": args.backend, "sessions": args.pss, "pool": args.pool, "preload": stack,
                           "machine": f"{platform.machine()}, {os.cpu_count()} CPUs"}
    for name, flag in (("fork", "--fork"), ("no_fork", "--no-fork")):
        with server(args.backend, args.pool, ",".join(stack), flag) as (url, pid):
            await asyncio.sleep(args.gap)  # the pool is full
            times, conns = await burst_ready(url, args.pss)
            await asyncio.sleep(3)  # refills settle
            procs = descendants(pid)
            total = sum(pss_kib(p) for p in procs) / 1024
            out[name] = {"ready": stats(times), "processes": len(procs), "pss_total_mib": total,
                         "pss_per_session_mib": total / (args.pss + args.pool)}
            for ws in conns:
                await ws.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="sandbox")
    ap.add_argument("-n", type=int, default=10, help="sessions per ready measurement")
    ap.add_argument("--gap", type=float, default=2.5, help="seconds between sessions (pool refill)")
    ap.add_argument("--statements", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of the round-trip measurement")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--idle", type=int, default=10)
    ap.add_argument("--pool", type=int, default=2)
    ap.add_argument("--ray", action="store_true", help="only: the round trip with sessions in Ray actors")
    ap.add_argument("--corpus-clients", type=int, default=0,
                    help="only: this many clients streaming bundled corpus programs at once, vs one at a time")
    ap.add_argument("--programs", type=int, default=12, help="bundled programs used by --corpus-clients")
    ap.add_argument("--tps", type=float, default=100.0, help="tokens per second of --corpus-clients")
    ap.add_argument("--pss", type=int, default=0,
                    help="only: this many idle sessions, forked from a template vs --no-fork (PSS, ready time)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.corpus_clients:
        out = asyncio.run(measure_corpus(args))
    elif args.pss:
        out = asyncio.run(measure_pss(args))
    else:
        out = asyncio.run(measure_ray(args) if args.ray else measure(args))
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
