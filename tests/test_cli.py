"""Tests for `eager demo`, `eager replay` and `eager run` (plain output: CliRunner is no TTY)."""

from __future__ import annotations

import dataclasses
import io
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from openai_server import OpenAIServer, Script

from eagerexec.backends import Outcome
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
    # as python prints it: on the program's stderr, recorded in the run
    assert run["error"]["printed"] and "ZeroDivisionError: division by zero" in run["stderr"]


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


# -- one line for every usage error (bug 4) -------------------------------------------------------


def one_error_line(res: Result, needle: str) -> None:
    assert res.exit_code == 2, res.output
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("eager: error: ") and needle in lines[0], lines[0]
    assert "Traceback" not in res.output


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, str]:
    latin = tmp_path / "latin.py"
    latin.write_bytes("print('caf\u00e9')\n".encode("latin-1"))
    binary = tmp_path / "blob.py"
    binary.write_bytes(b"print(1)\n\x00\x01\x02")
    return {"LATIN": str(latin), "BINARY": str(binary), "DIR": str(tmp_path)}


@pytest.mark.parametrize("command", ["replay", "chunks"])
@pytest.mark.parametrize(
    ("arg", "needle"),
    [
        ("/nonexistent/x.py", "no such file"),
        ("DIR", "is a directory"),
        ("LATIN", "is not valid UTF-8"),
        ("BINARY", "is a binary file"),
    ],
)
def test_bad_program_files(command: str, arg: str, needle: str, bad_files: dict[str, str]) -> None:
    one_error_line(invoke(command, bad_files.get(arg, arg)), needle)


@pytest.mark.parametrize("command", ["replay", "chunks", "model"])
def test_unreadable_file(command: str, ok_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Permission bits do not stop root, so the refusal is simulated where the file is read.
    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    args = [command, str(ok_file)] + (["--tps", "10"] if command == "model" else [])
    one_error_line(invoke(*args), "cannot read")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["replay", "FILE", "--tpz", "5"], "No such option"),
        (["replay"], "Missing argument"),
        (["replay", "FILE", "--mode", "fast"], "--mode"),
        (["replay", "FILE", "--tps", "fast"], "is not a number"),
        (["replay", "FILE", "--tps", "inf"], "not a finite number"),
        (["replay", "FILE", "--tps", "nan"], "not a finite number"),
        (["replay", "FILE", "--tps", "-inf"], "not a finite number"),
        (["replay", "FILE", "--ttft", "inf"], "not a finite number"),
        (["replay", "FILE", "--ttft", "NaN"], "not a finite number"),
        (["demo", "--tps", "inf"], "not a finite number"),
        (["model", "FILE", "--tps", "inf"], "not a finite number"),
        (["model", "FILE", "--tps", "10", "--exe", "nan"], "not a finite number"),
        (["model", "FILE", "--tps", "10", "--ttft", "inf"], "not a finite number"),
        (["model", "/nonexistent/x.py", "--tps", "10"], "no such file"),
        (["bench", "bundled", "--out", "OUT", "--tps", "inf"], "--tps"),
        (["bench", "bundled", "--out", "OUT", "--tps", "nan"], "--tps"),
        (["bench", "bundled", "--out", "OUT", "--timeout", "inf"], "not a finite number"),
        (["bench", "bundled"], "--out is required"),
        (["chunks", "FILE", "--example"], "not both"),
        (["nosuchcommand"], "No such command"),
        (["run", "hi"], "Missing option '--model'"),
    ],
)
def test_click_and_number_errors_are_one_line(args: list[str], needle: str, ok_file: Path, tmp_path: Path) -> None:
    args = [str(ok_file) if a == "FILE" else str(tmp_path / "out") if a == "OUT" else a for a in args]
    one_error_line(invoke(*args), needle)


def test_library_usage_errors_are_one_line() -> None:
    """UnknownOptionError and MissingExtraError raised anywhere below a command: one line, 2."""
    import click

    from eagerexec import MissingExtraError, UnknownOptionError
    from eagerexec.cli._errors import EagerGroup

    @click.group(cls=EagerGroup)
    def group() -> None:
        pass

    @group.command("opt")
    def opt() -> None:
        raise UnknownOptionError("open_backend('local')", ["timeot"], ["timeout", "python"])

    @group.command("extra")
    def extra() -> None:
        raise MissingExtraError("the docker backend", "docker", "docker")

    res = CliRunner().invoke(group, ["opt"], catch_exceptions=False)
    one_error_line(res, "unknown option 'timeot' (valid: python, timeout)")
    res = CliRunner().invoke(group, ["extra"], catch_exceptions=False)
    one_error_line(res, "pip install 'eagerexec[docker]'")


