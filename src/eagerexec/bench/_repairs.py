"""The repair study (the paper's RQ3): repairing from the partial code vs from the full program.

Strategy: the programs of a sweep whose serial run failed (its ``error`` pairs) are each
repaired twice through a model at an OpenAI-compatible endpoint, once per strategy of
``eagerexec.pipeline._repair.repair_run``:

* ``partial``: the failing program runs eagerly and stops at the error; the model sees the code
  cut at the failing statement plus the error and writes the continuation, which runs on the
  same session (what ran before the error is kept, not run again);
* ``full``: the model sees the whole program plus the error and writes a new program, which runs
  from scratch on a fresh session.

The first "generation" of each repair is the corpus program itself, replayed at once; only the
repairs come from the model. A program counts as resolved when the last attempt runs to the end
without error (the bundled corpus has no reference output; a benchmark with one would check it
here). Each program x strategy is one line of ``OUT/repairs.jsonl``, appended as it finishes,
so an interrupted study resumes. ``repair_rows`` summarises the file for the report's Table 3.
"""

from __future__ import annotations

import ast
import asyncio
import json
import math
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._exceptions import EagerError, UsageError
from ._pair import materialise
from ._programs import Program
from ._records import build_pairs, json_default, load_runs

__all__ = ["STRATEGIES", "RepairConfig", "load_repairs", "repair_rows", "run_repair_study"]

STRATEGIES = ("partial", "full")


@dataclass(frozen=True, slots=True, kw_only=True)
class RepairConfig:
    """How the study reaches its model and runs the programs.

    Attributes:
        model: the model name at the endpoint.
        base_url: the OpenAI-compatible endpoint (default: ``$OPENAI_BASE_URL`` or OpenAI's).
        api_key: the key (default: ``$OPENAI_API_KEY``).
        attempts: repair requests per program and strategy.
        max_tokens: the most tokens a repair answer may take (None: the endpoint's default).
        backend: the execution backend.
        timeout: seconds each execution call may run.
    """

    model: str
    base_url: str | None = None
    api_key: str | None = None
    attempts: int = 1
    max_tokens: int | None = 2048
    backend: str = "local"
    timeout: float = 60.0


def _task(program: Program) -> str:
    """The user's request for a program: the corpus's own, its module docstring, or a generic one."""
    if program.task:
        return program.task
    try:
        doc = ast.get_docstring(ast.parse(program.code))
    except SyntaxError:
        doc = None
    task = " ".join((doc or "").split())
    return task or f"Write the Python program {program.name}."


