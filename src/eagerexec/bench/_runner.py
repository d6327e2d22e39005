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

import asyncio
import json
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .._exceptions import BenchError, EagerError
from ._programs import Program

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

MODES = ("serial", "eager")
_SLACK = 30.0  # seconds added to the hard cap of one run
_OUTPUT_CAP = 4000  # characters of stdout/stderr kept per record


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepConfig:
    """What to run and how.

    Attributes:
        out: the output directory (``runs.jsonl``, report, figures).
        tps: replay rates, tokens per second.
        backends: backend names (``local``, ``sandbox``...).
        repeats: pairs per (program, backend, tps).
        timeout: per-call timeout of the sessions, seconds (a hanging program is stopped).
        cpus_per_run: CPUs pinned (single machine) or reserved (Ray) per pair.
        limit: run only the first N programs of each corpus (by ``Program.corpus``).
        pin: pin the harness process (and so its backends) to ``cpus_per_run`` CPUs.
        progress: show a progress bar.
    """

    out: Path
    tps: tuple[float, ...] = (20.0, 50.0, 100.0, 200.0)
    backends: tuple[str, ...] = ("local",)
    repeats: int = 1
    timeout: float = 60.0
    cpus_per_run: int = 2
    limit: int | None = None
    pin: bool = True
    progress: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class PairSpec:
    """One serial/eager pair to run."""

    program: Program
    backend: str
    tps: float
    repeat: int

    @property
    def key(self) -> str:
        return pair_key(self.program.corpus, self.program.name, self.backend, self.tps, self.repeat)


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepSummary:
    """What a sweep did: pairs planned, skipped (already in runs.jsonl), executed, and how many
    runs ended in each status."""

    planned: int
    skipped: int
    executed: int
    statuses: dict[str, int]
    runs_path: Path


def _fmt_tps(tps: float) -> str:
    return f"{tps:g}"


def pair_key(corpus: str, program: str, backend: str, tps: float, repeat: int) -> str:
    """The identity of a pair in ``runs.jsonl``."""
    return f"{corpus}/{program}/{backend}/{_fmt_tps(tps)}/{repeat}"


def run_key(record: dict[str, Any]) -> str:
    """The identity of one run record: its pair key plus the mode."""
    pk = pair_key(record["corpus"], record["program"], record["backend"], float(record["tps"]), record["repeat"])
    return f"{pk}/{record['mode']}"


