"""The terminal and the output (issue 14): complete output live and on a pipe, the one output
limit (``--max-output``), ``--timeout``, Ctrl-C (a real SIGINT to a real ``eager`` process) and
JSON that is always valid."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from openai_server import OpenAIServer, Script

from eagerexec.cli import main

FLOOD = (
    "import sys\n"
    "for i in range(300):\n"
    "    print(f'line {i:04d}')\n"
    "print('to stderr', file=sys.stderr)\n"
    "print('THE END')\n"
)
"""~3 KB of stdout, more than a 200-character limit keeps."""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def strict_json(text: str) -> Any:
    """Parse ``text`` as RFC 8259 JSON: ``Infinity`` and ``NaN`` are refused."""

    def refuse(name: str) -> Any:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def flood(tmp_path: Path) -> Path:
    p = tmp_path / "flood.py"
    p.write_text(FLOOD)
    return p


# -- the output limit: head and tail, in every mode ------------------------------------------------


def test_max_output_keeps_head_and_tail_in_both_modes(flood: Path) -> None:
    res = invoke("replay", str(flood), "--tps", "2000", "--max-output", "200", "--json")
    assert res.exit_code == 0, res.output
    runs = strict_json(res.stdout)["runs"]
    serial, eager = runs["serial"], runs["eager"]
    for run in (serial, eager):
        assert run["stdout"].startswith("line 0000\nline 0001\n")
        assert run["stdout"].endswith("line 0299\nTHE END\n")  # the end of a flood is not lost
        assert "characters of output dropped" in run["stdout"]
        assert len(run["stdout"]) < 400 and run["output_dropped"] > 2000
        assert run["stderr"] == "to stderr\n"
    assert serial["stdout"] == eager["stdout"] and serial["output_dropped"] == eager["output_dropped"]


def test_default_output_limit_keeps_everything(flood: Path) -> None:
    res = invoke("replay", str(flood), "--tps", "2000", "--mode", "eager", "--json")
    run = strict_json(res.stdout)["runs"]["eager"]
    assert run["output_dropped"] == 0
    assert run["stdout"] == "".join(f"line {i:04d}\n" for i in range(300)) + "THE END\n"


def test_plain_view_is_complete_on_a_pipe(flood: Path) -> None:
    res = invoke("replay", str(flood), "--tps", "2000", "--mode", "eager", "--max-output", "200")
    assert res.exit_code == 0, res.output
    shown = [line[6:] for line in res.stdout.splitlines() if line.startswith("    | ")]
    # stdout is block-buffered on a pipe, as under python: stderr may come first
    assert [line for line in shown if line != "to stderr"][:3] == ["line 0000", "line 0001", "line 0002"]
    assert "to stderr" in shown  # streams are not mixed into each other's lines
    assert shown[-2:] == ["line 0299", "THE END"]  # the tail, from the result
    assert any("characters of output dropped" in line for line in shown)
    assert "\x1b[" not in res.stdout  # no terminal codes on a pipe


def test_plain_view_shows_everything_under_the_limit(tmp_path: Path) -> None:
    prog = tmp_path / "p.py"
    prog.write_text("for i in range(50):\n    print('row', i)\nprint('no newline', end='')\n")
    res = invoke("replay", str(prog), "--tps", "2000", "--mode", "eager")
    shown = [line[6:] for line in res.stdout.splitlines() if line.startswith("    | ")]
    assert shown == [f"row {i}" for i in range(50)] + ["no newline"]


def test_live_view_of_a_real_run_shows_all_output_figures_and_the_tail(tmp_path: Path) -> None:
    """A real session drives the rich view: the scrollback holds every line kept, in order."""
    from rich.console import Console

    from eagerexec.cli._render import LiveView
    from eagerexec.cli._replay import replay_modes

    program = (
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "for i in range(60):\n    print('row', i)\n"
        "plt.plot([1, 2, 3])\nprint('last line')\n"
    )
    console = Console(file=io.StringIO(), width=120, height=20, force_terminal=False)
    view = LiveView(console)
    runs = replay_modes(
        program,
        modes=("eager",),
        tps=2000,
        ttft=0.0,
        backend="local",
        view=view,
        options={"max_output": 300},
    )
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    result = runs.results["eager"]
    assert result.output_dropped > 0 and not runs.interrupted
    rows = [line for line in shown.splitlines() if line.startswith("row ")]
    assert rows[:10] == [f"row {i}" for i in range(10)]  # the head, live
    assert rows[-1] == "row 59" and "last line" in shown.splitlines()  # the tail, at the end
    # where the tail starts (whether the limit is also announced live depends on how the output
    # arrives in pieces; the synthetic-event tests in test_cli.py check that line)
    assert "characters of output dropped" in shown
    assert result.figures and all(f"figure saved: {path}" in shown for path in result.figures)
    assert "   4 │ for i in range(60):" in shown  # the code that ran


# -- --timeout ---------------------------------------------------------------------------------------


def test_timeout_interrupts_a_statement_and_exits_1(tmp_path: Path) -> None:
    prog = tmp_path / "hang.py"
    prog.write_text("import time\nprint('a', flush=True)\ntime.sleep(60)\nprint('b')\n")
    res = invoke("replay", str(prog), "--tps", "2000", "--timeout", "0.5", "--json")
    assert res.exit_code == 1, res.output
    for run in strict_json(res.stdout)["runs"].values():
        assert run["stdout"] == "a\n"
        assert run["error"]["type"] == "TimeoutError"


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan", "soon", "1e300"])
def test_timeout_is_validated(value: str, flood: Path) -> None:
    res = invoke("replay", str(flood), "--timeout", value)
    assert res.exit_code == 2 and res.stderr.startswith("eager: error: ") and res.stderr.count("\n") == 1


@pytest.mark.parametrize("value", ["0", "1", "1.5", "inf", "nan", "-5", "lots"])
def test_max_output_is_validated(value: str, flood: Path) -> None:
    res = invoke("replay", str(flood), "--max-output", value)
    assert res.exit_code == 2 and res.stderr.startswith("eager: error: ") and res.stderr.count("\n") == 1
    assert "--max-output" in res.stderr


@pytest.mark.parametrize("command", [["demo"], ["run", "x", "--model", "m"]])
def test_demo_and_run_take_the_same_options(command: list[str]) -> None:
    res = invoke(*command, "--max-output", "1", "--timeout", "5")
    assert res.exit_code == 2 and "--max-output" in res.stderr


def test_max_output_accepts_exponent_notation(flood: Path) -> None:
    res = invoke("replay", str(flood), "--tps", "2000", "--mode", "eager", "--max-output", "2e2", "--json")
    assert res.exit_code == 0
    assert strict_json(res.stdout)["runs"]["eager"]["output_dropped"] > 0


# -- Ctrl-C: a real SIGINT to a real process -----------------------------------------------------------

SLOW = "import time\nprint('started', flush=True)\ntime.sleep(60)\nprint('never')\nx = 1\ny = 2\n"


def _session_processes(sid: int) -> list[str]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,sid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.split()[1:2] == [str(sid)]]


def _leftovers(tmp: Path) -> list[Path]:
    """The session directories left in ``tmp`` (caches of tokenizers are not the run's)."""
    return [p for p in tmp.iterdir() if p.name.startswith("eager")]


def _interrupt(argv: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> tuple[int, str, str, float]:
    """Start ``argv``, wait for the program's ``started``, send SIGINT; return status, stdout,
    stderr and the seconds from the signal to the exit."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "TMPDIR": str(tmp), **(env or {})},
    )
    assert proc.stdout is not None
    seen = ""
    try:
        deadline = time.monotonic() + 60
        while "started" not in seen and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
        assert "started" in seen, seen + (proc.stderr.read() if proc.stderr else "")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert _session_processes(proc.pid) == []  # no worker left behind
    assert _leftovers(tmp) == []  # the sessions' temporary directories are gone
    return proc.returncode, seen + out, err, took


def test_ctrl_c_stops_replay_and_exits_130(tmp_path: Path) -> None:
    prog = tmp_path / "slow.py"
    prog.write_text(SLOW)
    argv = [sys.executable, "-m", "eagerexec.cli", "replay", str(prog), "--tps", "50", "--mode", "eager"]
    status, out, err, took = _interrupt(argv, tmp_path)
    assert status == 130, (out, err)
    assert took < 5  # the issue asks for 1 s; generous on a loaded machine
    assert "    | started" in out and "never" not in out.replace("print('never')", "")
    assert "interrupted: eager · local" in out
    # eager's own Ctrl-C leaves no traceback of eager's (the program's KeyboardInterrupt, shown
    # where python shows it, is the program's output)
    assert "/eagerexec/" not in err and "asyncio" not in err


def test_ctrl_c_with_json_prints_valid_json_of_the_run_so_far(tmp_path: Path) -> None:
    prog = tmp_path / "slow.py"
    prog.write_text("print('started', flush=True)\n" + SLOW)
    argv = [sys.executable, "-m", "eagerexec.cli", "replay", str(prog), "--tps", "50", "--json"]
    # --json prints nothing before the end: wait for the program's file instead of its output
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    try:
        deadline = time.monotonic() + 60
        # serial runs first: generation takes about a second, then the program starts
        while time.monotonic() < deadline and not any(tmp.rglob("program.py")):
            time.sleep(0.05)
        time.sleep(2.0)  # into serial's sleep (which lasts a minute)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    doc = strict_json(out)
    assert doc["runs"] == {}
    partial = doc["interrupted"]
    assert partial["mode"] == "serial" and partial["code"].startswith("print('started'")
    assert partial["stdout"].startswith("started\n")
    assert err.startswith("eager: interrupted: serial")
    assert _session_processes(proc.pid) == [] and _leftovers(tmp) == []


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as s:
        yield s


def test_ctrl_c_stops_run_and_prints_the_code_so_far(server: OpenAIServer, tmp_path: Path) -> None:
    code = "print('started', flush=True)\nimport time\ntime.sleep(60)\nprint('never')\n" + "x = 1\n" * 40
    text = f"```python\n{code}```\n"
    server.push(Script(content=[text[i : i + 6] for i in range(0, len(text), 6)], delay=0.05))
    argv = [
        sys.executable, "-m", "eagerexec.cli", "run", "slow", "--model", "m",
        "--base-url", server.base_url, "--api-key", "k",
    ]  # fmt: skip
    status, out, err, took = _interrupt(argv, tmp_path)
    assert status == 130, (out, err)
    assert took < 5
    assert "    | started" in out and "--- program so far ---" in out
    so_far = out.split("--- program so far ---")[1]
    assert so_far.startswith("\nprint('started', flush=True)\n") and "```" not in so_far


# -- JSON is always valid -------------------------------------------------------------------------------


def test_dumps_maps_non_finite_numbers_to_null() -> None:
    from eagerexec.cli._errors import dumps

    doc = {"a": float("inf"), "b": [float("nan"), 1.5, (float("-inf"), "x")], "c": {"d": 2}}
    assert strict_json(dumps(doc)) == {"a": None, "b": [None, 1.5, [None, "x"]], "c": {"d": 2}}


@pytest.mark.parametrize(
    "extra",
    [["--tps", "1e-300", "--exe", "1e300"], ["--tps", "1e300", "--setup", "1e300", "--exe", "1e300"]],
)
def test_model_json_is_valid_for_extreme_numbers(extra: list[str], tmp_path: Path) -> None:
    prog = tmp_path / "p.py"
    prog.write_text("import math\nx = math.sqrt(2)\nprint(x)\n")
    res = invoke("model", str(prog), *extra, "--json")
    assert res.exit_code == 0, res.output
    strict_json(res.stdout)


def test_replay_json_is_strict_json(flood: Path) -> None:
    res = invoke("replay", str(flood), "--tps", "1e9", "--mode", "eager", "--json")
    assert res.exit_code == 0
    assert strict_json(res.stdout)["runs"]["eager"]["tps"] == 1e9


def test_chunks_json_lines_are_strict_json(flood: Path) -> None:
    res = invoke("chunks", str(flood), "--json")
    assert res.exit_code == 0
    kinds = [strict_json(line)["kind"] for line in res.stdout.splitlines()]
    assert kinds[:2] == ["import", "statement"]


# -- exit statuses: the one python would give -----------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [("print('ok')\n", 0), ("import sys\nsys.exit(4)\n", 4), ("raise ValueError('x')\n", 1)],
)
def test_run_exits_as_python_would(code: str, status: int, server: OpenAIServer) -> None:
    text = f"```python\n{code}```\n"
    server.push(Script(content=[text[i : i + 5] for i in range(0, len(text), 5)]))
    res = invoke("run", "x", "--model", "m", "--base-url", server.base_url, "--api-key", "k", "--json")
    assert res.exit_code == status, res.output
    assert strict_json(res.stdout)["runs"]["eager"]["exit_code"] == (4 if status == 4 else None)


def test_replay_summary_says_what_the_output_limit_dropped(flood: Path) -> None:
    res = invoke("replay", str(flood), "--tps", "2000", "--max-output", "100")
    assert res.exit_code == 0
    assert "output limit: characters dropped between head and tail: serial " in res.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminal test")
def test_ctrl_c_typed_on_a_terminal_stops_the_live_view(tmp_path: Path) -> None:
    """A real terminal: ^C typed on it signals the whole foreground group; the live view's run
    stops, the output so far stays in the scrollback, and eager exits 130."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    prog = tmp_path / "ticks.py"
    prog.write_text(
        "import time\nfor i in range(5):\n    print('tick', i, flush=True)\n    time.sleep(0.05)\n"
        "time.sleep(60)\nprint('never')\n"
    )
    pid, fd = pty.fork()
    if pid == 0:  # the child: eager on the terminal
        os.execv(sys.executable, [sys.executable, "-m", "eagerexec.cli", "replay", str(prog), "--tps", "200", "--mode", "eager"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    screen, sent = b"", None
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                screen += data
            if sent is None and b"tick 4" in screen:
                os.write(fd, b"\x03")
                sent = time.monotonic()
        _, wait_status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert sent is not None, screen.decode(errors="replace")
    took = time.monotonic() - sent
    assert os.waitstatus_to_exitcode(wait_status) == 130
    assert took < 5
    text = screen.decode(errors="replace")
    assert all(f"tick {i}" in text for i in range(5))
    assert "interrupted: eager · local" in text and "/eagerexec/" not in text and "asyncio" not in text
