"""One serial/eager pair of a sweep: what to run (``SweepConfig``, ``PairSpec``) and running it.

Strategy: a pair runs the program twice on FRESH sessions of the same backend in the same
process, back to back (serial first on even repeats, eager first on odd ones, so neither mode
always gets the warmer machine), in a scratch working directory holding the program's data
files, and yields two records, one per mode. Nothing a program does escapes: the pipeline's
per-call timeout catches a hang, a hard cap (generation time + timeout + slack) anything else,
and any exception around a run becomes an error record. Used by the single-machine runner and
by the Ray tasks alike, so both import it and not each other.
"""

from __future__ import annotations

import asyncio
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .._exceptions import BenchError, EagerError
from ..model import estimate_from_run
from ..pipeline._session import Session
from ..sources import ReplaySource
from ._programs import Program
from ._records import MODES, pair_key

__all__ = ["PairSpec", "SweepConfig", "materialise", "run_pair", "run_pair_sync"]

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


def materialise(program: Program, workdir: Path) -> None:
    for rel, data in program.files:
        p = PurePosixPath(rel)
        if p.is_absolute() or ".." in p.parts:
            raise BenchError(f"{program.corpus}/{program.name}: data file {rel!r} escapes the workdir")
        dest = workdir.joinpath(*p.parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)


def _status(error: dict[str, Any] | None, exit_code: Any = None) -> str:
    """``ok``, ``error`` (the program raised, or exited with a non-zero status as ``python``
    would report it), ``timeout`` or ``crash`` (the session died, or the harness failed)."""
    if not error:
        return "ok" if not exit_code else "error"
    origin = error.get("origin")
    if error.get("type") == "TimeoutError" and origin in ("backend", "harness"):
        return "timeout"
    if origin in ("backend", "harness"):
        return "crash"
    return "error"


def _prediction(record: dict[str, Any]) -> dict[str, Any] | None:

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
            materialise(prog, Path(wd))
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
    rec["status"] = _status(rec.get("error"), rec.get("exit_code"))
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
