"""Turn ``runs.jsonl`` into the paper's tables: ``report.md`` and ``report.csv``.

Strategy: records are paired back (same corpus, program, backend, rate, repeat), and each pair is
classified once: ``ok`` (both modes ran without error), ``error`` (the program raises: serial
failed with a runtime or syntax error), ``timeout`` / ``crash`` (either run hung or its session
died), or ``mismatch`` (the two modes disagree). Table 1 aggregates the ok pairs per
corpus x backend x rate: the NEL and E2EL savings ``(serial - eager) / serial`` with their
median and interquartile range, beside the model's prediction of the eager E2EL. The prediction
is taken from the *serial* run of the same pair (its measured execution times and setup,
replayed through the batched schedule), so it is a forecast, not a fit of the eager run itself.
The eager run's own bounds (lower and upper bound of the model, from its timeline) are checked
with a noise tolerance, and the runs outside them are listed. Table 2 shows the error pairs: the
E2EL saved by stopping generation at the error.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._figures import saving_vs_rate
from ._records import Pair, build_pairs, load_runs
from ._repairs import load_repairs, repair_rows

__all__ = ["BOUND_TOLERANCE_ABS", "BOUND_TOLERANCE_REL", "Pair", "build_pairs", "write_report"]

BOUND_TOLERANCE_ABS = 0.02
"""Seconds of slack before a measurement counts as outside the model's bounds."""
BOUND_TOLERANCE_REL = 0.05
"""Relative slack (of the bound) added to the absolute one."""


# -- numbers ----------------------------------------------------------------------------------


def _metric(rec: dict[str, Any] | None, name: str) -> float | None:
    if rec is None:
        return None
    v = (rec.get("metrics") or {}).get(name)
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


def _pred(rec: dict[str, Any] | None, name: str) -> float | None:
    if rec is None or not isinstance(rec.get("prediction"), dict):
        return None
    v = rec["prediction"].get(name)
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


def _saving(serial: float | None, eager: float | None) -> float | None:
    if serial is None or eager is None or serial <= 0:
        return None
    return (serial - eager) / serial * 100.0


@dataclass(frozen=True, slots=True)
class Spread:
    n: int
    median: float | None
    q1: float | None
    q3: float | None
    lo: float | None
    hi: float | None

    def fmt(self, digits: int = 1) -> str:
        if self.median is None:
            return "–"
        if self.n == 1:
            return f"{self.median:.{digits}f}"
        return f"{self.median:.{digits}f} [{self.q1:.{digits}f}, {self.q3:.{digits}f}]"


def _spread(values: Iterable[float | None]) -> Spread:
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return Spread(0, None, None, None, None, None)
    if len(xs) == 1:
        return Spread(1, xs[0], xs[0], xs[0], xs[0], xs[0])
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return Spread(len(xs), statistics.median(xs), q[0], q[2], xs[0], xs[-1])


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x * 1000:.0f}"


# -- how much could be hidden at all -----------------------------------------------------------


def ideal_nel(eager: dict[str, Any] | None) -> float | None:
    """The NEL a perfect eager executor would leave for this run: each chunk's measured execution
    time (its batch's, split evenly over the batch) replayed through the paper's recurrence with
    zero setup and zero detection delay. What remains is the work of the statements that arrive
    too late to finish before the last token; no executor can hide that."""
    if not eager or not isinstance(eager.get("timeline"), dict):
        return None
    from dataclasses import replace

    from ..model import estimate_from_run

    try:
        est = estimate_from_run(eager)
        perfect = replace(est, setup=0.0, deltas=tuple(0.0 for _ in est.deltas))
        return perfect.predict().eager.nel
    except Exception:  # an unreadable timeline: no ideal, the measured columns still stand
        return None


def hidden_execution(eager: dict[str, Any] | None) -> tuple[float, float] | None:
    """(hidden, hideable) seconds of an eager run: the execution of every batch but the last
    (the last one holds the statements that can only run after the last token), and how much
    of it fell before the last token."""
    timeline = (eager or {}).get("timeline")
    if not isinstance(timeline, dict):
        return None
    last_token = (timeline.get("stream") or {}).get("last_token")
    batches = timeline.get("batches") or []
    if not isinstance(last_token, int | float) or len(batches) < 2:
        return None
    hidden = hideable = 0.0
    for b in batches[:-1]:
        start, end = float(b["exec_start"]), float(b["exec_end"])
        hideable += max(0.0, end - start)
        hidden += max(0.0, min(end, float(last_token)) - start)
    return hidden, hideable


