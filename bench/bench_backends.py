"""Per-call overhead and cold start of the execution backends.

Usage::

    python bench/bench_backends.py [-n 2000] [--backends local,sandbox] [--json out.json]

Per-call overhead = the host-side round trip of a trivial chunk (``pass``), median and p90 of N
calls after 50 warm-up calls. Cold start = creating a backend and awaiting ``start()``, median of
5. Backends are rows of ``FACTORIES`` (name -> zero-argument factory): other backends add theirs
there; a backend whose factory raises BackendUnavailableError is reported as skipped.
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

from eagerexec._backends._base import Backend, open_backend
from eagerexec._exceptions import BackendUnavailableError

FACTORIES: dict[str, Callable[[], Backend]] = {
    "local": lambda: open_backend("local"),
    "sandbox": lambda: open_backend("sandbox"),
    # The same backends with spinning off (both sides sleep in the kernel between messages):
    # the baseline for the spin's effect, measured in the same run.
    "local-nospin": lambda: open_backend("local", spin=0),
    "sandbox-nospin": lambda: open_backend("sandbox", spin=0),
    # The offline image scripts/build-docker-image.sh builds; $EAGEREXEC_DOCKER_IMAGE overrides.
    "docker": lambda: open_backend(
        "docker", image=os.environ.get("EAGEREXEC_DOCKER_IMAGE", "eagerexec/python:bookworm")
    ),
}


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
        for _ in range(50):
            await backend.execute("pass")
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            await backend.execute("pass")
            times.append(time.perf_counter() - t0)
    return {
        "calls": calls,
        "call_median_us": statistics.median(times) * 1e6,
        "call_p90_us": _quantile(times, 0.9) * 1e6,
        "start_median_ms": statistics.median(start_times) * 1e3,
    }


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="trivial calls per backend")
    parser.add_argument("--backends", default=",".join(FACTORIES), help="comma-separated names")
    parser.add_argument("--json", dest="json_path", help="write the results as JSON here")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    for name in args.backends.split(","):
        try:
            results[name] = await measure(FACTORIES[name], args.n)
        except BackendUnavailableError as exc:
            results[name] = {"skipped": str(exc)}
    print(f"{'backend':<15} {'median us':>10} {'p90 us':>10} {'cold start ms':>14}")
    for name, row in results.items():
        if "skipped" in row:
            print(f"{name:<15} skipped: {row['skipped']}")
        else:
            print(
                f"{name:<15} {row['call_median_us']:>10.1f} {row['call_p90_us']:>10.1f} "
                f"{row['start_median_ms']:>14.1f}"
            )
    if args.json_path:
        meta = {"python": sys.version.split()[0], "machine": platform.platform(), "n": args.n}
        with open(args.json_path, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
