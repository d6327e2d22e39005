"""The repair study (`eager bench --repair-model`): partial vs full repair of the failing programs
of a sweep, against the loopback OpenAI-compatible server scripted to repair or not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from openai_server import OpenAIServer, Script

from eagerexec.bench._repairs import load_repairs, repair_rows
from eagerexec.cli import main

MULTIPLY = '"""Multiply two numbers."""\nx = 2\ny = x * z\nprint(y)\n'  # NameError, line 3
DIVIDE = '"""Halve one."""\na = 1\nb = a / 0\nprint(b)\n'  # ZeroDivisionError, line 3
GOOD = '"""Say hi."""\nprint("hi")\n'


def _fenced(code: str) -> list[str]:
    return ["Fixed:\n```python\n", code, "```\n"]


def test_repair_study_partial_vs_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, code in {"divide": DIVIDE, "good": GOOD, "multiply": MULTIPLY}.items():
        (corpus / f"{name}.py").write_text(code)
    out = tmp_path / "out"
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    with OpenAIServer() as server:
        # programs are repaired in corpus order, partial first: divide, then multiply
        server.push(Script(content=_fenced("b = a / 0\nprint(b)\n")))  # divide, partial: still fails
        server.push(Script(content=_fenced("print(0.5)\n")))  # divide, full: a new program
        server.push(Script(content=_fenced("z = 3\ny = x * z\nprint(y)\n")))  # multiply, partial
        server.push(Script(content=_fenced("x = 2\nz = 3\nprint(x * z)\n")))  # multiply, full
        args = [
            "bench", str(corpus), "--out", str(out), "--tps", "5000", "--no-timelines", "--no-pin",
            "--repair-model", "scripted-model", "--repair-base-url", server.base_url,
        ]  # fmt: skip
        done = CliRunner().invoke(main, args)
        assert done.exit_code == 0, done.output
        bodies = [r.body for r in server.requests]
        # running again resumes: nothing is repaired twice
        again = CliRunner().invoke(main, args)
        assert again.exit_code == 0 and "0 repair(s) run" in again.output
    assert len(bodies) == 4 and all(b["model"] == "scripted-model" for b in bodies)
    assert all(b["max_tokens"] == 2048 for b in bodies)
    partial_divide = "\n".join(m["content"] for m in bodies[0]["messages"])
    assert "Halve one." in partial_divide and "ZeroDivisionError" in partial_divide
    assert "print(b)" not in partial_divide.split("ZeroDivisionError")[0]  # the code is cut at line 3

    records = load_repairs(out / "repairs.jsonl")
    got = {(r["program"], r["strategy"]): r for r in records}
    assert set(got) == {(p, s) for p in ("divide", "multiply") for s in ("partial", "full")}
    assert not got["divide", "partial"]["ok"] and got["divide", "partial"]["final_error"]["type"] == "ZeroDivisionError"
    assert got["divide", "full"]["ok"]
    assert got["multiply", "partial"]["ok"] and got["multiply", "full"]["ok"]
    # partial repair kept `x` from the statements that ran before the error
    assert got["multiply", "partial"]["code"].startswith('"""Multiply two numbers."""\nx = 2\nz = 3\n')
    assert got["multiply", "partial"]["first_error"]["line"] == 3

    assert repair_rows(records) == [
        {"corpus": "corpus", "programs": 2, "partial": 1, "full": 2, "only_partial": 0, "only_full": 1,
         "partial_pct": 50.0, "full_pct": 100.0}
    ]  # fmt: skip
    table = (out / "report.md").read_text().split("## Table 3")[1].split("##")[0]
    assert "| corpus | 2 | 1 (50%) | 2 (100%) | 0 | 1 |" in table


def test_a_model_that_fails_is_recorded_and_the_study_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "multiply.py").write_text(MULTIPLY)
    out = tmp_path / "out"
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    with OpenAIServer() as server:
        server.push(Script(status=400, error_message="bad request"))  # not retried by the SDK
        server.push(Script(content=_fenced("x = 2\nz = 3\nprint(x * z)\n")))
        done = CliRunner().invoke(
            main,
            ["bench", str(corpus), "--out", str(out), "--tps", "5000", "--no-timelines", "--no-pin",
             "--repair-model", "m", "--repair-base-url", server.base_url],
        )  # fmt: skip
    assert done.exit_code == 0, done.output
    lines = [json.loads(x) for x in (out / "repairs.jsonl").read_text().splitlines()]
    partial, full = lines
    assert not partial["ok"] and partial["model_failed"]
    assert full["ok"]