def _limits_row(cell: tuple[str, str, float], ps: list[Pair]) -> dict[str, Any]:
    serial = [_metric(p.serial, "nel") for p in ps]
    eager = [_metric(p.eager, "nel") for p in ps]
    ideal = [ideal_nel(p.eager) for p in ps]
    measured = [_saving(s, e) for s, e in zip(serial, eager, strict=True)]
    best = [_saving(s, i) for s, i in zip(serial, ideal, strict=True)]
    both = [(s, e) for s, e in zip(serial, eager, strict=True) if s is not None and e is not None]
    total = _saving(math.fsum(s for s, _ in both), math.fsum(e for _, e in both)) if both else None
    shares = [h for p in ps if (h := hidden_execution(p.eager)) is not None]
    hideable = math.fsum(t for _, t in shares)
    return {
        "of_ideal": share_of_ideal(serial, eager, ideal),
        "hidden": 100.0 * math.fsum(h for h, _ in shares) / hideable if hideable > 0 else None,
        "cell": cell,
        "pairs": len(ps),
        "measured": _spread(measured),
        "total": total,
        "ideal": _spread(best),
        "at_target": sum(1 for m in measured if m is not None and m >= NEL_TARGET),
        "ideal_at_target": sum(1 for b in best if b is not None and b >= NEL_TARGET),
    }


def share_of_ideal(
    serial: list[float | None], eager: list[float | None], ideal: list[float | None]
) -> float | None:
    """The share (%) of the ideal's NEL saving that eager execution got, over the runs that have
    all three: ``sum(serial - eager) / sum(serial - ideal)``. Summed over the cell rather than
    a median of per-program ratios, so programs with almost nothing to hide (whose ratio is
    noise over a few milliseconds) weigh by what they could save. None when nothing could be
    hidden."""
    rows = [
        (s, e, i)
        for s, e, i in zip(serial, eager, ideal, strict=True)
        if s is not None and e is not None and i is not None
    ]
    possible = math.fsum(s - i for s, _, i in rows)
    if possible <= 0:
        return None
    return 100.0 * math.fsum(s - e for s, e, _ in rows) / possible


NEL_TARGET = 97.0
"""The NEL saving (%) counted in the limits table."""

IDEAL_TARGET = 99.0
"""The share (%) of the ideal's NEL saving eager execution must get (the developers' guide)."""


# -- bounds -----------------------------------------------------------------------------------


def bound_violation(eager: dict[str, Any]) -> str | None:
    """Why the eager run's measured E2EL falls outside its model bounds, or None."""
    measured = _metric(eager, "e2el")
    t_gen = _pred(eager, "t_gen")
    lb, ub = _pred(eager, "lower_bound"), _pred(eager, "upper_bound")
    if measured is None or t_gen is None or lb is None or ub is None:
        return None
    low, high = max(t_gen, lb), max(t_gen, ub)
    if measured < low - BOUND_TOLERANCE_ABS - BOUND_TOLERANCE_REL * low:
        return f"below lower bound: measured {measured * 1000:.0f} ms < {low * 1000:.0f} ms"
    if measured > high + BOUND_TOLERANCE_ABS + BOUND_TOLERANCE_REL * high:
        return f"above upper bound: measured {measured * 1000:.0f} ms > {high * 1000:.0f} ms"
    return None


# -- the report -------------------------------------------------------------------------------

_T1_COLS = [
    "table", "corpus", "backend", "tps", "pairs",
    "nel_saving_median", "nel_saving_q1", "nel_saving_q3",
    "e2el_saving_median", "e2el_saving_q1", "e2el_saving_q3",
    "serial_e2el_median_s", "eager_e2el_median_s",
    "predicted_eager_e2el_median_s", "predicted_e2el_saving_median", "e2el_abs_error_median_s",
    "eager_lower_bound_median_s", "stopped_early",
]  # fmt: skip


def _cells(pairs: Sequence[Pair], kind: str) -> dict[tuple[str, str, float], list[Pair]]:
    cells: dict[tuple[str, str, float], list[Pair]] = defaultdict(list)
    for p in pairs:
        if p.kind == kind:
            cells[p.cell()].append(p)
    return dict(sorted(cells.items()))