def test_backend_that_refuses_an_option_is_one_line(ok_file: Path) -> None:
    res = invoke("replay", str(ok_file), "--backend", "jupyter", "--python", "/no/python")
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert res.stderr.count("eager: error: ") == 1


# -- `eager replay FILE` exits as `python FILE` would ------------------------------------------------


@pytest.mark.parametrize(
    ("program", "status"),
    [
        ("print('fine')\n", 0),
        ("print('a')\nraise KeyError('k')\n", 1),
        ("import sys\nprint('a')\nsys.exit(3)\nprint('b')\n", 3),
        ("import sys\nsys.exit(0)\n", 0),
        ("import sys\nsys.exit('bye')\n", 1),
        ("x = 1\ndef f(:\n    pass\n", 1),
    ],
)
@pytest.mark.parametrize("mode", ["eager", "serial"])
def test_replay_exit_status_is_pythons(program: str, status: int, mode: str, tmp_path: Path) -> None:
    path = tmp_path / "p.py"
    path.write_text(program)
    res = invoke("replay", str(path), "--tps", "5000", "--mode", mode, "--json")
    assert res.exit_code == status, res.output
    assert "eager: error" not in res.stderr
    run = json.loads(res.stdout)["runs"][mode]
    if status and "sys.exit" in program:
        assert run["exit_code"] == status
        assert "SystemExit" not in res.stderr  # python prints no traceback for sys.exit


def test_replay_sys_exit_message_shows_once(tmp_path: Path) -> None:
    path = tmp_path / "p.py"
    path.write_text("import sys\nsys.exit('bye')\n")
    res = invoke("replay", str(path), "--tps", "5000", "--mode", "eager")
    assert res.exit_code == 1
    assert res.output.count("bye") == 1 and "error: SystemExit" not in res.output


def test_replay_both_modes_exit_with_eagers_status(tmp_path: Path) -> None:
    path = tmp_path / "p.py"
    path.write_text("import sys\nprint('x')\nsys.exit(4)\n")
    res = invoke("replay", str(path), "--tps", "5000", "--json")
    assert res.exit_code == 4
    runs = json.loads(res.stdout)["runs"]
    assert runs["serial"]["exit_code"] == runs["eager"]["exit_code"] == 4
    assert "warning" not in res.stderr  # both modes agree


def test_exit_status_rules() -> None:
    from test_timeline import make_result

    from eagerexec.cli._replay import disagreement, exit_status, program_status

    ok = make_result("eager")
    raised = make_result("serial", fail=True)
    exited = dataclasses.replace(ok, exit_code=256 + 7)
    assert program_status(ok) == 0 and program_status(raised) == 1 and program_status(exited) == 7
    assert exit_status({"serial": raised, "eager": ok}) == 0  # eager's
    assert exit_status({"serial": raised}) == 1 and exit_status({}) == 0
    assert disagreement({"serial": raised, "eager": ok}) == (
        "serial and eager exit statuses differ: serial 1, eager 0 (exiting with eager's)"
    )
    assert disagreement({"serial": ok, "eager": dataclasses.replace(ok, mode="serial")}) is None


