"""``eager model``: predict a program's serial and eager latency with the paper's model.

Strategy: token lengths come from the source file (chunker + token counter); execution times
come from ``--exe`` (the same for every chunk) or from a recorded run (``--from-run``, the output
of ``eager replay --json``). The prediction prints as a rich table on a terminal, plain
``key: value`` lines otherwise, or JSON with ``--json``. Bad input exits 2 with one line.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click

from .._exceptions import UsageError
from ..model import Prediction, estimate_from_run, predict, source_profile
from ._errors import Number, dumps, read_source
from ._errors import fail as _fail

__all__ = ["model_command"]

_SECONDS = Number(0.0)


def _read_run(path: Path, mode: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror or exc}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        _fail(f"{path} is not valid JSON: {exc}")
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, dict) or not isinstance(runs.get(mode), dict):
        _fail(f"{path} has no 'runs.{mode}' object (expected the output of `eager replay --json`)")
    run: dict[str, Any] = runs[mode]
    return run


@click.command("model")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tps", type=Number(0.0, min_open=True), required=True, help="Generation rate v, tokens per second.")
@click.option("--ttft", type=_SECONDS, default=None, help="Time to first token T_FT, seconds [0, or the run's].")
@click.option("--setup", type=_SECONDS, default=None, help="Per-call setup T_setup, seconds [0, or the run's].")
@click.option("--setup-full", type=_SECONDS, default=None, help="Setup of the serial call [--setup].")
@click.option("--exe", type=_SECONDS, default=None, help="Execution time of every chunk, seconds [0].")
@click.option(
    "--from-run",
    "from_run",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Take execution times, setup and T_FT from `eager replay --json` output.",
)
@click.option(
    "--mode", type=click.Choice(["eager", "serial"]), default="eager", show_default=True, help="Run to read."
)
@click.option(
    "--no-gating", is_flag=True, help="Batched schedule: do not defer definitions to the next chunk."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def model_command(
    file: Path,
    tps: float,
    ttft: float | None,
    setup: float | None,
    setup_full: float | None,
    exe: float | None,
    from_run: Path | None,
    mode: str,
    no_gating: bool,
    as_json: bool,
) -> None:
    """Predict serial and eager latency of FILE with the closed-form model (paper section 2.2)."""
    if exe is not None and from_run is not None:
        _fail("give --exe or --from-run, not both")
    source = read_source(str(file))
    profile = source_profile(source)
    lengths, tail = profile.lengths, profile.tail_tokens
    if not lengths:
        _fail(f"{file} holds no statement to model")
    notes: list[str] = []
    exe_times: float | tuple[float, ...] = 0.0 if exe is None else exe
    deltas: float | tuple[float, ...] = 0.0
    if from_run is not None:
        try:
            est = estimate_from_run(_read_run(from_run, mode))
        except UsageError as exc:
            _fail(f"{from_run}: {exc}")
        notes.extend(est.notes)
        if len(est.exe) == len(lengths):
            exe_times, deltas = est.exe, est.deltas
        else:
            exe_times = math.fsum(est.exe) / len(lengths)
            notes.append(
                f"the run has {len(est.exe)} chunks, {file.name} {len(lengths)}: "
                "its total execution time is spread evenly"
            )
        ttft = est.ttft if ttft is None else ttft
        setup = est.setup if setup is None else setup
    try:
        prediction = predict(
            lengths,
            tps=tps,
            ttft=0.0 if ttft is None else ttft,
            exe=exe_times,
            setup=0.0 if setup is None else setup,
            setup_full=setup_full,
            deltas=deltas,
            tail_tokens=tail,
            deferred=None if no_gating else profile.deferred,
        )
    except UsageError as exc:
        _fail(str(exc))
    if as_json:
        out = {"file": str(file), "prediction": prediction.to_dict(), "notes": notes}
        click.echo(dumps(out))
    elif sys.stdout.isatty():
        _print_rich(prediction, notes)
    else:
        _print_plain(prediction, notes)


def _s(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.4f} s"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f} %"


def _summary(p: Prediction) -> list[tuple[str, str]]:
    n_star = "- (no setup cost)" if p.n_star is None else f"{p.n_star:.1f}"
    return [
        ("chunks N (deferred by gating)", f"{p.n_chunks} ({p.deferred})"),
        ("tokens L (+ tail)", f"{p.tokens:g} (+ {p.tail_tokens:g})"),
        ("rate v", f"{p.tps:g} tokens/s"),
        ("T_FT / T_setup / T_setup(full)", f"{_s(p.ttft)} / {_s(p.setup)} / {_s(p.setup_full)}"),
        ("T_exe sum / T_exe(full)", f"{_s(p.exe_sum)} / {_s(p.exe_full)}"),
        ("T_gen (last token)", _s(p.t_gen)),
        ("lower bound, generation", _s(p.lower_bound_generation)),
        ("lower bound, execution", _s(p.lower_bound_execution)),
        ("upper bound", _s(p.upper_bound)),
        ("max regression vs serial", _s(p.overhead_bound)),
        ("speedup (bound)", f"{p.speedup:.3f} ({p.speedup_bound:.3f})"),
        ("regime", f"{p.regime.value} {p.regime.description}"),
        ("alpha / beta", f"{_s(p.alpha)} / {_s(p.beta)}"),
        ("critical chunk (0-based)", str(p.critical_chunk)),
        ("N*", n_star),
    ]


def _modes(p: Prediction) -> list[tuple[str, ...]]:
    rows = [("serial", p.serial, None, None), ("eager", p.eager, p.nel_saving_pct, p.e2el_saving_pct)]
    rows.append(("eager batched", p.batched, p.nel_saving_pct_batched, p.e2el_saving_pct_batched))
    return [
        (name, str(lat.calls), _s(lat.nel), _s(lat.e2el), _pct(nel), _pct(e2el))
        for name, lat, nel, e2el in rows
    ]


_MODE_HEADER = ("mode", "calls", "NEL", "E2EL", "NEL saving", "E2EL saving")


def _print_plain(p: Prediction, notes: list[str]) -> None:
    for key, value in _summary(p):
        click.echo(f"{key}: {value}")
    for row in _modes(p):
        fields = ", ".join(f"{h} {v}" for h, v in zip(_MODE_HEADER[1:], row[1:], strict=True))
        click.echo(f"{row[0]}: {fields}")
    for note in notes:
        click.echo(f"note: {note}")


def _print_rich(p: Prediction, notes: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    inputs = Table(title="Latency model (paper section 2.2)", show_header=False)
    inputs.add_column(style="bold")
    inputs.add_column()
    for key, value in _summary(p):
        inputs.add_row(key, value)
    modes = Table()
    for h in _MODE_HEADER:
        modes.add_column(h, justify="left" if h == "mode" else "right")
    for row in _modes(p):
        modes.add_row(*row)
    console.print(inputs)
    console.print(modes)
    for note in notes:
        console.print(f"[yellow]note:[/] {note}")