def load_repairs(path: Path) -> list[dict[str, Any]]:
    """The records of ``repairs.jsonl`` (unreadable lines are skipped)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "program" in rec and rec.get("strategy") in STRATEGIES:
            records.append(rec)
    return records


def failing_programs(out: Path, programs: Sequence[Program], backend: str) -> list[Program]:
    """The programs whose serial run on ``backend`` failed in ``out/runs.jsonl``, in corpus order."""

    records, _ = load_runs(out / "runs.jsonl")
    pairs = build_pairs(records)
    failing = {(p.corpus, p.program) for p in pairs if p.kind == "error" and p.backend == backend}
    return [p for p in programs if (p.corpus, p.name) in failing]


async def repair_one(
    program: Program, strategy: str, cfg: RepairConfig, make_model_source: Callable[[list[dict[str, str]]], Any]
) -> dict[str, Any]:
    """Replay ``program``, repair it with ``strategy``, and return the study's record.

    ``make_model_source(messages)`` builds the model's stream for a repair conversation.
    """
    from ..pipeline._repair import repair_run
    from ..pipeline._session import Session
    from ..sources import ReplaySource

    def make_source(messages: Sequence[Mapping[str, str]]) -> Any:
        if len(messages) == 1:  # the first "generation" is the corpus program itself
            return ReplaySource(program.code, tps=math.inf)
        return make_model_source([dict(m) for m in messages])

    with tempfile.TemporaryDirectory(prefix="eager-repair-") as tmp:
        first = Path(tmp, "session")
        first.mkdir()
        materialise(program, first)
        fresh_count = 0

        def new_session() -> Session:
            nonlocal fresh_count
            fresh_count += 1
            wd = Path(tmp, f"fresh-{fresh_count}")
            wd.mkdir()
            materialise(program, wd)
            return Session(cfg.backend, timeout=cfg.timeout, workdir=wd)

        async with Session(cfg.backend, timeout=cfg.timeout, workdir=first) as session:
            report = await repair_run(
                session,
                make_source,
                _task(program),
                attempts=cfg.attempts,
                strategy=strategy,  # type: ignore[arg-type]
                new_session=new_session,
            )
    before = report.attempts[0].error
    after = report.final.error
    return {
        "program": program.name,
        "corpus": program.corpus,
        "strategy": strategy,
        "model": cfg.model,
        "backend": cfg.backend,
        "ok": report.ok,
        "repairs": report.repairs,
        "first_error": before.to_dict() if before is not None else None,
        "final_error": after.to_dict() if after is not None else None,
        "model_failed": after is not None and after.origin == "source",
        "code": report.code,
    }


def run_repair_study(
    out: Path,
    programs: Sequence[Program],
    cfg: RepairConfig,
    *,
    make_model_source: Callable[[list[dict[str, str]]], Any] | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Repair every failing program of ``out``'s sweep with both strategies (resumable).

    Args:
        out: the sweep's directory (reads runs.jsonl, appends to repairs.jsonl).
        programs: the corpus programs of the sweep.
        cfg: model and execution settings.
        make_model_source: builds the model's stream from a conversation (default: an
            ``OpenAISource`` for ``cfg``; tests pass their own).
        on_record: called with each new record.

    Returns:
        The records added by this call.

    Raises:
        UsageError: bad settings (e.g. a negative number of attempts).
    """
    if cfg.attempts < 1:
        raise UsageError(f"repair attempts must be >= 1, not {cfg.attempts}")
    if make_model_source is None:
        make_model_source = _openai_factory(cfg)
    path = out / "repairs.jsonl"
    done = {(r.get("corpus"), r["program"], r["strategy"]) for r in load_repairs(path)}
    added = []
    for program in failing_programs(out, programs, cfg.backend):
        for strategy in STRATEGIES:
            if (program.corpus, program.name, strategy) in done:
                continue
            try:
                record = asyncio.run(repair_one(program, strategy, cfg, make_model_source))
            except EagerError as exc:  # one program's failure must not lose the others
                record = {
                    "program": program.name,
                    "corpus": program.corpus,
                    "strategy": strategy,
                    "model": cfg.model,
                    "backend": cfg.backend,
                    "ok": False,
                    "harness_error": f"{type(exc).__name__}: {exc}",
                }
            with path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record, default=json_default) + "\n")
            added.append(record)
            if on_record is not None:
                on_record(record)
    return added


def _openai_factory(cfg: RepairConfig) -> Callable[[list[dict[str, str]]], Any]:
    from ..sources import OpenAISource
    from ..sources._openai import DEFAULT_SYSTEM_FENCE

    def make(messages: list[dict[str, str]]) -> Any:
        return OpenAISource(
            messages=[{"role": "system", "content": DEFAULT_SYSTEM_FENCE}, *messages],
            model=cfg.model,
            base_url=cfg.base_url,
            api_key=cfg.api_key,
            max_tokens=cfg.max_tokens,
        )

    make([{"role": "user", "content": "check"}])  # bad settings fail here, with one line
    return make


def repair_rows(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Table 3 rows: per corpus, programs repaired, and how many each strategy resolved."""
    by: dict[str, dict[str, dict[str, bool]]] = defaultdict(lambda: defaultdict(dict))
    for r in records:
        by[str(r.get("corpus"))][str(r["program"])][str(r["strategy"])] = bool(r.get("ok"))
    rows = []
    for corpus, progs in sorted(by.items()):
        both = [p for p in progs.values() if set(STRATEGIES) <= set(p)]
        n = len(both)
        partial = sum(p["partial"] for p in both)
        full = sum(p["full"] for p in both)
        rows.append(
            {
                "corpus": corpus,
                "programs": n,
                "partial": partial,
                "full": full,
                "only_partial": sum(p["partial"] and not p["full"] for p in both),
                "only_full": sum(p["full"] and not p["partial"] for p in both),
                "partial_pct": 100.0 * partial / n if n else None,
                "full_pct": 100.0 * full / n if n else None,
            }
        )
    return rows
