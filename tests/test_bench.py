"""The benchmark harness: sweep, records, resume, report, CLI errors, no ray import."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eagerexec.bench import SweepConfig, load_corpus, load_runs, run_sweep, write_report
from eagerexec.bench._programs import Program, parse_expect
from eagerexec.bench._records import MODES, build_pairs, run_key
from eagerexec.bench._report import bound_violation, hidden_execution, ideal_nel, share_of_ideal
from eagerexec.cli import main

TPS = 500.0
TIMEOUT = 2.0

GOOD = """# expect: ok
import math
total = 0
for i in range(200):
    total += math.sqrt(i)
print(round(total, 3))
squares = [i * i for i in range(10)]
print(sum(squares))
"""

BAD = """# expect: error ZeroDivisionError line 4
a = 1
b = 0
c = a / b
print("never reached")
d = 2
print(d)
""" + "".join(f"v{i} = d * {i}\n" for i in range(150))
# The 150 lines after the error take > 1 s to stream at TPS: the eager run stops long before the
# end whatever the machine's load (a margin, not a timing assertion).

HANG = """x = 1
while True:
    pass
print("never")
"""

CRASH = """import os, signal
print("bye")
os.kill(os.getpid(), signal.SIGKILL)
print("never")
"""


def _corpus(tmp: Path, programs: dict[str, str]) -> Path:
    d = tmp / "corpus"
    d.mkdir()
    for name, code in programs.items():
        (d / f"{name}.py").write_text(code)
    return d


def _cfg(out: Path, **kw: Any) -> SweepConfig:
    return SweepConfig(out=out, tps=(TPS,), backends=("local",), repeats=1, timeout=TIMEOUT,
                       cpus_per_run=1, progress=False, **kw)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    tmp = tmp_path_factory.mktemp("bench")
    corpus = _corpus(tmp, {"good": GOOD, "bad": BAD, "hang": HANG, "crash": CRASH})
    programs = load_corpus(str(corpus))
    out = tmp / "out"
    summary = run_sweep(programs, _cfg(out))
    write_report(out)
    return out, summary


def _by_program(out: Path) -> dict[tuple[str, str], dict[str, Any]]:
    records, bad = load_runs(out / "runs.jsonl")
    assert bad == 0
    return {(r["program"], r["mode"]): r for r in records}


def test_every_pair_yields_two_records_with_metrics_timeline_and_prediction(sweep: tuple[Path, Any]) -> None:
    out, summary = sweep
    assert summary.executed == 4 and summary.skipped == 0
    recs = _by_program(out)
    assert set(recs) == {(p, m) for p in ("good", "bad", "hang", "crash") for m in MODES}
    good = recs[("good", "eager")]
    assert good["status"] == "ok" and good["error"] is None
    assert good["corpus"] == "corpus" and good["backend"] == "local" and good["tps"] == TPS
    assert good["repeat"] == 0 and good["expect"] == "ok"
    assert set(good["metrics"]) == {"t_gen", "ttft", "nel", "e2el"}
    assert good["timeline"]["chunks"] and good["timeline"]["batches"]
    assert good["stdout"].strip().endswith("285")
    pred = good["prediction"]
    assert pred["batched_e2el"] > 0 and pred["lower_bound"] <= pred["upper_bound"]
    # the serial run executes once, after generation
    assert len(recs[("good", "serial")]["timeline"]["batches"]) == 1


def test_runtime_error_hang_and_crash_are_recorded_not_raised(sweep: tuple[Path, Any]) -> None:
    out, summary = sweep
    recs = _by_program(out)
    for mode in MODES:
        assert recs[("bad", mode)]["status"] == "error"
        assert recs[("bad", mode)]["error"]["type"] == "ZeroDivisionError"
        assert recs[("bad", mode)]["error"]["line"] == 4
        assert recs[("hang", mode)]["status"] == "timeout"
        assert recs[("crash", mode)]["status"] == "crash"
    assert recs[("bad", "eager")]["stopped_early"] is True
    assert summary.statuses == {"ok": 2, "error": 2, "timeout": 2, "crash": 2}


def test_report_has_both_tables_model_columns_and_apart_list(sweep: tuple[Path, Any]) -> None:
    out, _ = sweep
    md = (out / "report.md").read_text()
    assert "## Table 1" in md and "## Table 2" in md
    t1 = md.split("## Table 1")[1].split("## Model accuracy")[0]
    t2 = md.split("## Table 2")[1].split("## Runs reported apart")[0]
    apart = md.split("## Runs reported apart")[1]
    assert "| corpus | local | 500 | 1 |" in t1
    assert "| corpus | local | 500 | 1 |" in t2 and "1/1" in t2  # the eager run stopped early
    assert "predicted eager E2EL" in t1
    limits = md.split("## Table 1b")[1].split("## Table 2")[0]
    assert "| corpus | local | 500 | 1 |" in limits and "ideal NEL saving" in limits and "of the ideal %" in limits
    assert "Median absolute error of the predicted eager E2EL" in md
    assert "outside the model's bounds" in md
    assert "corpus/hang" in apart and "timeout" in apart
    assert "corpus/crash" in apart and "crash" in apart
    assert "corpus/good" not in apart and "corpus/bad" not in apart
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert [r["table"] for r in rows] == ["1", "2"]
    assert all(r["corpus"] == "corpus" and float(r["tps"]) == TPS for r in rows)
    assert float(rows[0]["predicted_eager_e2el_median_s"]) > 0
    assert rows[1]["e2el_saving_median"] != ""  # measured; its size is a benchmark's business
    assert (out / "saving_vs_rate.png").stat().st_size > 0


def test_resume_runs_only_missing_pairs(sweep: tuple[Path, Any], tmp_path: Path) -> None:
    src, _ = sweep
    out = tmp_path / "out"
    out.mkdir()
    lines = (src / "runs.jsonl").read_text().splitlines(keepends=True)
    # drop the last record and tear the one before it, as an interrupted write would
    kept = [*lines[:-2], lines[-2][: len(lines[-2]) // 2]]
    (out / "runs.jsonl").write_text("".join(kept))
    lost = {run_key(json.loads(line)) for line in lines[-2:]}
    ran: list[str] = []
    corpus = _corpus(tmp_path, {"good": GOOD, "bad": BAD, "hang": HANG, "crash": CRASH})
    summary = run_sweep(load_corpus(str(corpus)), _cfg(out), on_pair=lambda spec, recs: ran.append(spec.key))
    assert summary.skipped == 3 and summary.executed == 1
    assert {f"{k}/{m}" for k in ran for m in MODES} >= lost
    records, bad = load_runs(out / "runs.jsonl")
    assert bad == 1  # the torn line is skipped, not fatal
    assert len({run_key(r) for r in records}) == 8
    # a third run has nothing left to do
    again = run_sweep(load_corpus(str(corpus)), _cfg(out))
    assert again.executed == 0 and again.skipped == 4


def test_report_only_regenerates_from_runs(sweep: tuple[Path, Any], tmp_path: Path) -> None:
    src, _ = sweep
    out = tmp_path / "copy"
    out.mkdir()
    (out / "runs.jsonl").write_text((src / "runs.jsonl").read_text())
    res = CliRunner().invoke(main, ["bench", "--report-only", str(out), "--no-timelines"])
    assert res.exit_code == 0, res.output
    assert "## Table 1" in (out / "report.md").read_text()
    assert (out / "report.csv").exists()


def test_timelines_are_drawn_per_pair(sweep: tuple[Path, Any], tmp_path: Path) -> None:
    src, _ = sweep
    out = tmp_path / "copy"
    out.mkdir()
    (out / "runs.jsonl").write_text((src / "runs.jsonl").read_text())
    res = CliRunner().invoke(main, ["bench", "--report-only", str(out)])
    assert res.exit_code == 0, res.output
    names = {p.name for p in (out / "timelines").glob("*.png")}
    assert "corpus__good__local__500.png" in names and "corpus__bad__local__500.png" in names


def test_missing_corpus_exits_2_with_one_line(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["bench", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and "nope" in res.output
    assert not (tmp_path / "o").exists()


def test_unknown_loader_and_report_only_without_runs_exit_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["bench", "nosuch:thing", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "unknown loader" in res.output
    res = CliRunner().invoke(main, ["bench", "--report-only", str(tmp_path)])
    assert res.exit_code == 2 and "runs.jsonl" in res.output


def test_bad_tps_exits_2(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path, {"good": GOOD})
    res = CliRunner().invoke(main, ["bench", str(corpus), "--out", str(tmp_path / "o"), "--tps", "fast"])
    assert res.exit_code == 2 and "--tps" in res.output


def test_single_machine_sweep_never_imports_ray(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path, {"good": GOOD})
    script = (
        "import sys\n"
        "from eagerexec.cli import main\n"
        f"try:\n    main(['bench', {str(corpus)!r}, '--out', {str(tmp_path / 'o')!r}, '--tps', '500',"
        " '--no-progress', '--no-timelines'])\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print('RAY' if 'ray' in sys.modules else 'NORAY')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("NORAY")
    assert len(load_runs(tmp_path / "o" / "runs.jsonl")[0]) == 2


def test_bundled_corpus_resolves_with_expectations() -> None:
    programs = load_corpus("bundled")
    assert len(programs) >= 10
    assert all(p.corpus == "bundled" and p.code for p in programs)
    assert {p.expect.split()[0] for p in programs if p.expect} <= {"ok", "error"}
    assert any(p.expect.startswith("error ") for p in programs)


def test_parse_expect() -> None:
    assert parse_expect("# expect: ok\nx = 1\n") == "ok"
    assert parse_expect("# expect: error IndexError line 30\n") == "error IndexError"
    assert parse_expect("x = 1\n") == ""


def _rec(program: str, mode: str, status: str, e2el: float, nel: float, **extra: Any) -> dict[str, Any]:
    return {"program": program, "corpus": "c", "backend": "local", "tps": 50.0, "repeat": 0, "mode": mode,
            "status": status, "error": None if status == "ok" else {"type": "E", "message": "m"},
            "metrics": {"t_gen": e2el - nel, "ttft": 0.0, "nel": nel, "e2el": e2el}, **extra}


def test_pair_classification() -> None:
    pairs = build_pairs([
        _rec("a", "serial", "ok", 2.0, 1.0), _rec("a", "eager", "ok", 1.2, 0.2),
        _rec("b", "serial", "error", 2.0, 1.0), _rec("b", "eager", "error", 0.5, 0.0),
        _rec("c", "serial", "ok", 2.0, 1.0), _rec("c", "eager", "error", 2.0, 1.0),
        _rec("d", "serial", "ok", 2.0, 1.0), _rec("d", "eager", "timeout", 9.0, 8.0),
        _rec("e", "serial", "ok", 2.0, 1.0),
    ])  # fmt: skip
    assert {p.program: p.kind for p in pairs} == {
        "a": "ok", "b": "error", "c": "mismatch", "d": "timeout", "e": "incomplete"
    }


def test_ideal_nel_replays_measured_execution_with_zero_overhead() -> None:
    # 10 tok/s, two 10-token chunks generated at 1 s and 2 s; measured with 0.1 s of setup and
    # 0.05 s of detection delay per chunk. A perfect executor finishes chunk 0 at 1.5 s and chunk
    # 1 at 2.3 s: 0.3 s after the last token.
    chunks = [
        {"index": 0, "tokens": 10, "generated_at": 1.0, "ready_at": 1.05, "kind": "statement"},
        {"index": 1, "tokens": 10, "generated_at": 2.0, "ready_at": 2.05, "kind": "statement"},
    ]
    batches = [
        {"index": 0, "chunks": [0], "start": 1.05, "end": 1.65, "exec_start": 1.1, "exec_end": 1.6, "setup": 0.1},
        {"index": 1, "chunks": [1], "start": 2.05, "end": 2.45, "exec_start": 2.1, "exec_end": 2.4, "setup": 0.1},
    ]
    rec = {
        "tps": 10.0,
        "metrics": {"ttft": 0.0, "t_gen": 2.0, "nel": 0.45, "e2el": 2.45},
        "timeline": {"stream": {"first_token": 0.0, "last_token": 2.0, "tokens": 20}, "chunks": chunks, "batches": batches},
    }
    assert ideal_nel(rec) == pytest.approx(0.3)
    assert ideal_nel({"timeline": {"chunks": []}}) is None and ideal_nel(None) is None


def test_share_of_ideal_sums_savings_over_the_cell() -> None:
    # program 1: serial 1.0, eager 0.2, ideal 0.1 (0.8 of 0.9 saved); program 2: serial 0.5,
    # eager 0.5, ideal 0.4 (0 of 0.1); a run without an ideal is left out.
    share = share_of_ideal([1.0, 0.5, 2.0], [0.2, 0.5, 0.1], [0.1, 0.4, None])
    assert share == pytest.approx(80.0)
    assert share_of_ideal([1.0], [0.5], [1.0]) is None  # nothing could be hidden
    assert share_of_ideal([1.0], [0.5], [None]) is None
    assert share_of_ideal([1.0], [0.0], [0.5]) == pytest.approx(200.0)  # a noisy eager run may beat the ideal


def test_hidden_execution_counts_all_batches_but_the_last_up_to_the_last_token() -> None:
    def batch(start: float, end: float) -> dict[str, float]:
        return {"exec_start": start, "exec_end": end}

    rec = {"timeline": {"stream": {"last_token": 2.0}, "batches": [batch(0.5, 1.0), batch(1.5, 2.5), batch(2.6, 3.0)]}}
    assert hidden_execution(rec) == pytest.approx((0.5 + 0.5, 0.5 + 1.0))  # the 2nd batch half hidden
    one = {"timeline": {"stream": {"last_token": 2.0}, "batches": [batch(2.1, 2.2)]}}
    assert hidden_execution(one) is None and hidden_execution(None) is None


def test_bound_violation_uses_tolerance() -> None:
    pred = {"t_gen": 1.0, "lower_bound": 1.5, "upper_bound": 2.0}
    inside = _rec("a", "eager", "ok", 1.49, 0.49, prediction=pred)
    below = _rec("a", "eager", "ok", 1.0, 0.0, prediction=pred)
    above = _rec("a", "eager", "ok", 3.0, 2.0, prediction=pred)
    assert bound_violation(inside) is None
    assert (bound_violation(below) or "").startswith("below lower bound")
    assert (bound_violation(above) or "").startswith("above upper bound")


def test_data_files_land_in_the_working_dir(tmp_path: Path) -> None:
    prog = Program(name="reader", corpus="mem", code="print(open('sub/in.txt').read().strip())\n",
                   files=(("sub/in.txt", b"hello-data\n"),))
    out = tmp_path / "o"
    run_sweep([prog], _cfg(out))
    recs = {r["mode"]: r for r in load_runs(out / "runs.jsonl")[0]}
    assert all(recs[m]["stdout"].strip() == "hello-data" for m in MODES)


def test_data_file_escaping_the_workdir_is_an_error_record(tmp_path: Path) -> None:
    prog = Program(name="evil", corpus="mem", code="print(1)\n", files=(("../evil.txt", b"x"),))
    out = tmp_path / "o"
    summary = run_sweep([prog], _cfg(out))
    assert summary.executed == 1
    recs = load_runs(out / "runs.jsonl")[0]
    assert {r["status"] for r in recs} == {"crash"}
    assert "escapes" in recs[0]["error"]["message"]
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")
def test_pinning_is_recorded_and_restored(tmp_path: Path) -> None:
    before = os.sched_getaffinity(0)
    corpus = _corpus(tmp_path, {"good": GOOD})
    run_sweep(load_corpus(str(corpus)), _cfg(tmp_path / "o"))
    assert os.sched_getaffinity(0) == before
    recs = load_runs(tmp_path / "o" / "runs.jsonl")[0]
    assert all(r["cpus"] == sorted(before)[:1] for r in recs)


def test_limit_keeps_the_first_programs_of_each_corpus(tmp_path: Path) -> None:
    progs = [Program(name=f"p{i}", corpus=c, code="print(1)\n") for c in ("a", "b") for i in range(3)]
    ran: list[str] = []
    summary = run_sweep(progs, _cfg(tmp_path / "o", limit=1), on_pair=lambda spec, recs: ran.append(spec.key))
    assert summary.executed == 2
    assert sorted(ran) == ["a/p0/local/500/0", "b/p0/local/500/0"]


def test_an_exit_status_other_than_zero_is_an_error(tmp_path: Path) -> None:
    from eagerexec.bench._pair import _status

    assert _status(None, 0) == "ok" and _status(None, None) == "ok"
    assert _status(None, 3) == "error"  # os._exit(3): python exits 3, the program failed
    assert _status({"type": "SessionDied", "origin": "backend"}) == "crash"
    assert _status({"type": "TimeoutError", "origin": "backend"}) == "timeout"
