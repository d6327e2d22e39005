"""Idle-time garbage collection: eager NEL with it (the default) and without, serial as baseline.

Usage::

    python bench/bench_idle.py [--tps 200] [--repeats 2] [--backend local] [--programs a,b]
                               [--json out.json]

For every error-free program of the bundled corpus, each repeat runs three fresh sessions back
to back on a replay at ``--tps``: serial, eager with ``Session(idle_work=False)`` and eager with
the default ``idle_work=True`` (the order is reversed on odd repeats). The worker then runs a
due full garbage collection in the wait for the model instead of inside a later statement.
Printed per program: median NEL of each variant and the NEL saving against serial; at the end
the median saving over programs for both eager variants, and the programs where idle collection
changed NEL by more than 10 ms either way.
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
from pathlib import Path
from typing import Any

from eagerexec.bench._programs import Program, load_corpus
from eagerexec.bench._runner import _materialise
from eagerexec.pipeline._session import Session
from eagerexec.sources import ReplaySource

VARIANTS = (("serial", "serial", False), ("eager-no-idle", "eager", False), ("eager", "eager", True))


async def run_once(prog: Program, mode: str, idle: bool, tps: float, backend: str) -> float:
    """One replay of ``prog`` on a fresh session; its NEL in seconds."""
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as wd:
        _materialise(prog, Path(wd))
        source = ReplaySource(prog.code, tps=tps)
        async with Session(backend, mode=mode, idle_work=idle, timeout=120, workdir=wd) as session:  # type: ignore[arg-type]
            result = await session.run(source)
    if result.error is not None:
        raise RuntimeError(f"{prog.name} failed ({mode}): {result.error.type}: {result.error.message}")
    return result.metrics.nel


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tps", type=float, default=200.0, help="replay rate, tokens/s")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each variant per program")
    parser.add_argument("--backend", default="local", help="local, sandbox or docker")
    parser.add_argument("--programs", default="", help="comma-separated names (default: all error-free)")
    parser.add_argument("--json", dest="json_path", help="write the results as JSON here")
    args = parser.parse_args(argv)
    wanted = set(filter(None, args.programs.split(",")))
    programs = [p for p in load_corpus("bundled") if p.expect == "ok" and (not wanted or p.name in wanted)]
    print("command: python bench/bench_idle.py " + " ".join(sys.argv[1:] if argv is None else argv))
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    results: dict[str, dict[str, Any]] = {}
    for prog in programs:
        nel: dict[str, list[float]] = {name: [] for name, _, _ in VARIANTS}
        for rep in range(args.repeats):
            order = VARIANTS if rep % 2 == 0 else tuple(reversed(VARIANTS))
            for name, mode, idle in order:
                nel[name].append(await run_once(prog, mode, idle, args.tps, args.backend))
        med = {name: statistics.median(v) for name, v in nel.items()}
        saving = {name: 100 * (1 - med[name] / med["serial"]) for name in ("eager-no-idle", "eager")}
        results[prog.name] = {"nel_s": nel, "median_nel_s": med, "nel_saving_pct": saving}
        print(
            f"{prog.name:<28} serial {med['serial'] * 1e3:8.1f} ms   no idle {med['eager-no-idle'] * 1e3:7.1f} ms "
            f"({saving['eager-no-idle']:5.1f}%)   idle {med['eager'] * 1e3:7.1f} ms ({saving['eager']:5.1f}%)",
            flush=True,
        )
    if not results:
        print("no program to run")
        return 1
    for name in ("eager-no-idle", "eager"):
        print(f"median NEL saving, {name}: {statistics.median(r['nel_saving_pct'][name] for r in results.values()):.1f}%")
    for prog_name, r in results.items():
        delta = (r["median_nel_s"]["eager"] - r["median_nel_s"]["eager-no-idle"]) * 1e3
        if abs(delta) > 10:
            print(f"  {prog_name}: idle collection changed NEL by {delta:+.1f} ms")
    if args.json_path:
        meta = {"python": sys.version.split()[0], "machine": platform.platform(), "tps": args.tps,
                "repeats": args.repeats, "backend": args.backend}
        with open(args.json_path, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
