"""Public-benchmark loaders on small fixtures in the published formats; malformed input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from eagerexec import BenchError
from eagerexec.bench import SweepConfig, load_corpus, load_runs, run_sweep
from eagerexec.bench._loaders import LOADERS
from eagerexec.cli import main

FIX = Path(__file__).parent / "fixtures" / "bench"


def test_pandasplotbench_joins_data_and_plot_code_and_writes_data_csv() -> None:
    progs = load_corpus(f"pandasplotbench:{FIX / 'pandasplotbench'}")
    assert [p.name for p in progs] == ["ppb_0", "ppb_7"]
    p = progs[0]
    assert p.corpus == "pandasplotbench"
    assert p.code.index('pd.read_csv("data.csv")') < p.code.index("ax.plot")
    assert dict(p.files) == {"data.csv": b"x,y\n1,2\n2,4\n3,9\n"}
    assert p.task == "Plot y against x as a line."
    compile(p.code, p.name, "exec")


def test_pandasplotbench_accepts_a_single_file_and_datasets_server_rows(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (FIX / "pandasplotbench" / "pandasplotbench.jsonl").read_text().splitlines()]
    f = tmp_path / "rows.json"
    f.write_text(json.dumps([{"row_idx": i, "row": r} for i, r in enumerate(rows)]))
    progs = load_corpus(f"pandasplotbench:{f}")
    assert [p.name for p in progs] == ["ppb_0", "ppb_7"]


def test_dabench_pairs_questions_with_solutions_and_tables() -> None:
    progs = load_corpus(f"dabench:{FIX / 'dabench'}")
    assert [p.name for p in progs] == ["dabench_0", "dabench_5"]  # question 9 has no solution
    assert all(dict(p.files) == {"values.csv": b"value\n1\n2\n3\n4\n"} for p in progs)
    assert "```" not in progs[1].code and "csv.DictReader" in progs[1].code  # taken from the fence
    assert progs[0].task == "What is the mean of column 'value'?"  # the repair study's request


def test_dsbench_one_program_per_solved_question_with_task_files() -> None:
    progs = load_corpus(f"dsbench:{FIX / 'dsbench'}")
    assert [p.name for p in progs] == ["dsbench_00000001_question1"]
    assert set(dict(progs[0].files)) == {"sales.csv", "question1.txt"}
    assert progs[0].task == "Which month sold more units? A) jan B) feb"


def test_gitchameleon_builds_starting_code_plus_solution_plus_test() -> None:
    progs = load_corpus(f"gitchameleon:{FIX / 'gitchameleon'}")
    assert [p.name for p in progs] == ["gitchameleon_0_numpy_1.21.0", "gitchameleon_1_json_3.11"]
    code = progs[0].code
    assert code.index("def cumprod") < code.index("return np.cumprod") < code.index("assert list")
    for p in progs:
        compile(p.code, p.name, "exec")
    assert progs[0].task == "Compute the cumulative product of an array."


def test_gitchameleon_reads_the_csv_release(tmp_path: Path) -> None:
    f = tmp_path / "combined_dataset.csv"
    f.write_text('library,version,starting_code,solution\njson,3.11,"import json\n","x = json.dumps(1)\n"\n')
    (p,) = load_corpus(f"gitchameleon:{f}")
    assert p.code == "import json\nx = json.dumps(1)\n"


def test_malformed_jsonl_is_one_clear_line_naming_file_and_line() -> None:
    with pytest.raises(BenchError) as info:
        load_corpus(f"dabench:{FIX / 'malformed'}")
    msg = str(info.value)
    assert "da-dev-questions.jsonl:2" in msg and "not valid JSON" in msg and "\n" not in msg


def test_missing_fields_and_paths_raise_bench_error(tmp_path: Path) -> None:
    f = tmp_path / "samples.jsonl"
    f.write_text(json.dumps({"library": "numpy", "version": "1.0", "starting_code": "x = 1\n"}) + "\n")
    with pytest.raises(BenchError, match="missing field 'solution'"):
        load_corpus(f"gitchameleon:{f}")
    with pytest.raises(BenchError, match="does not exist"):
        load_corpus(f"dsbench:{tmp_path / 'absent'}")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BenchError, match=r"no \.jsonl"):
        load_corpus(f"pandasplotbench:{empty}")
    with pytest.raises(BenchError, match="missing field 'id'"):
        load_corpus(f"pandasplotbench:{tmp_path}")  # samples.jsonl is no PandasPlotBench file


def test_dabench_missing_table_is_reported(tmp_path: Path) -> None:
    d = tmp_path / "dab"
    shutil.copytree(FIX / "dabench", d)
    (d / "da-dev-tables" / "values.csv").unlink()
    with pytest.raises(BenchError, match=r"table values\.csv not found"):
        load_corpus(f"dabench:{d}")


def test_every_loader_is_registered() -> None:
    assert set(LOADERS) == {"pandasplotbench", "dabench", "dsbench", "gitchameleon"}


def test_dabench_programs_run_with_their_data(tmp_path: Path) -> None:
    progs = load_corpus(f"dabench:{FIX / 'dabench'}")
    out = tmp_path / "o"
    run_sweep(progs, SweepConfig(out=out, tps=(500.0,), timeout=5.0, cpus_per_run=1, progress=False))
    recs = {(r["program"], r["mode"]): r for r in load_runs(out / "runs.jsonl")[0]}
    assert recs[("dabench_0", "eager")]["stdout"].strip() == "@mean[2.50]"
    assert recs[("dabench_5", "serial")]["stdout"].strip() == "@count[2]"


def test_cli_skips_a_malformed_corpus_and_runs_the_others(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "p.py").write_text("x = 1\nprint(x)\n")
    out = tmp_path / "o"
    res = CliRunner().invoke(main, [
        "bench", f"dabench:{FIX / 'malformed'}", str(good), "--out", str(out), "--tps", "500",
        "--no-progress", "--no-timelines",
    ])  # fmt: skip
    assert res.exit_code == 2
    assert "skipping corpus dabench:" in res.output and "not valid JSON" in res.output
    recs = load_runs(out / "runs.jsonl")[0]
    assert {(r["program"], r["status"]) for r in recs} == {("p", "ok")}
    assert (out / "report.md").exists()
