"""Tests for the timeline picture (eagerexec.bench._timeline): what is drawn, not how fast."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from matplotlib.colors import to_rgba

from eagerexec.bench._timeline import _FAIL, _OK, draw_timeline, plot_timeline
from eagerexec.pipeline._result import BatchTiming, ChunkTiming, Metrics, Result, RunError, StreamTiming

PNG = b"\x89PNG\r\n\x1a\n"


def make_result(mode: str = "eager", *, fail: bool = False, n: int = 6) -> Result:
    """A plausible run: n one-line chunks over 1 s of streaming after 0.2 s TTFT."""
    chunks = []
    batches = []
    t = 0.2
    for i in range(n):
        ready = 0.2 + (i + 1) * (1.0 / n)
        chunks.append(
            ChunkTiming(
                index=i,
                start_line=i + 1,
                end_line=i + 1,
                kind="statement",
                tokens=10,
                text=f"x{i} = {i}\n",
                generated_at=ready,
                ready_at=ready,
            )
        )
    if mode == "serial":
        batches.append(
            BatchTiming(
                index=0,
                chunks=tuple(range(n)),
                start=1.2,
                end=1.6,
                exec_start=1.22,
                exec_end=1.59,
                setup=0.03,
                ok=not fail,
            )
        )
    else:
        for i, c in enumerate(chunks):
            t = max(t, c.ready_at)
            batches.append(
                BatchTiming(
                    index=i,
                    chunks=(i,),
                    start=t,
                    end=t + 0.08,
                    exec_start=t + 0.005,
                    exec_end=t + 0.078,
                    setup=0.007,
                    ok=not (fail and i == n - 1),
                )
            )
            t += 0.08
    last = 1.2
    end = batches[-1].end
    nel = max(end - last, 0.0)
    return Result(
        mode=mode,  # type: ignore[arg-type]
        code="\n".join(f"x{i} = {i}" for i in range(n)) + "\n",
        stdout="",
        stderr="",
        figures=(),
        error=RunError(type="ZeroDivisionError", message="division by zero", line=n) if fail else None,
        exit_code=None,
        stopped_early=False,
        chunks=tuple(chunks),
        batches=tuple(batches),
        stream=StreamTiming(first_token=0.2, last_token=last, tokens=60),
        metrics=Metrics(t_gen=last, ttft=0.2, nel=nel, e2el=last + nel),
        backend="local",
        tps=50.0,
    )


def _bars(ax: Any, color: str) -> int:
    """How many execution bars of ``color`` the panel ``ax`` holds."""
    want = to_rgba(color)
    return sum(
        len(coll.get_paths())
        for coll in ax.collections
        if len(coll.get_facecolors()) and tuple(coll.get_facecolors()[0]) == want
    )


def _texts(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_writes_png_for_serial_and_eager(tmp_path: Path) -> None:
    out = plot_timeline([make_result("serial"), make_result("eager")], tmp_path / "t.png")
    assert out == tmp_path / "t.png" and out.read_bytes().startswith(PNG)


def test_panels_show_each_call_with_its_lines_and_outcome() -> None:
    fig = draw_timeline([make_result("serial"), make_result("eager")])
    serial, eager = fig.axes
    assert serial.get_title(loc="left").startswith("serial (local, 50 tok/s): 6 chunks, 1 call, ok")
    assert eager.get_title(loc="left").startswith("eager (local, 50 tok/s): 6 chunks, 6 calls, ok")
    assert _bars(serial, _OK) == 1 and _bars(eager, _OK) == 6
    assert _bars(serial, _FAIL) == 0 and _bars(eager, _FAIL) == 0
    assert "L1-6" in _texts(serial)
    assert [t for t in _texts(eager) if t.startswith("L")] == [f"L{i}" for i in range(1, 7)]
    assert "E2EL saved" in fig._suptitle.get_text()


def test_failed_run_is_red_and_named() -> None:
    fig = draw_timeline([make_result("eager", fail=True)], title="x")
    (ax,) = fig.axes
    assert _bars(ax, _FAIL) == 1 and _bars(ax, _OK) == 5
    assert "ZeroDivisionError" in ax.get_title(loc="left")
    assert fig._suptitle.get_text() == "x"


def test_state_lost_is_shown() -> None:
    lost = dataclasses.replace(make_result("eager"), state_lost=True)
    (ax,) = draw_timeline([lost]).axes
    assert "state lost" in ax.get_title(loc="left")


def test_run_without_chunks_or_batches(tmp_path: Path) -> None:
    empty = Result(
        mode="eager",
        code="",
        stdout="",
        stderr="",
        figures=(),
        error=None,
        exit_code=None,
        stopped_early=False,
        chunks=(),
        batches=(),
        stream=StreamTiming(),
        metrics=Metrics(t_gen=0.0, ttft=0.0, nel=0.0, e2el=0.0),
        backend="local",
    )
    assert plot_timeline([empty], tmp_path / "e.png").read_bytes().startswith(PNG)


def test_no_runs_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        plot_timeline([], tmp_path / "x.png")
