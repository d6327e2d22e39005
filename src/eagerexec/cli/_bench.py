"""``eager bench``: sweep corpora x rates x backends x {serial, eager}, then report.

Strategy: resolve every corpus first (a missing path exits 2 before anything runs; a malformed
benchmark file is reported on one line and the other corpora still run), then run the missing
pairs (resuming ``OUT/runs.jsonl``), then regenerate ``report.md``/``report.csv`` and the figures
from the whole file. ``--report-only OUT`` does only the last step.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click

from .._exceptions import BenchError, EagerError
from ._errors import Number
from ._errors import fail as _fail

__all__ = ["bench_command"]


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        _fail(f"--tps: expected comma-separated numbers, got {text!r}")
    if not values or any(not (math.isfinite(v) and 0 < v <= 1e9) for v in values):
        _fail(f"--tps: expected finite rates in (0, 1e9] tokens/s, got {text!r}")
    return values


def _check_exists(spec: str, download: bool) -> None:
    from ..bench import LOADERS

    if spec == "bundled":
        return
    name, sep, rest = spec.partition(":")
    if sep and name in LOADERS:
        if not download and not Path(rest).exists():
            _fail(f"corpus {spec}: {rest} does not exist")
        return
    if not Path(spec).exists():
        if sep and len(name) > 1:
            _fail(f"corpus {spec}: unknown loader {name!r} (known: {', '.join(sorted(LOADERS))})")
        _fail(f"corpus {spec}: no such directory")


def _report(out: Path, timelines: bool) -> None:
    from ..bench import build_pairs, load_runs, write_report
    from ..bench._figures import timelines as draw_timelines

    if not (out / "runs.jsonl").is_file():
        _fail(f"{out / 'runs.jsonl'} does not exist")
    path = write_report(out)
    n = 0
    if timelines:
        records, _ = load_runs(out / "runs.jsonl")
        n = draw_timelines(build_pairs(records), out / "timelines")
    click.echo(f"report: {path}" + (f" ({n} timelines in {out / 'timelines'})" if n else ""))


@click.command("bench")
@click.argument("corpora", nargs=-1)
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output directory (runs.jsonl, report.md, report.csv, figures).")
@click.option("--tps", "tps", default="20,50,100,200", show_default=True, help="Replay rates, tokens/s.")
@click.option("--backend", "backends", default="local", show_default=True, help="Backends, comma-separated.")
@click.option("--repeats", type=click.IntRange(min=1), default=1, show_default=True, help="Pairs per cell.")
@click.option("--timeout", type=Number(0.0, min_open=True, max=1e7), default=60.0, show_default=True,
              help="Per-statement timeout in seconds (a hanging program is stopped and recorded).")
@click.option("--ray", "ray", is_flag=False, flag_value="", default=None, metavar="[ADDRESS]",
              help="Run pairs as Ray tasks (no ADDRESS: a local Ray).")
@click.option("--cpus-per-run", type=click.IntRange(min=1), default=2, show_default=True,
              help="CPUs pinned (single machine) or reserved (Ray) per pair.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="First N programs of each corpus.")
@click.option("--download", is_flag=True, help="Let loaders fetch missing benchmark files (needs internet).")
@click.option("--no-pin", is_flag=True, help="Do not pin the harness to CPUs.")
@click.option("--timelines/--no-timelines", default=True, show_default=True, help="Draw per-pair timelines.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [on a terminal].")
@click.option("--report-only", "report_only", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Regenerate the report of OUT from its runs.jsonl and exit.")
@click.option("--repair-model", default=None, metavar="MODEL",
              help="After the sweep, repair each failing program from the partial code and from the "
                   "full program with MODEL (OpenAI-compatible; Table 3).")
@click.option("--repair-base-url", default=None, help="Endpoint of the repair model [OPENAI_BASE_URL].")
@click.option("--repair-attempts", type=click.IntRange(min=1), default=1, show_default=True,
              help="Repair requests per program and strategy.")
@click.option("--repair-max-tokens", type=click.IntRange(min=1), default=2048, show_default=True,
              help="Most tokens per repair answer.")
def bench_command(
    corpora: tuple[str, ...],
    out: Path | None,
    tps: str,
    backends: str,
    repeats: int,
    timeout: float,
    ray: str | None,
    cpus_per_run: int,
    limit: int | None,
    download: bool,
    no_pin: bool,
    timelines: bool,
    progress: bool | None,
    report_only: Path | None,
    repair_model: str | None,
    repair_base_url: str | None,
    repair_attempts: int,
    repair_max_tokens: int,
) -> None:
    """Benchmark eager against serial execution over CORPUS... (bundled, a directory of .py
    files, or LOADER:PATH with LOADER one of pandasplotbench, dabench, dsbench, gitchameleon).

    Each program is replayed at every rate on every backend, serial then eager on fresh
    sessions, and every run is appended to OUT/runs.jsonl; rerunning resumes.
    """
    if report_only is not None:
        _report(report_only, timelines)
        return
    if not corpora:
        _fail("give at least one CORPUS (bundled, a directory, or loader:path)")
    if out is None:
        _fail("--out is required")
    from ..bench import SweepConfig, load_corpus, run_sweep

    for spec in corpora:  # a corpus that is not there stops everything before any run
        _check_exists(spec, download)
    programs = []
    failed = 0
    for spec in corpora:
        try:
            progs = load_corpus(spec, download=download)
        except BenchError as exc:
            click.echo(f"eager: warning: skipping corpus {spec}: {exc}", err=True)
            failed += 1
            continue
        programs += progs
    if not programs:
        _fail("no program to run")
    cfg = SweepConfig(
        out=out,
        tps=_floats(tps),
        backends=tuple(b.strip() for b in backends.split(",") if b.strip()),
        repeats=repeats,
        timeout=timeout,
        cpus_per_run=cpus_per_run,
        limit=limit,
        pin=not no_pin,
        progress=sys.stderr.isatty() if progress is None else progress,
    )
    try:
        summary = run_sweep(programs, cfg, ray_address=ray or None, use_ray=ray is not None)
    except EagerError as exc:
        _fail(str(exc))
    statuses = ", ".join(f"{n} {k}" for k, n in sorted(summary.statuses.items())) or "none run"
    click.echo(
        f"{summary.executed} pair(s) run, {summary.skipped} already done; runs: {statuses}; "
        f"results in {summary.runs_path}"
    )
    if repair_model is not None:
        from ..bench._repairs import RepairConfig, run_repair_study

        rcfg = RepairConfig(
            model=repair_model,
            base_url=repair_base_url,
            attempts=repair_attempts,
            max_tokens=repair_max_tokens,
            backend=cfg.backends[0],
            timeout=timeout,
        )
        try:
            added = run_repair_study(
                out,
                programs,
                rcfg,
                on_record=lambda r: click.echo(
                    f"repair {r['corpus']}/{r['program']} {r['strategy']}: {'resolved' if r.get('ok') else 'not resolved'}",
                    err=True,
                ),
            )
        except EagerError as exc:
            _fail(str(exc))
        click.echo(f"{len(added)} repair(s) run; results in {out / 'repairs.jsonl'}")
    _report(out, timelines)
    if failed:
        sys.exit(2)
