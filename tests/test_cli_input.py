"""Bad input (issue 14): every mistake is one line ``eager: error: ...`` on stderr and status 2,
never a traceback, a usage block or a hang; nothing is printed on stdout before it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from eagerexec.cli import main


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def one_line(res: Result, *needles: str) -> str:
    """Assert ``res`` is one ``eager: error:`` line (status 2) holding ``needles``; return it."""
    assert res.exit_code == 2, (res.exit_code, res.output)
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    line = lines[0]
    assert line.startswith("eager: error: "), line
    for needle in needles:
        assert needle in line, line
    assert "Traceback" not in res.output and "Usage:" not in res.output
    return line


@pytest.fixture
def prog(tmp_path: Path) -> Path:
    p = tmp_path / "ok.py"
    p.write_text("import math\nx = math.sqrt(16)\nprint(x)\n")
    return p


def test_missing_workdir_is_one_line(prog: Path, tmp_path: Path) -> None:
    from eagerexec.cli._replay import replay_command

    if not any(p.name == "workdir" for p in replay_command.params):
        pytest.skip("eager replay has no --workdir yet")
    one_line(invoke("replay", str(prog), "--workdir", str(tmp_path / "missing")), "missing")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["replay", "FILE", "--ttft", "inf"], "not a finite number"),
        (["replay", "FILE", "--ttft", "1e300"], "must be <= 3600"),  # would sleep for ever
        (["replay", "FILE", "--ttft", "-1"], "must be >= 0"),
        (["replay", "FILE", "--tps", "inf"], "not a finite number"),
        (["replay", "FILE", "--tps", "1e300"], "must be <= 1e+09"),
        (["replay", "FILE", "--tps", "0"], "must be > 0"),
        (["replay", "FILE", "--timeout", "0"], "must be > 0"),
        (["replay", "FILE", "--max-output", "1"], "must be >= 2"),
        (["demo", "--tps", "0"], "must be > 0"),
        (["demo", "--timeout", "nan"], "not a finite number"),
        (["run", "x", "--model", "m", "--repair", "-1"], "--repair"),
        (["run", "x", "--model", "m", "--repair", "1000"], "--repair"),
        (["run", "x", "--model", "m", "--timeout", "inf"], "not a finite number"),
        (["model", "FILE", "--tps", "0"], "must be > 0"),
        (["model", "FILE", "--tps", "10", "--setup", "-1"], "must be >= 0"),
        (["model", "FILE", "--tps", "10", "--setup-full", "inf"], "not a finite number"),
        (["bench", "bundled", "--out", "OUT", "--repeats", "0"], "--repeats"),
        (["bench", "bundled", "--out", "OUT", "--cpus-per-run", "0"], "--cpus-per-run"),
        (["bench", "bundled", "--out", "OUT", "--limit", "0"], "--limit"),
        (["bench", "bundled", "--out", "OUT", "--tps", "10,-5"], "--tps"),
        (["bench", "bundled", "--out", "OUT", "--timeout", "0"], "must be > 0"),
    ],
)
def test_numbers_are_validated(args: list[str], needle: str, prog: Path, tmp_path: Path) -> None:
    args = [str(prog) if a == "FILE" else str(tmp_path / "out") if a == "OUT" else a for a in args]
    res = invoke(*args)
    one_line(res, needle)
    assert res.stdout == ""


def test_jupyter_with_python_is_one_line_before_anything_runs(prog: Path) -> None:
    res = invoke("replay", str(prog), "--backend", "jupyter", "--python", "/usr/bin/python3")
    one_line(res, "--python does not apply to the jupyter backend")
    assert res.stdout == ""  # no run header: refused before anything started


def test_unknown_backend_is_one_line(prog: Path) -> None:
    one_line(invoke("replay", str(prog), "--backend", "cloud"), "unknown backend 'cloud'")
    one_line(invoke("run", "x", "--model", "m", "--backend", "cloud"), "unknown backend 'cloud'")


@pytest.mark.parametrize("as_json", [False, True])
def test_chunks_on_a_directory_or_a_binary_is_one_line(as_json: bool, tmp_path: Path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)))
    flag = ["--json"] if as_json else []
    one_line(invoke("chunks", str(tmp_path), *flag), "is a directory")
    one_line(invoke("chunks", str(blob), *flag), "binary file")


def test_non_utf8_program_is_one_line_for_every_command(tmp_path: Path) -> None:
    bad = tmp_path / "latin.py"
    bad.write_bytes("print('d\u00e9j\u00e0 vu')\n".encode("latin-1"))
    for args in (["replay", str(bad)], ["chunks", str(bad)], ["model", str(bad), "--tps", "10"]):
        one_line(invoke(*args), "not valid UTF-8")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_program_is_one_line(prog: Path) -> None:
    prog.chmod(0)
    try:
        one_line(invoke("replay", str(prog)), "cannot read")
    finally:
        prog.chmod(stat.S_IRUSR | stat.S_IWUSR)


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ("dir", "is a directory"),
        ("missing", "no such file"),
        ("run-dir", "directory"),
        ("run-missing", "No such file"),
        ("run-not-json", "is not valid JSON"),
        ("run-no-runs", "has no 'runs.eager' object"),
        ("exe-and-run", "not both"),
    ],
)
def test_model_errors_share_the_format(setup: str, needle: str, prog: Path, tmp_path: Path) -> None:
    run = tmp_path / "run.json"
    file, extra = str(prog), ["--tps", "10"]
    if setup == "dir":
        file = str(tmp_path)
    elif setup == "missing":
        file = str(tmp_path / "nope.py")
    elif setup == "run-dir":
        extra += ["--from-run", str(tmp_path)]
    elif setup == "run-missing":
        extra += ["--from-run", str(tmp_path / "nope.json")]
    elif setup == "run-not-json":
        run.write_text("{not json")
        extra += ["--from-run", str(run)]
    elif setup == "run-no-runs":
        run.write_text(json.dumps({"something": 1}))
        extra += ["--from-run", str(run)]
    else:
        run.write_text(json.dumps({"runs": {}}))
        extra += ["--from-run", str(run), "--exe", "0.1"]
    one_line(invoke("model", file, *extra), needle)


def _fake_python(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fakepython"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("exit 0", "exited with status 0 and printed nothing"),
        ("exit 3", "exited with status 3 and printed nothing"),
        ("echo 'cannot import encodings' >&2; exit 1", "cannot import encodings"),
        ("kill -9 $$", "killed by signal 9"),
    ],
)
def test_python_that_exits_at_once_says_why(body: str, needle: str, prog: Path, tmp_path: Path) -> None:
    python = _fake_python(tmp_path, body)
    res = invoke("replay", str(prog), "--mode", "eager", "--python", python, "--json")
    line = one_line(res, "the worker did not start", needle)
    assert not line.rstrip().endswith(":")


def test_python_that_does_not_exist_is_one_line(prog: Path, tmp_path: Path) -> None:
    res = invoke("replay", str(prog), "--mode", "eager", "--python", str(tmp_path / "nopython"))
    one_line(res, "nopython")


def test_bad_input_from_a_real_process_is_one_line(tmp_path: Path) -> None:
    """The installed entry point, not only click's test runner: one line, status 2."""
    blob = tmp_path / "x.py"
    blob.write_bytes(b"\x00\x01")
    proc = subprocess.run(
        [sys.executable, "-m", "eagerexec.cli", "replay", str(blob), "--tps", "5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("eager: error: ") and proc.stderr.count("\n") == 1


@pytest.mark.parametrize(("option", "value"), [("--tps", "1e300"), ("--tps", "5,0"), ("--timeout", "1e300")])
def test_bench_numbers_are_in_range(option: str, value: str, tmp_path: Path) -> None:
    res = invoke("bench", "bundled", "--out", str(tmp_path / "out"), option, value)
    one_line(res, option)
    assert not (tmp_path / "out").exists()  # refused before anything ran