def _row(table: str, cell: tuple[str, str, float], ps: list[Pair]) -> dict[str, Any]:
    nel = _spread(_saving(_metric(p.serial, "nel"), _metric(p.eager, "nel")) for p in ps)
    e2el = _spread(_saving(_metric(p.serial, "e2el"), _metric(p.eager, "e2el")) for p in ps)
    predicted = [_pred(p.serial, "batched_e2el") for p in ps]
    errors = [
        abs(pr - m) if pr is not None and m is not None else None
        for pr, m in zip(predicted, (_metric(p.eager, "e2el") for p in ps), strict=True)
    ]
    return {
        "table": table,
        "corpus": cell[0],
        "backend": cell[1],
        "tps": cell[2],
        "pairs": len(ps),
        "nel_saving_median": nel.median,
        "nel_saving_q1": nel.q1,
        "nel_saving_q3": nel.q3,
        "e2el_saving_median": e2el.median,
        "e2el_saving_q1": e2el.q1,
        "e2el_saving_q3": e2el.q3,
        "serial_e2el_median_s": _spread(_metric(p.serial, "e2el") for p in ps).median,
        "eager_e2el_median_s": _spread(_metric(p.eager, "e2el") for p in ps).median,
        "predicted_eager_e2el_median_s": _spread(predicted).median,
        "predicted_e2el_saving_median": _spread(_pred(p.serial, "e2el_saving_pct_batched") for p in ps).median,
        "e2el_abs_error_median_s": _spread(errors).median,
        "eager_lower_bound_median_s": _spread(_pred(p.eager, "lower_bound") for p in ps).median,
        "stopped_early": sum(1 for p in ps if p.eager and p.eager.get("stopped_early")),
        "_nel": nel,
        "_e2el": e2el,
    }


