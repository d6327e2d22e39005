"""Per-call cost of notebook mode (``ExecRequest.notebook``) against plain mode, same run.

Usage::

    python bench/bench_notebook.py [-n 2000] [--backend local] [--json out.json]

Two sessions of the same backend, one plain and one in notebook mode; for each chunk below the
calls alternate between them (plain, notebook, plain, ...), so both see the same machine noise.
The time is the host-side round trip of ``backend.execute`` (median and p90 of N calls after 50
warm-up calls per session). Chunks: ``pass``; an assignment; a 12-line function definition
(none of its lines can begin an expression statement: compiled from its text as in plain
mode); the same followed by a call statement whose value is None (the REPL rule's AST edit on
a 13-line chunk, the hook runs, nothing is shown); a bare ``None``; a bare ``x`` (its value is
shown: a ``D`` frame and its acknowledgement; plain mode shows nothing, so that row is the
price of showing a value, not an overhead).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from typing import Any

from eagerexec.backends import ExecRequest, open_backend

FUNCTION = "".join(
    [
        "def f(values, scale=2):\n",
        "    total = 0\n",
        "    for i, v in enumerate(values):\n",
        "        if i % 2:\n",
        "            total += v * scale\n",
        "        else:\n",
        "            total -= v\n",
        "    result = {'total': total, 'n': len(values)}\n",
        "    if result['n'] > 10:\n",
        "        result['big'] = True\n",
        "    print(result) if False else None\n",
        "    return result\n",
    ]
)
CHUNKS = {
    "pass": "pass\n",
    "assign": "x = 1\n",
    "def (12 lines)": FUNCTION,
    "def+call (13 l.)": FUNCTION + "print(end='')\n",
    "None": "None\n",
    "x (shown)": "x\n",
}


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(backend: str, calls: int) -> dict[str, Any]:
    seen: list[Any] = []
    rows: dict[str, Any] = {}
    async with open_backend(backend) as plain, open_backend(backend, on_output=seen.append) as notebook:
        sessions = ((plain, False), (notebook, True))
        for b, nb in sessions:
            await b.execute(ExecRequest(code="x = 1\n", notebook=nb))
        for name, code in CHUNKS.items():
            times: dict[bool, list[float]] = {False: [], True: []}
            for k in range(50 + calls):
                for b, nb in sessions:
                    t0 = time.perf_counter()
                    outcome = await b.execute(ExecRequest(code=code, notebook=nb))
                    took = time.perf_counter() - t0
                    assert outcome.ok, outcome.error
                    if k >= 50:
                        times[nb].append(took)
            p, n = statistics.median(times[False]), statistics.median(times[True])
            rows[name] = {
                "plain_median_us": p * 1e6,
                "plain_p90_us": _quantile(times[False], 0.9) * 1e6,
                "notebook_median_us": n * 1e6,
                "notebook_p90_us": _quantile(times[True], 0.9) * 1e6,
                "ratio": n / p,
            }
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="calls per chunk and session")
    parser.add_argument("--backend", default="local")
    parser.add_argument("--json", dest="json_path", help="write the results as JSON here")
    args = parser.parse_args(argv)
    rows = asyncio.run(measure(args.backend, args.n))
    print(f"{args.backend}, n={args.n}, Python {platform.python_version()}, {platform.machine()}")
    print(f"{'chunk':16} {'plain med':>10} {'p90':>8} {'notebook med':>13} {'p90':>8} {'ratio':>6}  (µs)")
    for name, r in rows.items():
        print(
            f"{name:16} {r['plain_median_us']:10.1f} {r['plain_p90_us']:8.1f} "
            f"{r['notebook_median_us']:13.1f} {r['notebook_p90_us']:8.1f} {r['ratio']:6.2f}"
        )
    if args.json_path:
        with open(args.json_path, "w") as f:
            json.dump({"backend": args.backend, "n": args.n, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