def load_runs(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Read ``runs.jsonl``: the records (deduplicated by run key, the last one wins) and how
    many lines were unreadable (a torn last line after an interruption)."""
    if not path.exists():
        return [], 0
    records: dict[str, dict[str, Any]] = {}
    bad = 0
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                key = run_key(rec)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                bad += 1
                continue
            records.pop(key, None)
            records[key] = rec
    return list(records.values()), bad


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


def _materialise(program: Program, workdir: Path) -> None:
    for rel, data in program.files:
        p = PurePosixPath(rel)
        if p.is_absolute() or ".." in p.parts:
            raise BenchError(f"{program.corpus}/{program.name}: data file {rel!r} escapes the workdir")
        dest = workdir.joinpath(*p.parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)


def _status(error: dict[str, Any] | None) -> str:
    if not error:
        return "ok"
    origin = error.get("origin")
    if error.get("type") == "TimeoutError" and origin in ("backend", "harness"):
        return "timeout"
    if origin in ("backend", "harness"):
        return "crash"
    return "error"


def _prediction(record: dict[str, Any]) -> dict[str, Any] | None:
    from ..model import estimate_from_run

    try:
        est = estimate_from_run(record)
        p = est.predict()
    except (EagerError, ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
        return {"unavailable": str(exc)}
    return {
        "t_gen": p.t_gen,
        "serial_e2el": p.serial.e2el,
        "eager_e2el": p.eager.e2el,
        "batched_e2el": p.batched.e2el,
        "batched_nel": p.batched.nel,
        "lower_bound": p.lower_bound,
        "upper_bound": p.upper_bound,
        "e2el_saving_pct_batched": p.e2el_saving_pct_batched,
        "nel_saving_pct_batched": p.nel_saving_pct_batched,
        "regime": p.regime.value,
        "n_chunks": p.n_chunks,
        "setup": p.setup,
        "exe_sum": p.exe_sum,
        "notes": list(est.notes),
    }


def _clip(text: Any) -> Any:
    if isinstance(text, str) and len(text) > _OUTPUT_CAP:
        return text[:_OUTPUT_CAP] + f"... [{len(text) - _OUTPUT_CAP} more characters]"
    return text


async def _run_mode(spec: PairSpec, mode: str, timeout: float) -> dict[str, Any]:
    from ..pipeline._session import Session
    from ..sources import ReplaySource

    prog = spec.program
    base: dict[str, Any] = {
        "program": prog.name,
        "corpus": prog.corpus,
        "backend": spec.backend,
        "tps": spec.tps,
        "mode": mode,
        "repeat": spec.repeat,
        "expect": prog.expect,
    }
    started = time.time()
    rec: dict[str, Any]
    cap = 0.0
    with tempfile.TemporaryDirectory(prefix="eagerbench-") as wd:
        try:
            _materialise(prog, Path(wd))
            source = ReplaySource(prog.code, tps=spec.tps)
            cap = source.token_count / spec.tps + 2 * timeout + _SLACK
            async with Session(spec.backend, mode=mode, timeout=timeout, workdir=wd) as session:  # type: ignore[arg-type]
                result = await asyncio.wait_for(session.run(source), cap)
            rec = result.to_dict()
            rec.pop("code", None)
            rec["stdout"] = _clip(rec.get("stdout"))
            rec["stderr"] = _clip(rec.get("stderr"))
        except TimeoutError:
            rec = {"error": {"type": "TimeoutError", "message": f"run exceeded the hard cap ({cap:.0f} s)",
                             "line": None, "origin": "harness", "traceback": ""}}
        except (EagerError, OSError, RuntimeError, ValueError) as exc:
            rec = {"error": {"type": type(exc).__name__, "message": str(exc).splitlines()[0] if str(exc) else "",
                             "line": None, "origin": "harness", "traceback": ""}}
    rec.update(base)
    rec["status"] = _status(rec.get("error"))
    rec["wall"] = time.time() - started
    rec["prediction"] = _prediction(rec) if "timeline" in rec else None
    return rec


async def run_pair(spec: PairSpec, *, timeout: float) -> list[dict[str, Any]]:
    """Run one serial/eager pair on fresh sessions; two records, in ``MODES`` order."""
    order = MODES if spec.repeat % 2 == 0 else tuple(reversed(MODES))
    recs = {m: await _run_mode(spec, m, timeout) for m in order}
    meta = {"host": platform.node(), "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "finished": time.time()}
    out = []
    for m in MODES:
        recs[m].update(meta)
        out.append(recs[m])
    return out


def run_pair_sync(spec: PairSpec, timeout: float) -> list[dict[str, Any]]:
    """``run_pair`` in its own event loop (Ray tasks, plain threads)."""
    return asyncio.run(run_pair(spec, timeout=timeout))


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
            self._f.write(json.dumps(rec, default=_json_default, allow_nan=False) + "\n")
            self._f.flush()

    def close(self) -> None:
        self._f.close()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


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
                from ._ray import run_pairs_ray

                run_pairs_ray(todo, cfg, address=ray_address, sink=advance)
            else:
                with _pinned(cfg.cpus_per_run, cfg.pin):
                    for spec in todo:
                        bar.update(task, current=spec.key)
                        advance(spec, asyncio.run(run_pair(spec, timeout=cfg.timeout)))
    finally:
        writer.close()
    return SweepSummary(
        planned=len(todo) + skipped, skipped=skipped, executed=len(todo), statuses=statuses, runs_path=runs_path
    )
