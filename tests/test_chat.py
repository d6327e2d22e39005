"""`eager chat` against the loopback OpenAI-compatible server: the agent loop end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner, Result
from openai_server import OpenAIServer, Script
from streams import SPLITS
from streams import split as _split

from eagerexec.cli import main


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as s:
        yield s


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # the program's default workdir: the current directory


def chat(server: OpenAIServer, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["chat", "--model", "m", "--base-url", server.base_url, *args], catch_exceptions=False
    )



def split(text: str, how: str, seed: int = 0) -> list[str]:
    return _split(text, how, seed, longest=7)




def tool_call(code: str, how: str = "whole", **kw: object) -> Script:
    return Script(tool_args=split(json.dumps({"code": code}), how), **kw)  # type: ignore[arg-type]


def messages(server: OpenAIServer, n: int) -> list[dict[str, object]]:
    return server.requests[n].body["messages"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("how", SPLITS)
def test_tool_calls_keep_state_across_turns(server: OpenAIServer, how: str) -> None:
    server.push(
        tool_call("x = 6 * 7\nprint('x is', x)\n", how),
        tool_call("import math\nprint(x + 1, math.floor(2.5))", how),
        Script(content=split("The answer is 43.", how)),
    )
    res = chat(server, "--once", "compute")
    assert res.exit_code == 0, res.output
    assert "The answer is 43." in res.output
    second = messages(server, 1)
    assert second[-1]["role"] == "tool" and second[-1]["content"] == "x is 42"
    assert second[-2]["role"] == "assistant" and second[-2]["tool_calls"]  # type: ignore[index]
    assert messages(server, 2)[-1]["content"] == "43 2"
    assert server.requests[0].body["tools"][0]["function"]["name"] == "run_python"


def test_error_stops_the_stream_and_reaches_the_model(server: OpenAIServer) -> None:
    code = "y = 1\nprint('before')\n1 / 0\n" + "print('never')\n" * 300
    pieces = split(json.dumps({"code": code}), "random")
    server.push(
        Script(tool_args=pieces, delay=0.02),
        tool_call("print('y still', y)"),
        Script(content=["Done: division by zero fixed."]),
    )
    res = chat(server, "--once", "go")
    assert res.exit_code == 0, res.output
    first = server.requests[0]
    assert first.done.wait(5)
    assert not first.completed  # the model's stream was closed early
    assert first.pieces_sent < len(pieces) // 2
    result = messages(server, 1)[-1]["content"]
    assert isinstance(result, str)
    assert "before" in result and "ZeroDivisionError: division by zero" in result
    assert "line 3: 1 / 0" in result and "never" not in result
    assert messages(server, 2)[-1]["content"] == "y still 1"


def test_fenced_code_runs_and_output_is_the_next_message(server: OpenAIServer) -> None:
    server.push(
        Script(content=split("Let me compute.\n```python\nz = [1, 2, 3]\nprint(sum(z))\n```\n", "chars")),
        Script(content=split("```python\nprint(len(z))\n```", "random")),
        Script(content=["Sum 6, length 3."]),
    )
    res = chat(server, "--once", "sum")
    assert res.exit_code == 0, res.output
    assert messages(server, 1)[-1] == {"role": "user", "content": "Output of your code:\n6"}
    assert messages(server, 2)[-1] == {"role": "user", "content": "Output of your code:\n3"}


def test_max_turns_ends_the_loop_with_status_1(server: OpenAIServer) -> None:
    server.push(*(tool_call(f"print({i})") for i in range(3)))
    res = chat(server, "--once", "--max-turns", "2", "loop")
    assert res.exit_code == 1
    assert "--max-turns 2" in res.output
    assert len(server.requests) == 2


@pytest.mark.parametrize("status", [401, 429, 500])
def test_refused_request_one_line_transcript_kept(server: OpenAIServer, tmp_path: Path, status: int) -> None:
    save = tmp_path / "chat.jsonl"
    server.push(tool_call("a = 5\nprint(a)"), Script(status=status, error_message="nope"), Script(status=status))
    res = chat(server, "--once", "--save", str(save), "go")
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eager: error: HTTP ") and str(status) in lines[0]
    saved = [json.loads(line) for line in save.read_text().splitlines()]
    assert [m["role"] for m in saved] == ["system", "user", "assistant", "tool"]
    assert saved[-1]["content"] == "5"


@pytest.mark.parametrize("fault", ["drop_after", "malformed_after", "error_event_after"])
def test_broken_stream_is_one_line_and_exit_1(server: OpenAIServer, fault: str) -> None:
    server.push(Script(content=["Thinking ", "about ", "it"], **{fault: 2}))  # type: ignore[arg-type]
    res = chat(server, "--once", "go")
    assert res.exit_code == 1
    assert len(res.stderr.strip().splitlines()) == 1 and "eager: error:" in res.stderr


def test_save_and_resume_rebuild_the_state(server: OpenAIServer, tmp_path: Path) -> None:
    save = tmp_path / "chat.jsonl"
    server.push(tool_call("secret = 'kept'\nopen('f.txt', 'w').write('file')"), Script(content=["Stored."]))
    assert chat(server, "--once", "--save", str(save), "store").exit_code == 0
    server.push(tool_call("print(secret)"), Script(content=["It was kept."]))
    res = chat(server, "--once", "--resume", str(save), "--save", str(save), "what was it?")
    assert res.exit_code == 0, res.output
    assert "re-ran 1 code blocks" in res.output
    assert messages(server, 3)[-1]["content"] == "kept"
    roles = [json.loads(line)["role"] for line in save.read_text().splitlines()]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user", "assistant", "tool", "assistant"]


def test_the_key_never_reaches_the_program(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    server.push(
        tool_call("import os\nprint(os.environ.get('OPENAI_API_KEY'))"),
        Script(content=["ok"]),
    )
    res = chat(server, "--once", "env")
    assert res.exit_code == 0, res.output
    assert server.requests[0].headers["authorization"] == "Bearer sk-test-secret"
    assert messages(server, 1)[-1]["content"] == "None"


def test_json_output(server: OpenAIServer) -> None:
    server.push(tool_call("print('hi')"), Script(content=["bye"]))
    res = chat(server, "--once", "--json", "x")
    assert res.exit_code == 0
    out = json.loads(res.output)
    assert out["ended"] == "answer" and out["turns"][0]["runs"][0]["stdout"] == "hi\n"
    assert out["messages"][-1] == {"role": "assistant", "content": "bye"}


def test_usage_errors(server: OpenAIServer) -> None:
    res = chat(server, "--once")
    assert res.exit_code == 2 and "--once needs a PROMPT" in res.stderr


def test_server_without_tools_falls_back_to_fences(server: OpenAIServer) -> None:
    server.push(
        Script(status=400, error_message="tools are not supported by this model"),
        Script(content=split("```python\nprint(2 ** 10)\n```", "random")),
        Script(content=["1024"]),
    )
    res = chat(server, "--once", "pow")
    assert res.exit_code == 0, res.output
    assert "fenced blocks" in res.output
    assert "tools" in server.requests[0].body and "tools" not in server.requests[1].body
    assert messages(server, 2)[-1]["content"] == "Output of your code:\n1024"


def test_fenced_error_stops_the_stream(server: OpenAIServer) -> None:
    answer = "Here:\n```python\nq = 3\nprint(q)\nq.missing\n" + "print('never')\n" * 300 + "```\n"
    pieces = split(answer, "random")
    server.push(Script(content=pieces, delay=0.02), Script(content=["q is 3"]))
    res = chat(server, "--once", "q")
    assert res.exit_code == 0, res.output
    assert server.requests[0].done.wait(5) and not server.requests[0].completed
    assert server.requests[0].pieces_sent < len(pieces) // 2
    back = messages(server, 1)[-1]["content"]
    assert isinstance(back, str) and back.startswith("Output of your code:\n3\n[error]\nAttributeError")
    assert "never" not in back


def test_interactive_follow_ups_share_state(server: OpenAIServer) -> None:
    server.push(tool_call("n = 10"), Script(content=["set"]), tool_call("print(n * 2)"), Script(content=["20"]))
    res = CliRunner().invoke(
        main, ["chat", "--model", "m", "--base-url", server.base_url, "set n"], input="double it\n", catch_exceptions=False
    )
    assert res.exit_code == 0, res.output
    assert messages(server, 2)[-1] == {"role": "user", "content": "double it"}
    assert messages(server, 3)[-1]["content"] == "20"


def test_env_passes_only_the_named_variables(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EAGER_CHAT_GIVEN", "given")
    monkeypatch.setenv("EAGER_CHAT_OTHER", "other")
    server.push(
        tool_call("import os\nprint(os.environ.get('EAGER_CHAT_GIVEN'), os.environ.get('EAGER_CHAT_OTHER'))"),
        Script(content=["ok"]),
    )
    res = chat(server, "--once", "--env", "EAGER_CHAT_GIVEN", "env")
    assert res.exit_code == 0, res.output
    assert messages(server, 1)[-1]["content"] == "given None"


def test_the_key_reaches_the_program_only_when_named(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    server.push(tool_call("import os\nprint(os.environ.get('OPENAI_API_KEY'))"), Script(content=["ok"]))
    res = chat(server, "--once", "--env", "OPENAI_API_KEY", "key")
    assert res.exit_code == 0, res.output
    assert server.requests[0].headers["authorization"] == "Bearer sk-test-secret"
    assert messages(server, 1)[-1]["content"] == "sk-test-secret"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--env", "EAGER_CHAT_NOT_SET"], "--env EAGER_CHAT_NOT_SET: no such variable in the environment"),
        (["--backend", "local", "--network"], "--network applies to the sandbox and docker backends"),
        (["--workdir", "missing-dir"], "missing-dir"),
    ],
)
def test_bad_env_network_and_workdir_are_one_line_and_exit_2(server: OpenAIServer, args: list[str], says: str) -> None:
    res = chat(server, "--once", *args, "go")
    assert res.exit_code == 2
    assert says in res.stderr and not server.requests
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("eager: error:"), res.stderr


def test_network_gives_the_sandbox_the_hosts_network(server: OpenAIServer) -> None:
    address = urlsplit(server.base_url)
    code = (
        f"import socket\ntry:\n    socket.create_connection(({address.hostname!r}, {address.port}), timeout=5).close()\n"
        "    print('reached')\nexcept OSError:\n    print('no network')\n"
    )
    server.push(tool_call(code), Script(content=["done"]), tool_call(code), Script(content=["done"]))
    assert chat(server, "--once", "net").exit_code == 0
    assert messages(server, 1)[-1]["content"] == "no network"
    res = chat(server, "--once", "--network", "net")
    assert res.exit_code == 0, res.output
    assert messages(server, 3)[-1]["content"] == "reached"


def test_the_program_runs_in_the_current_directory_or_workdir(server: OpenAIServer, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    other = tmp_path / "other"
    other.mkdir()
    (other / "data.csv").write_text("c\n")
    code = "print(open('data.csv').read().split()[0])\nopen('out.txt', 'w').write('kept')"
    server.push(tool_call(code), Script(content=["ok"]), tool_call(code), Script(content=["ok"]))
    assert chat(server, "--once", "read").exit_code == 0
    assert messages(server, 1)[-1]["content"] == "a,b"
    assert chat(server, "--once", "--workdir", str(other), "read").exit_code == 0
    assert messages(server, 3)[-1]["content"] == "c"
    assert (tmp_path / "out.txt").read_text() == "kept" and (other / "out.txt").read_text() == "kept"


@pytest.mark.parametrize("how", SPLITS)
def test_notebook_values_reach_the_model(server: OpenAIServer, how: str) -> None:
    server.push(tool_call("x = [3, 1, 2]\nprint('sorted:')\nsorted(x)\n", how), Script(content=["ok"]))
    res = chat(server, "--once", "--notebook", "show")
    assert res.exit_code == 0, res.output
    assert messages(server, 1)[-1]["content"] == "sorted:\n[1, 2, 3]"


def test_json_lists_the_outputs_as_mime_bundles(server: OpenAIServer) -> None:
    server.push(tool_call("print('p')\n6 * 7\n"), Script(content=["bye"]))
    res = chat(server, "--once", "--json", "--notebook", "x")
    assert res.exit_code == 0, res.output
    run = json.loads(res.output)["turns"][0]["runs"][0]
    assert run["outputs"] == [
        {"type": "stdout", "data": {"text/plain": "p\n"}},
        {"type": "result", "data": {"text/plain": "42"}},
    ]


def test_a_flood_of_displayed_values_is_bounded_and_said(server: OpenAIServer) -> None:
    server.push(tool_call("for i in range(3000):\n    display('v%04d' % i)\n"), Script(content=["ok"]))
    res = chat(server, "--once", "--notebook", "flood")
    assert res.exit_code == 0, res.output
    assert res.output.count("displayed values dropped by the output limit") == 1
    back = messages(server, 1)[-1]["content"]
    assert isinstance(back, str) and len(back) < 40_000
    assert back.startswith("'v0000'") and back.endswith("'v2999'") and "outputs (" in back
