"""Tests for the timeline picture (eagerexec.bench._timeline)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eagerexec.pipeline._result import BatchTiming, ChunkTiming, Metrics, Result, RunError, StreamTiming
from eagerexec.bench._timeline import plot_timeline

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


def test_writes_png_for_serial_and_eager(tmp_path: Path) -> None:
    out = plot_timeline([make_result("serial"), make_result("eager")], tmp_path / "t.png")
    data = out.read_bytes()
    assert data.startswith(PNG)
    assert len(data) > 10_000


def test_failed_run_and_single_panel(tmp_path: Path) -> None:
    out = plot_timeline([make_result("eager", fail=True)], tmp_path / "one.png", title="x")
    assert out.read_bytes().startswith(PNG)


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
