"""Per-call overhead of the jupyter backend next to a raw jupyter_client round trip.

Usage::

    /work/venv/bin/python bench/bench_jupyter.py [--calls 300] [--starts 3] [--json]

Both sessions run in the same process at the same time and their calls alternate, so machine
noise hits both alike. "raw" sends ``execute("pass")`` and waits for the shell reply only (no
IOPub, no mapping); "backend" is ``JupyterBackend.run("pass")`` (waits for IOPub idle,
builds the Outcome). Session start is ``start()`` to a ready kernel, measured ``--starts`` times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from typing import Any

from jupyter_client.manager import AsyncKernelManager

from eagerexec import open_backend


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"median_ms": statistics.median(ordered) * 1e3, "p90_ms": p90 * 1e3, "n": float(len(ordered))}


async def _raw_session() -> tuple[Any, Any, str]:
    runtime = tempfile.mkdtemp(prefix="eager-bench-")
    km = AsyncKernelManager(kernel_name="python3", transport="ipc")
    km.ip = os.path.join(runtime, "k")
    km.connection_file = os.path.join(runtime, "kernel.json")
    await km.start_kernel(cwd=runtime)
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    return km, kc, runtime


async def _raw_call(kc: Any) -> None:
    msg_id = kc.execute("pass", store_history=False)
    while True:
        reply = await kc.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == msg_id:
            return


async def bench(calls: int, starts: int) -> dict[str, Any]:
    start_times: list[float] = []
    for _ in range(starts):
        backend = open_backend("jupyter")
        t0 = time.perf_counter()
        await backend.start()
        start_times.append(time.perf_counter() - t0)
        await backend.aclose()

    km, kc, _runtime = await _raw_session()
    raw: list[float] = []
    mapped: list[float] = []
    try:
        async with open_backend("jupyter") as backend:
            for _ in range(20):  # warm-up
                await _raw_call(kc)
                await backend.run("pass")
            for _ in range(calls):
                t0 = time.perf_counter()
                await _raw_call(kc)
                t1 = time.perf_counter()
                outcome = await backend.run("pass")
                t2 = time.perf_counter()
                assert outcome.ok, outcome
                raw.append(t1 - t0)
                mapped.append(t2 - t1)
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)

    raw_s, mapped_s = _stats(raw), _stats(mapped)
    return {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "calls": calls,
        "raw_round_trip": raw_s,
        "backend_execute": mapped_s,
        "ratio_median": mapped_s["median_ms"] / raw_s["median_ms"],
        "overhead_median_ms": mapped_s["median_ms"] - raw_s["median_ms"],
        "session_start": _stats(start_times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = asyncio.run(bench(args.calls, args.starts))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"# {result['machine']}; {result['calls']} calls of 'pass', alternating")
    print(f"{'what':<34}{'median ms':>12}{'p90 ms':>12}")
    rows = [
        ("raw jupyter_client round trip", result["raw_round_trip"]),
        ("JupyterBackend.execute", result["backend_execute"]),
        ("session start (start())", result["session_start"]),
    ]
    for label, stats in rows:
        print(f"{label:<34}{stats['median_ms']:>12.3f}{stats['p90_ms']:>12.3f}")
    print(
        f"backend/raw median ratio {result['ratio_median']:.2f}, "
        f"added per call {result['overhead_median_ms']:.3f} ms"
    )


if __name__ == "__main__":
    main()
