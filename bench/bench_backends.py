"""Per-call overhead and cold start of the execution backends.

Usage::

    python bench/bench_backends.py [-n 2000] [--backends local,sandbox] [--json out.json]

Per-call overhead = the host-side round trip of a trivial chunk (``pass``), median and p90 of N
calls after 50 warm-up calls. CPU per call (Linux) = the CPU time the host process and the
backend's process tree (the worker, bwrap) used over those N calls, divided by N, from
``/proc/*/task/*/schedstat`` (nanoseconds): on a shared, noisy machine the wall-clock round trip
swings by 2x between runs (wake-ups, which CPU each side lands on), while the work per call does
not; with spinning off (the ``-nospin`` rows) it is the work both sides do per call plus the
kernel's wake-ups, the figure to compare before and after a change. Cold start = creating a backend and awaiting ``start()``, median of
5. From pool = ``SessionPool.acquire()`` on a warm pool (its refill done), median of 5. ``--cpu N`` pins this process, and so the workers it starts,
to one CPU (``local-spin`` then shows what spinning costs when both sides share a CPU). Backends
are rows of ``SPECS`` (name -> backend and options): other backends add theirs there; a backend
that raises BackendUnavailableError is reported as skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from eagerexec._exceptions import BackendUnavailableError

try:
    from eagerexec.backends._base import Backend, open_backend
    from eagerexec.backends._pool import SessionPool
except ImportError:  # a checkout from before the redesign (issue 12), for a same-run baseline
    from eagerexec._backends._base import Backend, open_backend  # type: ignore[no-redef,import-not-found,unused-ignore]
    from eagerexec._pool import SessionPool  # type: ignore[no-redef,import-not-found,unused-ignore]

# name -> (backend, options); a factory per row is ``open_backend(backend, **options)``.
SPECS: dict[str, tuple[str, dict[str, Any]]] = {
    "local": ("local", {}),
    "sandbox": ("sandbox", {}),
    # The same backends with spinning off (both sides sleep in the kernel between messages):
    # the baseline for the spin's effect, measured in the same run.
    "local-nospin": ("local", {"spin": 0}),
    "sandbox-nospin": ("sandbox", {"spin": 0}),
    # Spinning named explicitly (the default turns it off when this process may use one CPU only):
    # with ``--cpu N``, host and worker spinning on one CPU.
    "local-spin": ("local", {"spin": 200e-6}),
    # The offline image scripts/build-docker-image.sh builds; $EAGEREXEC_DOCKER_IMAGE overrides.
    "docker": ("docker", {"image": os.environ.get("EAGEREXEC_DOCKER_IMAGE", "eagerexec/python:bookworm")}),
}
FACTORIES: dict[str, Callable[[], Backend]] = {
    name: (lambda b=backend, o=options: open_backend(b, **o)) for name, (backend, options) in SPECS.items()
}
POOLED = ("local", "sandbox", "docker")
"""Rows whose start from a pre-started ``SessionPool`` is measured too."""


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def _descendants(pid: int) -> list[int]:
    kids, out, todo = _children(), [], [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _cpu_ns(pids: list[int]) -> int | None:
    """CPU nanoseconds used so far by every thread of ``pids`` (None off Linux)."""
    total = 0
    for pid in pids:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
        except FileNotFoundError:
            if not os.path.exists("/proc/self/schedstat"):
                return None
        except OSError:
            return None
    return total


class _Calls:
    """The trivial call the bench repeats. Default: ``pass`` as line 1 every time, so the worker
    starts its program text again on each call. ``--append``: each call is the next line of one
    program, without a figure capture, as a run's eager batches are sent."""

    append = False
    line = 0


async def _call(backend: Backend) -> None:
    fields: dict[str, Any] = {}
    if _Calls.append:
        _Calls.line += 1
        fields = {"first_line": _Calls.line, "figures": False}
    if hasattr(backend, "run"):
        await backend.run("pass", **fields)
    else:  # the baseline checkout's name for it
        await getattr(backend, "execute")("pass", **fields)  # noqa: B009


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(factory: Callable[[], Backend], calls: int, starts: int = 5) -> dict[str, Any]:
    start_times = []
    for _ in range(starts):
        backend = factory()
        t0 = time.perf_counter()
        await backend.start()
        start_times.append(time.perf_counter() - t0)
        await backend.aclose()
    backend = factory()
    async with backend:
        _Calls.line = 0
        for _ in range(50):
            await _call(backend)
        host, tree = [os.getpid()], _descendants(os.getpid())
        host0, tree0 = _cpu_ns(host), _cpu_ns(tree)
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            await _call(backend)
            times.append(time.perf_counter() - t0)
        host1, tree1 = _cpu_ns(host), _cpu_ns(tree)
    row: dict[str, Any] = {
        "calls": calls,
        "call_median_us": statistics.median(times) * 1e6,
        "call_p90_us": _quantile(times, 0.9) * 1e6,
        "start_median_ms": statistics.median(start_times) * 1e3,
    }
    if None not in (host0, host1, tree0, tree1):
        row["host_cpu_us"] = (host1 - host0) / calls / 1e3  # type: ignore[operator]
        row["backend_cpu_us"] = (tree1 - tree0) / calls / 1e3  # type: ignore[operator]
    return row


async def measure_pool(name: str, takes: int = 5) -> float:
    """Median seconds for ``SessionPool.acquire()`` to hand out a started session, the pool's
    background refill finished before each take (a warm pool, as an agent server keeps one)."""
    backend, options = SPECS[name]
    times = []
    async with SessionPool(backend, size=1, **options) as pool:
        for _ in range(takes):
            while pool._ready.empty():  # the refill of the previous take
                await asyncio.sleep(0.01)
            t0 = time.perf_counter()
            session = await pool.acquire()
            times.append(time.perf_counter() - t0)
            _Calls.line = 0
            await _call(session)  # it is started and usable
            await session.aclose()
    return statistics.median(times)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="trivial calls per backend")
    parser.add_argument("--backends", default=",".join(FACTORIES), help="comma-separated names")
    parser.add_argument("--json", dest="json_path", help="write the results as JSON here")
    parser.add_argument("--append", action="store_true", help="each call is the next line of one program (a run's batches)")
    parser.add_argument(
        "--cpu", type=int, default=None, help="run on this CPU only (the workers inherit it): both sides share one CPU"
    )
    args = parser.parse_args(argv)
    _Calls.append = args.append
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    results: dict[str, Any] = {}
    for name in args.backends.split(","):
        try:
            results[name] = await measure(FACTORIES[name], args.n)
            if name in POOLED:
                results[name]["pool_acquire_median_us"] = await measure_pool(name) * 1e6
        except BackendUnavailableError as exc:
            results[name] = {"skipped": str(exc)}
    print(
        f"{'backend':<15} {'median us':>10} {'p90 us':>10} {'cold start ms':>14} {'from pool us':>13}"
        f" {'host cpu us':>12} {'backend cpu us':>15}"
    )
    for name, row in results.items():
        if "skipped" in row:
            print(f"{name:<15} skipped: {row['skipped']}")
        else:
            print(
                f"{name:<15} {row['call_median_us']:>10.1f} {row['call_p90_us']:>10.1f} "
                f"{row['start_median_ms']:>14.1f} {row.get('pool_acquire_median_us', float('nan')):>13.1f}"
                f" {row.get('host_cpu_us', float('nan')):>12.1f} {row.get('backend_cpu_us', float('nan')):>15.1f}"
            )
    if args.json_path:
        meta = {"python": sys.version.split()[0], "machine": platform.platform(), "n": args.n, "append": args.append}
        with open(args.json_path, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
