"""Run a sweep: programs x backends x rates x repeats, each a serial/eager pair.

Strategy: the sweep is a list of *pairs* (program, backend, tps, repeat). A pair runs the program
twice on FRESH sessions of the same backend in the same process, back to back (serial first on
even repeats, eager first on odd ones, so neither mode always gets the warmer machine), and
yields two records, one per mode. Records are appended to ``runs.jsonl`` and flushed line by
line; on start the file is read (tolerating a torn last line) and every pair whose two records
are already there is skipped, so an interrupted sweep resumes where it stopped.

Nothing a program does can stop the sweep: the pipeline's own per-call timeout catches a hang,
a hard cap (generation time + timeout + slack) catches anything else, and any exception around
a run becomes an error record. Pairs run one at a time on a single machine (parallel runs
would share cores and skew timings); ``--ray`` spreads them over a cluster instead.

CPU pinning: when the OS allows it (``os.sched_setaffinity``) the harness process pins itself to
``cpus_per_run`` CPUs of its current mask for the sweep; the backends' interpreter processes are
its children and inherit the mask. The mask is restored afterwards and recorded in each record.
With Ray, nothing is pinned: each task reserves ``cpus_per_run`` CPUs in Ray's scheduler, and
the mask the worker had is recorded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._pair import PairSpec, SweepConfig, run_pair, run_pair_sync
from ._programs import Program
from ._ray import run_pairs_ray
from ._records import MODES, json_default, load_runs, pair_key, run_key

__all__ = [
    "MODES",
    "PairSpec",
    "SweepConfig",
    "SweepSummary",
    "load_runs",
    "pair_key",
    "plan_pairs",
    "run_key",
    "run_pair",
    "run_sweep",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepSummary:
    """What a sweep did: pairs planned, skipped (already in runs.jsonl), executed, and how many
    runs ended in each status."""

    planned: int
    skipped: int
    executed: int
    statuses: dict[str, int]
    runs_path: Path


def plan_pairs(programs: Sequence[Program], cfg: SweepConfig, done: set[str]) -> tuple[list[PairSpec], int]:
    """Every pair of the sweep that is not complete in ``done`` (run keys), and the skip count.

    Order: repeat, then rate, then backend, then program, so that an interrupted sweep has
    whole repeats of every cell rather than every repeat of a few.
    """
    todo: list[PairSpec] = []
    skipped = 0
    for repeat in range(cfg.repeats):
        for tps in cfg.tps:
            for backend in cfg.backends:
                for prog in programs:
                    spec = PairSpec(program=prog, backend=backend, tps=tps, repeat=repeat)
                    if all(f"{spec.key}/{m}" in done for m in MODES):
                        skipped += 1
                    else:
                        todo.append(spec)
    return todo, skipped


# -- one pair ---------------------------------------------------------------------------------


# -- the sweep --------------------------------------------------------------------------------


class RunsWriter:
    """Append records to ``runs.jsonl``, one flushed line each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # a torn last line (interrupted write) must not glue itself to the next record
        if path.exists() and path.stat().st_size > 0:
            with path.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                torn = f.read(1) != b"\n"
            if torn:
                with path.open("a", encoding="utf-8") as f:
                    f.write("\n")
        self._f = path.open("a", encoding="utf-8")

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        for rec in records:
            self._f.write(json.dumps(rec, default=json_default, allow_nan=False) + "\n")
            self._f.flush()

    def close(self) -> None:
        self._f.close()


@contextmanager
def _pinned(cpus: int, enabled: bool) -> Iterator[None]:
    if not enabled or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    chosen = set(sorted(before)[: max(1, cpus)])
    try:
        os.sched_setaffinity(0, chosen)
    except OSError:
        yield
        return
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _progress(total: int, enabled: bool) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[current]}"),
        disable=not enabled,
    )


def run_sweep(
    programs: Sequence[Program],
    cfg: SweepConfig,
    *,
    ray_address: str | None = None,
    use_ray: bool = False,
    on_pair: Callable[[PairSpec, list[dict[str, Any]]], None] | None = None,
) -> SweepSummary:
    """Run every missing pair of the sweep and append the records to ``cfg.out/runs.jsonl``.

    Args:
        programs: what to run (already limited).
        cfg: the sweep's settings.
        ray_address: the Ray cluster to use (``None`` with ``use_ray``: start a local one).
        use_ray: schedule pairs as Ray tasks (imports ray only then).
        on_pair: called after each pair is written (tests, live displays).

    Returns:
        A ``SweepSummary``.
    """
    if cfg.limit is not None:
        seen: dict[str, int] = {}
        kept = []
        for prog in programs:
            seen[prog.corpus] = seen.get(prog.corpus, 0) + 1
            if seen[prog.corpus] <= cfg.limit:
                kept.append(prog)
        programs = kept
    runs_path = cfg.out / "runs.jsonl"
    existing, _bad = load_runs(runs_path)
    done = {run_key(r) for r in existing}
    todo, skipped = plan_pairs(programs, cfg, done)
    statuses: dict[str, int] = {}
    writer = RunsWriter(runs_path)

    def sink(spec: PairSpec, recs: list[dict[str, Any]]) -> None:
        writer.write(recs)
        for r in recs:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        if on_pair is not None:
            on_pair(spec, recs)

    try:
        with _progress(len(todo), cfg.progress) as bar:
            task = bar.add_task("eager bench", total=len(todo), current="")

            def advance(spec: PairSpec, recs: list[dict[str, Any]]) -> None:
                sink(spec, recs)
                bar.update(task, advance=1, current=spec.key)

            if use_ray:

                run_pairs_ray(todo, cfg, address=ray_address, sink=advance)
            else:
                with _pinned(cfg.cpus_per_run, cfg.pin):
                    for spec in todo:
                        bar.update(task, current=spec.key)
                        advance(spec, run_pair_sync(spec, cfg.timeout))
    finally:
        writer.close()
    return SweepSummary(
        planned=len(todo) + skipped, skipped=skipped, executed=len(todo), statuses=statuses, runs_path=runs_path
    )