def test_replay_process_exit_status(tmp_path: Path) -> None:
    """The real process (not CliRunner) exits with the program's status."""
    path = tmp_path / "p.py"
    path.write_text("import sys\nsys.exit(5)\n")
    proc = subprocess.run(
        [sys.executable, "-m", "eagerexec.cli", "replay", str(path), "--tps", "5000", "--mode", "eager"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 5, proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "eagerexec.cli", "replay", str(path), "--tps", "inf"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and proc.stderr.startswith("eager: error: ")


# -- the views read the typed events -----------------------------------------------------------------

VIEW_PROGRAM = "import math\nx = math.sqrt(16)\ndef f(v):\n    return v * 2\nprint(f(x))\n"


def splits(text: str, seed: int) -> list[list[str]]:
    """The text whole, one character at a time, and at random cut points."""
    rnd = random.Random(seed)
    cuts = sorted(rnd.sample(range(1, len(text)), 5))
    random_parts = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    return [[text], list(text), random_parts]


def synthetic_events(parts: list[str]) -> list[Any]:
    """The events of a run of VIEW_PROGRAM fed as ``parts``, built from the real chunker."""
    from eagerexec.chunker import Chunker
    from eagerexec.pipeline._events import (
        BatchEnded,
        BatchStarted,
        ChunkReady,
        DeltaReceived,
        GenerationStopped,
        OutputReceived,
        StateLost,
    )

    events: list[Any] = []
    chunker, offset, chunks = Chunker(), 0, []
    t = 0.0
    for part in parts:
        t += 0.01
        events.append(DeltaReceived(time=t, text=part, offset=offset))
        offset += len(part)
        for c in chunker.feed(part):
            events.append(ChunkReady(time=t, index=len(chunks), chunk=c, generated_at=t))
            chunks.append(c)
    for c in chunker.close():
        events.append(ChunkReady(time=t, index=len(chunks), chunk=c, generated_at=t))
        chunks.append(c)
    outcome = Outcome(stdout="8.0\n")
    idx = tuple(range(len(chunks)))
    events += [
        BatchStarted(time=t, index=0, chunks=idx, first_line=1, last_line=5),
        OutputReceived(time=t, stream="stdout", text="8.0\n", batch=0),
        OutputReceived(time=t, stream="stdout", text="tail\n", batch=0, skipped=1234),
        BatchEnded(time=t + 0.1, index=0, chunks=idx, outcome=outcome),
        StateLost(time=t + 0.2, reason="the session was restarted", batch=0),
        GenerationStopped(time=t + 0.3, reason="the program exited (3)"),
    ]
    return events


@pytest.mark.parametrize("way", [0, 1, 2], ids=["whole", "by-char", "random"])
def test_plain_view_reads_the_events(way: int) -> None:
    from eagerexec.cli._render import PlainView

    out = io.StringIO()
    view = PlainView(out)
    view.begin("t")
    for event in synthetic_events(splits(VIEW_PROGRAM, 7)[way]):
        view(event)
    text = out.getvalue()
    assert "chunk 1 ready  lines 1 (import)" in text
    assert "chunk 3 ready  lines 3-4 (definition)" in text or "lines 3-4" in text
    assert "run   chunk 1,2,3,4  lines 1-5" in text
    assert "    | 8.0\n" in text and "1234 characters dropped" in text and "    | tail\n" in text
    assert "state lost: the session was restarted" in text
    assert "generation stopped: the program exited (3)" in text
    assert view.t.text == VIEW_PROGRAM


@pytest.mark.parametrize("way", [0, 1, 2], ids=["whole", "by-char", "random"])
def test_live_view_streams_everything_into_the_scrollback(way: int) -> None:
    from rich.console import Console

    from eagerexec.cli._render import LiveView
    from eagerexec.pipeline._events import OutputReceived

    console = Console(file=io.StringIO(), width=100, height=20, force_terminal=False)
    view = LiveView(console)
    view.begin("eager · test")
    events = synthetic_events(splits(VIEW_PROGRAM, 11)[way])
    lines = [OutputReceived(time=1.0, stream="stdout", text=f"row {i}\n", batch=0) for i in range(40)]
    for event in [*events[:-3], *lines, *events[-3:]]:
        view(event)
    view.interrupted()
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    for n, row in enumerate(VIEW_PROGRAM.splitlines(), 1):  # each call's code, when it starts
        assert f"{n:4d} │ {row}" in shown
    rows = [line for line in shown.splitlines() if line.startswith("row ")]
    assert rows == [f"row {i}" for i in range(40)]  # all of it, in order, not the last few lines
    assert "8.0\n" in shown and "1234 characters dropped" in shown and "\ntail\n" in shown
    assert "state lost: the session was restarted" in shown
    assert "generation stopped: the program exited (3)" in shown
    assert "interrupted: eager · test: stopped after" in shown
    assert view.t.text == VIEW_PROGRAM
