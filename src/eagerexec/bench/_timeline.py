"""A Gantt-style picture of one or more runs (like the paper's Figure 3), drawn with matplotlib.

Each run gets a panel with two rows on a shared time axis (seconds from the request start):

* ``generation``: the stream, TTFT shaded light, then the tokens up to the last one, with a
  tick at each chunk's ready time;
* ``execution``: one bar per backend call (batch), green when it succeeded, red when it raised,
  its setup overhead drawn lighter, labelled with the program lines it ran.

The non-overlapped execution latency (NEL: from the last token to the end of the last call) is
marked with a bracket, and the end-to-end latency with a dashed line. Panels are stacked (serial
above eager) so the saving is visible at a glance. The Agg backend is used; nothing is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..pipeline._result import Result

__all__ = ["draw_timeline", "plot_timeline"]

_GEN = "#4C72B0"
_TTFT = "#C9D6EA"
_OK = "#55A868"
_FAIL = "#C44E52"
_SETUP = "#B8B8B8"
_NEL = "#DD8452"


def _lines_label(result: Result, chunk_ids: Sequence[int]) -> str:
    by_index = {c.index: c for c in result.chunks}
    picked = [by_index[i] for i in chunk_ids if i in by_index]
    if not picked:
        return ""
    first = min(c.start_line for c in picked)
    last = max(c.end_line for c in picked)
    return f"L{first}" if first == last else f"L{first}-{last}"


def _draw_run(ax: Any, result: Result) -> None:
    stream = result.stream
    gen_y, exe_y, h = 1.0, 0.0, 0.56
    ttft = stream.first_token if stream.first_token is not None else 0.0
    last = stream.last_token if stream.last_token is not None else ttft
    # Generation row: TTFT shaded, then streaming.
    if ttft > 0:
        ax.broken_barh([(0.0, ttft)], (gen_y - h / 2, h), facecolors=_TTFT, edgecolors="none")
        if ttft > 0.04 * max(result.metrics.e2el, 1e-9):
            ax.text(ttft / 2, gen_y, "TTFT", ha="center", va="center", fontsize=7, color="#334")
    ax.broken_barh([(ttft, max(last - ttft, 0.0))], (gen_y - h / 2, h), facecolors=_GEN, edgecolors="none")
    for chunk in result.chunks:
        ax.plot(
            [chunk.ready_at, chunk.ready_at],
            [gen_y - h / 2 - 0.06, gen_y - h / 2 + 0.1],
            color="#222",
            linewidth=0.9,
            solid_capstyle="butt",
        )
    # Execution row: one bar per call; setup lighter, execution green/red.
    span = max(result.metrics.e2el, last, 1e-9)
    for k, batch in enumerate(result.batches):
        color = _OK if batch.ok else _FAIL
        width = max(batch.end - batch.start, span * 0.002)
        ax.broken_barh([(batch.start, width)], (exe_y - h / 2, h), facecolors=_SETUP, edgecolors="none")
        ex_w = max(batch.exec_end - batch.exec_start, span * 0.002)
        ax.broken_barh(
            [(batch.exec_start, ex_w)],
            (exe_y - h / 2, h),
            facecolors=color,
            edgecolors="white",
            linewidth=0.4,
        )
        label = _lines_label(result, batch.chunks)
        if label:
            # Alternate above/below so neighbouring labels do not collide.
            y = exe_y + h / 2 + 0.05 if k % 2 == 0 else exe_y - h / 2 - 0.05
            ax.text(
                batch.start + width / 2,
                y,
                label,
                ha="center",
                va="bottom" if k % 2 == 0 else "top",
                fontsize=6.5,
                color="#333",
            )
    # NEL bracket, from the last token to the end of the last call.
    m = result.metrics
    end = last + m.nel
    if m.nel > 0:
        yb = exe_y - h / 2 - 0.3
        ax.annotate(
            "",
            xy=(end, yb),
            xytext=(last, yb),
            arrowprops={"arrowstyle": "|-|", "color": _NEL, "linewidth": 1.3, "mutation_scale": 3},
        )
        ax.text(
            (last + end) / 2, yb - 0.12, f"NEL {m.nel:.3g}s", ha="center", va="top", fontsize=8, color=_NEL
        )
    ax.axvline(last, color=_GEN, linestyle=":", linewidth=0.9)
    ax.axvline(m.e2el, color="#333", linestyle="--", linewidth=0.9)
    ax.text(
        m.e2el,
        gen_y + h / 2 + 0.12,
        f" E2EL {m.e2el:.3g}s",
        ha="left" if m.e2el < 0.8 * ax.get_xlim()[1] else "right",
        va="bottom",
        fontsize=8,
    )
    ax.set_yticks([gen_y, exe_y], ["generation", "execution"])
    ax.set_ylim(-1.15, 1.75)
    status = "ok" if result.error is None else f"{result.error.type}"
    if result.state_lost:
        status += ", state lost"
    if result.stopped_early:
        status += ", stopped early"
    tps = f", {result.tps:g} tok/s" if result.tps else ""
    ax.set_title(
        f"{result.mode} ({result.backend}{tps}): {len(result.chunks)} chunks, "
        f"{len(result.batches)} call{'' if len(result.batches) == 1 else 's'}, {status}",
        loc="left",
        fontsize=9.5,
    )
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)


def plot_timeline(results: Sequence[Result], path: str | Path, *, title: str | None = None) -> Path:
    """Draw the runs' timelines, one panel per run (in the order given), into a PNG.

    Args:
        results: the runs (typically serial then eager of the same program).
        path: where to write the PNG.
        title: the figure's title (default: the runs' NEL/E2EL comparison).

    Returns:
        The path written.

    Raises:
        ValueError: ``results`` is empty.
    """
    out = Path(path)
    draw_timeline(results, title=title).savefig(out)
    return out


def draw_timeline(results: Sequence[Result], *, title: str | None = None) -> Any:
    """The figure ``plot_timeline`` writes (a matplotlib ``Figure``, Agg), not yet saved.

    Args:
        results: the runs, one panel each, in order.
        title: the figure's title (default: the runs' NEL/E2EL comparison).

    Returns:
        The ``matplotlib.figure.Figure``.

    Raises:
        ValueError: ``results`` is empty.
    """
    if not results:
        raise ValueError("no run to draw")
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    fig = Figure(figsize=(11, 1.2 + 2.3 * len(results)), dpi=130)
    axes = fig.subplots(len(results), 1, sharex=True, squeeze=False)[:, 0]
    xmax = max(max(r.metrics.e2el, r.stream.last_token or 0.0) for r in results) * 1.04 or 1.0
    for ax, result in zip(axes, results, strict=True):
        ax.set_xlim(0, xmax)
        _draw_run(ax, result)
    axes[-1].set_xlabel("seconds since the request")
    if title is None:
        parts = [f"{r.mode}: E2EL {r.metrics.e2el:.3g}s, NEL {r.metrics.nel:.3g}s" for r in results]
        title = "   |   ".join(parts)
        by_mode = {r.mode: r for r in results}
        if "serial" in by_mode and "eager" in by_mode and by_mode["serial"].metrics.e2el > 0:
            s, e = by_mode["serial"].metrics, by_mode["eager"].metrics
            title += f"   |   E2EL saved {(s.e2el - e.e2el) / s.e2el:.1%}"
    fig.suptitle(title, fontsize=10.5, x=0.01, ha="left")
    fig.legend(
        handles=[
            Patch(color=_TTFT, label="time to first token"),
            Patch(color=_GEN, label="generation"),
            Patch(color=_SETUP, label="call overhead"),
            Patch(color=_OK, label="execution"),
            Patch(color=_FAIL, label="execution (raised)"),
            Patch(color=_NEL, label="NEL"),
        ],
        loc="lower center",
        ncol=6,
        fontsize=7.5,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return fig
