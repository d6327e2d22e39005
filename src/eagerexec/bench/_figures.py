"""Figures of a sweep: the saving-vs-rate summary and per-pair timelines.

Strategy: ``saving_vs_rate`` plots the Table 1 medians (E2EL solid, NEL dashed) against the
replay rate, one colour per backend, pooled over corpora by taking the median of the cell
medians. Per-pair timelines rebuild ``Result`` objects
from the JSON records and hand them to ``_timeline.plot_timeline`` (serial above eager), when
that module is available. matplotlib runs on the Agg backend; nothing is shown.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["result_from_dict", "saving_vs_rate", "timelines"]


def saving_vs_rate(rows: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Plot median E2EL/NEL saving against tokens/s per backend; None when there is no data."""
    series: dict[str, dict[float, list[tuple[float | None, float | None]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        series[r["backend"]][r["tps"]].append((r["e2el_saving_median"], r["nel_saving_median"]))
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    try:
        all_rates: set[float] = set()
        for k, (backend, by_rate) in enumerate(sorted(series.items())):
            rates = sorted(by_rate)
            all_rates.update(rates)
            color = f"C{k % 10}"
            for idx, (label, style) in enumerate((("E2EL", "-o"), ("NEL", "--s"))):
                ys: list[float] = []
                for rate in rates:
                    vals = [x for v in by_rate[rate] if (x := v[idx]) is not None]
                    ys.append(statistics.median(vals) if vals else float("nan"))
                ax.plot(rates, ys, style, color=color, label=f"{backend} {label}")
        ax.set_xscale("log")
        ticks = sorted(all_rates)
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("generation rate (tokens/s)")
        ax.set_ylabel("saving vs serial (%)")
        ax.set_title("eager vs serial: median saving per rate")
        ax.axhline(0, color="#999999", linewidth=0.8)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    return path


def result_from_dict(d: dict[str, Any]) -> Any:
    """Rebuild a ``Result`` from one run record (``Result.to_dict`` plus harness fields)."""
    from ..pipeline._result import BatchTiming, ChunkTiming, Metrics, Result, RunError, StreamTiming

    tl = d.get("timeline") or {}
    err = d.get("error")
    return Result(
        mode=d["mode"],
        code=d.get("code", ""),
        stdout=d.get("stdout") or "",
        stderr=d.get("stderr") or "",
        figures=tuple(d.get("figures") or ()),
        error=None
        if not err
        else RunError(
            type=err.get("type", "Error"),
            message=err.get("message", ""),
            line=err.get("line"),
            traceback=err.get("traceback", ""),
            line_text=err.get("line_text"),
            chunk=err.get("chunk"),
            statement_line=err.get("statement_line"),
            origin=err.get("origin", "runtime") if err.get("origin") in ("runtime", "syntax", "source", "backend")
            else "backend",
        ),
        exit_code=d.get("exit_code"),
        stopped_early=bool(d.get("stopped_early")),
        chunks=tuple(ChunkTiming(**{"text": "", **c}) for c in tl.get("chunks", ())),  # older records: no text
        batches=tuple(BatchTiming(**{**b, "chunks": tuple(b["chunks"])}) for b in tl.get("batches", ())),
        stream=StreamTiming(**tl.get("stream", {})),
        metrics=Metrics(**d["metrics"]),
        backend=d.get("backend", ""),
        tps=d.get("tps"),
        state_lost=bool(d.get("state_lost")),
        output_dropped=int(d.get("output_dropped") or 0),
    )


def timelines(pairs: Sequence[Any], directory: Path, *, repeat: int = 0) -> int:
    """Draw serial-above-eager timelines of each pair's ``repeat`` into ``directory``.

    Returns:
        How many pictures were written (0 when ``_timeline`` is not available).
    """
    try:
        from ._timeline import plot_timeline
    except ImportError:
        return 0
    directory.mkdir(parents=True, exist_ok=True)
    written = 0
    for p in pairs:
        if p.repeat != repeat or p.serial is None or p.eager is None:
            continue
        if "timeline" not in p.serial or "timeline" not in p.eager:
            continue
        name = f"{p.corpus}__{p.program}__{p.backend}__{p.tps:g}.png".replace("/", "_")
        try:
            results = [result_from_dict(p.serial), result_from_dict(p.eager)]
            plot_timeline(results, directory / name, title=f"{p.program} ({p.backend}, {p.tps:g} tok/s)")
        except (KeyError, TypeError, ValueError):
            continue
        written += 1
    return written
