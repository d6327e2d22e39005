"""How long ``import eagerexec`` takes, over a bare interpreter, paired in one run.

Each round starts, in turn, ``python -c pass`` (the bare interpreter), ``python -c "import
eagerexec"`` from this checkout and, with ``--before SRC``, the same import from another
checkout's ``src`` directory (e.g. a ``git worktree`` of an older commit). Rounds alternate the
commands so that a drift of the machine's speed hits them alike; the report gives the median wall
time of each and the median of the per-round differences over the bare interpreter.

    python bench/bench_import.py --rounds 30 [--before /tmp/before/src] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "src"


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--before", type=Path, help="another checkout's src/ directory to compare")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    python = sys.executable
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "bare": ([python, "-c", "pass"], base_env),
        "now": ([python, "-c", "import eagerexec"], {**base_env, "PYTHONPATH": str(HERE)}),
    }
    if args.before is not None:
        commands["before"] = ([python, "-c", "import eagerexec"], {**base_env, "PYTHONPATH": str(args.before)})
    times: dict[str, list[float]] = {name: [] for name in commands}
    for argv, env in commands.values():  # warm the page cache
        _time(argv, env)
    for _ in range(args.rounds):
        for name, (argv, env) in commands.items():
            times[name].append(_time(argv, env))
    report: dict[str, float] = {}
    for name, values in times.items():
        report[f"{name}_median_ms"] = statistics.median(values) * 1e3
        if name != "bare":
            diffs = [v - b for v, b in zip(values, times["bare"], strict=True)]
            report[f"{name}_over_bare_median_ms"] = statistics.median(diffs) * 1e3
    for key, value in report.items():
        print(f"{key:28s} {value:8.1f}")
    if args.json:
        args.json.write_text(json.dumps({"rounds": args.rounds, "python": python, **report}, indent=2) + "\n")


if __name__ == "__main__":
    main()