def write_report(out: Path) -> Path:
    """Write ``report.md`` and ``report.csv`` (and the summary figure) from ``out/runs.jsonl``.

    Returns:
        The path of ``report.md``.
    """
    records, bad = load_runs(out / "runs.jsonl")
    pairs = build_pairs(records)
    t1 = [_row("1", c, ps) for c, ps in _cells(pairs, "ok").items()]
    t2 = [_row("2", c, ps) for c, ps in _cells(pairs, "error").items()]

    with (out / "report.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=_T1_COLS, extrasaction="ignore")
        w.writeheader()
        for row in t1 + t2:
            w.writerow({k: ("" if v is None else v) for k, v in row.items()})

    ok_eager = [p.eager for p in pairs if p.kind == "ok" and p.eager]
    abs_err = [
        abs(pr - m)
        for p in pairs
        if p.kind == "ok"
        and (pr := _pred(p.serial, "batched_e2el")) is not None
        and (m := _metric(p.eager, "e2el")) is not None
    ]
    rel_err = [
        abs(pr - m) / m * 100
        for p in pairs
        if p.kind == "ok"
        and (pr := _pred(p.serial, "batched_e2el")) is not None
        and (m := _metric(p.eager, "e2el")) is not None
        and m > 0
    ]
    outside = [(p, why) for p in pairs if p.kind == "ok" and p.eager and (why := bound_violation(p.eager))]

    lines: list[str] = ["# eager bench report", ""]
    counts: dict[str, int] = defaultdict(int)
    for p in pairs:
        counts[p.kind] += 1
    lines.append(
        f"{len(records)} runs, {len(pairs)} serial/eager pairs: "
        + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        + (f"; {bad} unreadable line(s) skipped" if bad else "")
        + "."
    )
    hosts = sorted({str(r.get("host")) for r in records if r.get("host")})
    cpus = sorted({str(r.get("cpus")) for r in records if r.get("cpus") is not None})
    if hosts:
        lines.append(f"Hosts: {', '.join(hosts)}; CPU masks: {', '.join(cpus) or 'n/a'}.")
    lines += [
        "",
        "Savings are `(serial - eager) / serial` in %, per serial/eager pair run back to back on fresh",
        "sessions; cells show the median [interquartile range]. The model columns forecast the eager",
        "E2EL from the *serial* run of the same pair (its measured execution and setup times through",
        "the batched schedule); the lower bound is the model's bound for the eager run, from its",
        "own timeline.",
        "",
        "## Table 1: error-free programs",
        "",
        "| corpus | backend | tps | pairs | NEL saving % | E2EL saving % | serial E2EL ms | eager E2EL ms "
        "| eager lower bound ms | predicted eager E2EL ms | predicted E2EL saving % | abs error ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in t1:
        pred_sav = r["predicted_e2el_saving_median"]
        lines.append(
            f"| {r['corpus']} | {r['backend']} | {r['tps']:g} | {r['pairs']} | {r['_nel'].fmt()} | "
            f"{r['_e2el'].fmt()} | {_ms(r['serial_e2el_median_s'])} | {_ms(r['eager_e2el_median_s'])} | "
            f"{_ms(r['eager_lower_bound_median_s'])} | {_ms(r['predicted_eager_e2el_median_s'])} | "
            f"{'–' if pred_sav is None else f'{pred_sav:.1f}'} | {_ms(r['e2el_abs_error_median_s'])} |"
        )
    if not t1:
        lines.append("| (no error-free pair) | | | | | | | | | | | |")
    lines += ["", "## Model accuracy", ""]
    if abs_err:
        lines.append(
            f"Median absolute error of the predicted eager E2EL: {statistics.median(abs_err) * 1000:.1f} ms "
            f"({statistics.median(rel_err):.1f}% of the measured E2EL) over {len(abs_err)} runs."
        )
    else:
        lines.append("No error-free pair with a prediction.")
    lines += [
        "",
        f"Eager runs outside the model's bounds (tolerance {BOUND_TOLERANCE_ABS * 1000:.0f} ms + "
        f"{BOUND_TOLERANCE_REL * 100:.0f}%): {len(outside)} of {len(ok_eager)}.",
        "",
    ]
    for p, why in outside:
        lines.append(f"- {p.corpus}/{p.program} {p.backend} {p.tps:g} tok/s repeat {p.repeat}: {why}")

    lines += [
        "",
        "## Table 1b: how much execution could be hidden at all",
        "",
        "NEL saving per program (median [IQR]); of the total = `1 - sum(eager NEL) / sum(serial NEL)`",
        "over the cell; ideal = a perfect eager executor (zero overhead, zero detection delay) given",
        "each statement's measured execution time: the statements that finish after the last token",
        f"are the program's own tail. Programs: how many reach {NEL_TARGET:g}% (measured / ideal).",
        "Hideable hidden = of the execution of all batches but the last, the share that finished",
        "before the last token (summed over the cell's eager runs). Of the ideal = the share of the",
        "ideal's NEL saving that eager got, `sum(serial - eager) / sum(serial - ideal)` over the cell",
        f"(target >= {IDEAL_TARGET:g}%).",
        "",
        "| corpus | backend | tps | pairs | NEL saving % | of the total % | ideal NEL saving % "
        f"| of the ideal % | programs >= {NEL_TARGET:g}% measured / ideal | hideable hidden % |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c, ps in _cells(pairs, "ok").items():
        lim = _limits_row(c, ps)
        total = "–" if lim["total"] is None else f"{lim['total']:.1f}"
        hidden = "–" if lim["hidden"] is None else f"{lim['hidden']:.1f}"
        of_ideal = "–" if lim["of_ideal"] is None else f"{lim['of_ideal']:.1f}"
        lines.append(
            f"| {c[0]} | {c[1]} | {c[2]:g} | {lim['pairs']} | {lim['measured'].fmt()} | {total} | "
            f"{lim['ideal'].fmt()} | {of_ideal} | {lim['at_target']} / {lim['ideal_at_target']} | {hidden} |"
        )
    lines += [
        "",
        "## Table 2: programs that raise (early interruption)",
        "",
        "| corpus | backend | tps | pairs | E2EL saving % | NEL saving % | serial E2EL ms | eager E2EL ms "
        "| stopped early |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in t2:
        lines.append(
            f"| {r['corpus']} | {r['backend']} | {r['tps']:g} | {r['pairs']} | {r['_e2el'].fmt()} | "
            f"{r['_nel'].fmt()} | {_ms(r['serial_e2el_median_s'])} | {_ms(r['eager_e2el_median_s'])} | "
            f"{r['stopped_early']}/{r['pairs']} |"
        )
    if not t2:
        lines.append("| (no erroring program) | | | | | | | | |")


    repairs = load_repairs(out / "repairs.jsonl")
    if repairs:
        models = ", ".join(sorted({str(r.get("model")) for r in repairs}))
        lines += [
            "",
            "## Table 3: repair from the partial code vs from the full program",
            "",
            f"Each failing program repaired once per strategy by {models} (`repairs.jsonl`); resolved",
            "= the last attempt ran to the end without error.",
            "",
            "| corpus | programs | resolved, partial | resolved, full | only partial | only full |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in repair_rows(repairs):
            resolved = {
                k: "–" if row[f"{k}_pct"] is None else f"{row[k]} ({row[f'{k}_pct']:.0f}%)"
                for k in ("partial", "full")
            }
            lines.append(
                f"| {row['corpus']} | {row['programs']} | {resolved['partial']} | {resolved['full']} | "
                f"{row['only_partial']} | {row['only_full']} |"
            )

    apart = [p for p in pairs if p.kind in ("timeout", "crash", "mismatch", "incomplete")]
    lines += ["", "## Runs reported apart (timeouts, crashes, mismatches)", ""]
    if not apart:
        lines.append("None.")
    for p in apart:
        lines.append(f"- {p.corpus}/{p.program} {p.backend} {p.tps:g} tok/s repeat {p.repeat}: {p.kind}"
                     + "".join(_why(m, rec) for m, rec in (("serial", p.serial), ("eager", p.eager))))
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


    saving_vs_rate(t1, out / "saving_vs_rate.png")
    return out / "report.md"


def _why(mode: str, rec: dict[str, Any] | None) -> str:
    if rec is None:
        return f"; {mode}: missing"
    err = rec.get("error")
    if not err:
        return f"; {mode}: ok"
    return f"; {mode}: {rec.get('status')} ({err.get('type')}: {str(err.get('message', '')).splitlines()[0] if err.get('message') else ''})"

