"""Tests for `eager demo`, `eager replay` and `eager run` (plain output: CliRunner is no TTY)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from openai_server import OpenAIServer, Script

from eagerexec.cli import main

PNG = b"\x89PNG\r\n\x1a\n"

OK_PROGRAM = (
    "import math\nx = math.sqrt(16)\nprint('x is', x)\ny = [i * i for i in range(5)]\nprint(sum(y))\n"
)
ERR_PROGRAM = "print('start')\nvalue = 1 / 0\n" + "".join(f"print('line {i}', {i} * 2)\n" for i in range(40))


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def server() -> Any:
    with OpenAIServer() as s:
        yield s


@pytest.fixture
def ok_file(tmp_path: Path) -> Path:
    p = tmp_path / "ok.py"
    p.write_text(OK_PROGRAM)
    return p


@pytest.fixture
def err_file(tmp_path: Path) -> Path:
    p = tmp_path / "err.py"
    p.write_text(ERR_PROGRAM)
    return p


def check_run(run: dict[str, Any]) -> None:
    for key in ("mode", "code", "stdout", "stderr", "error", "stopped_early", "metrics", "timeline", "tps"):
        assert key in run
    m = run["metrics"]
    assert all(m[k] >= 0 for k in ("t_gen", "ttft", "nel", "e2el"))
    assert m["e2el"] >= m["t_gen"] - 1e-9
    assert set(run["timeline"]) == {"stream", "chunks", "batches"}


def test_replay_json_both_modes(ok_file: Path) -> None:
    res = invoke("replay", str(ok_file), "--tps", "2000", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert list(data["runs"]) == ["serial", "eager"]
    for mode, run in data["runs"].items():
        check_run(run)
        assert run["mode"] == mode
        assert run["tps"] == 2000
        assert run["error"] is None
        assert run["stdout"] == "x is 4.0\n30\n"
        assert run["code"] == OK_PROGRAM
    assert len(data["runs"]["serial"]["timeline"]["batches"]) == 1


def test_replay_plain_output_and_summary(ok_file: Path) -> None:
    res = invoke("replay", str(ok_file), "--tps", "2000", "--mode", "eager")
    assert res.exit_code == 0
    assert "chunk 1 ready" in res.output
    assert "| x is 4.0" in res.output
    assert "E2EL" in res.output and "serial" not in res.output.split("==")[-1].splitlines()[-2]


def test_replay_error_stops_early_in_eager(err_file: Path) -> None:
    res = invoke("replay", str(err_file), "--tps", "2000", "--mode", "eager", "--json")
    assert res.exit_code == 1
    run = json.loads(res.stdout)["runs"]["eager"]
    check_run(run)
    assert run["error"]["type"] == "ZeroDivisionError"
    assert run["error"]["line"] == 2
    assert run["stopped_early"] is True
    assert len(run["code"]) < len(ERR_PROGRAM)
    assert run["stdout"] == "start\n"
    assert "ZeroDivisionError" in res.stderr


def test_replay_serial_error_runs_whole_file(err_file: Path) -> None:
    res = invoke("replay", str(err_file), "--tps", "2000", "--mode", "serial", "--json")
    assert res.exit_code == 1
    run = json.loads(res.stdout)["runs"]["serial"]
    assert run["code"] == ERR_PROGRAM
    assert run["stopped_early"] is False


def test_replay_continue_on_error_generates_everything(err_file: Path) -> None:
    res = invoke("replay", str(err_file), "--tps", "2000", "--mode", "eager", "--continue-on-error", "--json")
    assert res.exit_code == 1
    assert json.loads(res.stdout)["runs"]["eager"]["code"] == ERR_PROGRAM


def test_replay_timeline_png(ok_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.png"
    res = invoke("replay", str(ok_file), "--tps", "2000", "--timeline", str(out))
    assert res.exit_code == 0
    assert out.read_bytes().startswith(PNG)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["replay", "/nonexistent/x.py"], "no such file"),
        (["replay", "FILE", "--backend", "nope"], "unknown backend"),
        (["replay", "FILE", "--tps", "0"], "--tps"),
        (["replay", "FILE", "--ttft", "-1"], "--ttft"),
        (["demo", "--backend", "nope"], "unknown backend"),
        (["run", "hi", "--model", "m", "--backend", "nope"], "unknown backend"),
        (["run", "hi", "--model", "m", "--repair", "-1"], "--repair"),
    ],
)
def test_usage_errors_exit_2_one_line(args: list[str], needle: str, ok_file: Path) -> None:
    args = [str(ok_file) if a == "FILE" else a for a in args]
    res = invoke(*args)
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eager: error: ") and needle in lines[0]


def test_demo_end_to_end_plain(tmp_path: Path) -> None:
    out = tmp_path / "demo.png"
    res = invoke("demo", "--tps", "2000", "--timeline", str(out))
    assert res.exit_code == 0, res.output
    assert "== serial" in res.output and "== eager" in res.output
    assert "eager saved: NEL" in res.output
    assert out.read_bytes().startswith(PNG)


# -- eager run against the loopback OpenAI server ------------------------------------------------


def fenced(code: str) -> list[str]:
    text = f"Here you go:\n```python\n{code}```\nDone."
    return [text[i : i + 7] for i in range(0, len(text), 7)]


def test_run_fenced_code(server: OpenAIServer) -> None:
    server.push(Script(content=fenced("a = 6 * 7\nprint(a)\n")))
    res = invoke("run", "answer", "--model", "scripted", "--base-url", server.base_url, "--json")
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)["runs"]["eager"]
    check_run(run)
    assert run["stdout"] == "42\n"
    assert server.requests[0].body["model"] == "scripted"


def test_run_tool_mode(server: OpenAIServer) -> None:
    args = json.dumps({"code": "print('via tool')\n"})
    server.push(Script(tool_args=[args[i : i + 5] for i in range(0, len(args), 5)]))
    res = invoke("run", "x", "--model", "m", "--base-url", server.base_url, "--mode", "tool")
    assert res.exit_code == 0, res.output
    assert "via tool" in res.output
    assert server.requests[0].body["tools"][0]["function"]["name"] == "run_python"


def test_run_http_401_exits_2_one_line(server: OpenAIServer) -> None:
    server.push(Script(status=401, error_message="bad key"))
    res = invoke("run", "x", "--model", "m", "--base-url", server.base_url, "--api-key", "k", "--json")
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eager: error: ") and "401" in lines[0]
    run = json.loads(res.stdout)["runs"]["eager"]
    assert run["error"]["origin"] == "source"


def test_run_program_error_exits_1(server: OpenAIServer) -> None:
    server.push(Script(content=fenced("print('a')\nraise KeyError('boom')\nprint('b')\n")))
    res = invoke("run", "x", "--model", "m", "--base-url", server.base_url)
    assert res.exit_code == 1
    assert "KeyError" in res.output


def test_run_repair_continues_from_partial_code(server: OpenAIServer, tmp_path: Path) -> None:
    server.push(
        Script(content=fenced("base = 10\nprint('base', base)\nresult = base / zero\nprint(result)\n")),
        Script(content=fenced("zero = 2\nresult = base / zero\nprint('result', result)\n")),
    )
    res = invoke(
        "run",
        "divide",
        "--model",
        "m",
        "--base-url",
        server.base_url,
        "--repair",
        "2",
        "--json",
        "--timeline",
        str(tmp_path / "r.png"),
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["repair"]["repairs"] == 1 and data["repair"]["ok"] is True
    # The session kept `base` from the first attempt: the continuation did not define it.
    assert data["runs"]["eager"]["stdout"] == "result 5.0\n"
    assert data["repair"]["code"].startswith("base = 10\nprint('base', base)\nzero = 2\n")
    assert len(server.requests) == 2
    repair_msgs = server.requests[1].body["messages"]
    text = "\n".join(m["content"] for m in repair_msgs)
    assert "result = base / zero" in text
    assert "NameError" in text and "name 'zero' is not defined" in text
    assert "print(result)" not in repair_msgs[-2]["content"]  # the code after the failing line is cut
    assert (tmp_path / "r.png").read_bytes().startswith(PNG)
