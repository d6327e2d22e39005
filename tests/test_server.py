"""eager serve in-process (Starlette's TestClient): protocol, auth, limits, bad input, cleanup."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("starlette")
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect
from streams import cut

from eagerexec.pipeline import run as run_program
from eagerexec.server import ServerConfig, create_app
from eagerexec.server._protocol import Phase, ProgramState, parse_client

pytestmark = pytest.mark.timeout(60)

REPLAY_KEYS = run_program("print(1)\n", backend="local").to_dict().keys()  # what `eager replay --json` prints

AUTH = {"Authorization": "Bearer secret"}
PROGRAM = "x = 6 * 7\nprint(x)\nfor i in range(2):\n    print(i)\n\nprint('end')\n"


def make(**options: Any) -> TestClient:
    options.setdefault("backend", "local")
    options.setdefault("tokens", ("secret",))
    return TestClient(create_app(ServerConfig(**options)))


def pieces(text: str, how: str) -> list[str]:
    return cut(text, how)


def until_result(ws: Any) -> list[dict[str, Any]]:
    msgs = []
    while True:
        msg = ws.receive_json()
        msgs.append(msg)
        if msg["type"] == "result":
            return msgs


def send_program(ws: Any, deltas: list[str]) -> list[dict[str, Any]]:
    for d in deltas:
        ws.send_json({"type": "delta", "text": d})
    ws.send_json({"type": "end"})
    return until_result(ws)


def stdout(msgs: list[dict[str, Any]]) -> str:
    return "".join(m["text"] for m in msgs if m["type"] == "output" and m["stream"] == "stdout")


def children() -> set[int]:
    """Pids of this process's live children."""
    me, kids = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == me and fields[0] != "Z":
                kids.add(int(entry.name))
    return kids


def eventually(check: Any, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return bool(check())


@pytest.fixture
def client() -> Iterator[TestClient]:
    with make() as c:
        yield c


# -- the protocol, sans-IO -----------------------------------------------------------------------


def test_parse_client_messages() -> None:
    assert parse_client('{"type": "delta", "text": "x"}').text == "x"  # type: ignore[union-attr]
    assert type(parse_client('{"type": "end"}')).__name__ == "End"
    for bad, words in [("{", "malformed JSON"), ("[1]", "JSON object"), ('{"type": "eval"}', "unknown message type"),
                       ('{"type": "delta"}', "needs 'text'"), ('{"type": "delta", "text": 3}', "needs 'text'")]:
        err = parse_client(bad)
        assert type(err).__name__ == "ProtocolError" and words in err.message  # type: ignore[union-attr]


def test_program_phases() -> None:
    state = ProgramState()
    assert state.on_delta() == "start" and state.on_delta() == "feed"
    state.on_stopped()
    assert state.phase is Phase.STOPPED and state.on_delta() == "drop"
    assert state.on_end() == "finish" and state.on_delta() == "error" and state.on_end() == "error"
    state.on_result()
    assert state.on_end() == "start_empty"


# -- HTTP ------------------------------------------------------------------------------------------


def test_healthz_needs_no_auth_and_openapi_describes_the_routes(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {"/healthz", "/v1/execute"}
    routes = {getattr(r, "path", None) for r in client.app.routes}  # type: ignore[attr-defined]
    assert set(schema["paths"]) <= routes


def test_execute_runs_a_whole_program_in_a_fresh_session(client: TestClient) -> None:
    r = client.post("/v1/execute", json={"code": PROGRAM}, headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert body["stdout"] == "42\n0\n1\nend\n" and body["error"] is None
    assert set(body) >= {"mode", "backend", "code", "metrics", "timeline", "state_lost", "output_dropped"}
    fresh = client.post("/v1/execute", json={"code": "print(x)"}, headers=AUTH).json()
    assert fresh["error"]["type"] == "NameError"


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [({}, {"code": "1"}, 401), ({"Authorization": "Bearer nope"}, {"code": "1"}, 401),
     ({"Authorization": "Basic secret"}, {"code": "1"}, 401), (AUTH, {"src": "1"}, 400), (AUTH, None, 400)],
)
def test_execute_refusals(client: TestClient, headers: dict[str, str], body: Any, status: int) -> None:
    r = client.post("/v1/execute", content=b"{nope" if body is None else json.dumps(body), headers=headers)
    assert r.status_code == status
    assert r.json()["error"]["message"]


def test_execute_body_larger_than_max_message_is_413() -> None:
    with make(max_message=100) as c:
        r = c.post("/v1/execute", json={"code": "#" * 200}, headers=AUTH)
        assert r.status_code == 413 and r.json()["error"]["type"] == "MessageTooBig"


# -- WebSocket: auth and streaming -----------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "secret"}])
def test_stream_refuses_a_missing_or_wrong_token_at_the_handshake(client: TestClient, headers: dict[str, str]) -> None:
    with pytest.raises(WebSocketDenialResponse) as info, client.websocket_connect("/v1/stream", headers=headers):
        pass
    assert info.value.status_code == 401


def test_no_token_configured_means_no_auth() -> None:
    with make(tokens=()) as c, c.websocket_connect("/v1/stream") as ws:
        assert stdout(send_program(ws, ["print(1)\n"])) == "1\n"


@pytest.mark.parametrize("how", ["whole", "chars", "random"])
def test_stream_sends_chunks_output_and_the_result(client: TestClient, how: str) -> None:
    with client.websocket_connect("/v1/stream", headers=AUTH) as ws:
        msgs = send_program(ws, pieces(PROGRAM, how))
    chunks = [m for m in msgs if m["type"] == "chunk"]
    assert "".join(c["text"] for c in chunks) == PROGRAM
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    assert chunks[0] == {"type": "chunk", "index": 0, "start_line": 1, "end_line": 1, "kind": "statement",
                         "text": "x = 6 * 7\n"}
    assert stdout(msgs) == "42\n0\n1\nend\n"
    result = msgs[-1]["result"]
    assert result["stdout"] == "42\n0\n1\nend\n" and result["code"] == PROGRAM and result["error"] is None
    assert not [m for m in msgs if m["type"] == "error"]
    # the same JSON as `eager replay --json`: every key of Result.to_dict()
    assert set(result) == set(REPLAY_KEYS)


def test_state_persists_across_programs_on_one_connection(client: TestClient) -> None:
    with client.websocket_connect("/v1/stream", headers=AUTH) as ws:
        send_program(ws, ["import math\nx = 40\n"])
        msgs = send_program(ws, ["print(x + 2, math.pi > 3)\n"])
        assert stdout(msgs) == "42 True\n"
        empty = send_program(ws, [])
        assert empty[-1]["result"]["code"] == "" and empty[-1]["result"]["error"] is None


def test_error_stops_at_once_and_the_rest_of_the_program_is_dropped(client: TestClient) -> None:
    with client.websocket_connect("/v1/stream", headers=AUTH) as ws:
        ws.send_json({"type": "delta", "text": "y = 1\nprint('a')\n1/0\n"})
        ws.send_json({"type": "delta", "text": "print"})
        msgs = []
        while not msgs or msgs[-1]["type"] != "error":  # the error arrives before the program ends
            msgs.append(ws.receive_json())
        error = msgs[-1]
        assert error["stop"] is True
        assert {k: error["error"][k] for k in ("type", "line", "line_text")} == {
            "type": "ZeroDivisionError", "line": 3, "line_text": "1/0"}
        assert "ZeroDivisionError" in error["error"]["traceback"]
        ws.send_json({"type": "delta", "text": "('never')\n"})  # the model was still writing: dropped
        ws.send_json({"type": "end"})
        rest = until_result(ws)
        assert not [m for m in rest if m["type"] == "error"]  # one error record per program
        result = rest[-1]["result"]
        assert result["stopped_early"] is True and result["error"]["type"] == "ZeroDivisionError"
        assert "never" not in result["stdout"]
        assert stdout(send_program(ws, ["print(y)\n"])) == "1\n"  # the session goes on


def test_syntax_error_is_an_error_record(client: TestClient) -> None:
    with client.websocket_connect("/v1/stream", headers=AUTH) as ws:
        msgs = send_program(ws, ["print(1)\nif x\n    pass\n"])
    errors = [m for m in msgs if m["type"] == "error"]
    assert len(errors) == 1 and errors[0]["error"]["type"] == "SyntaxError" and errors[0]["error"]["line"] == 2


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("frame", "words"), [("{not json", "malformed JSON"), ('{"type": "run"}', "unknown message type"),
                                              ('"delta"', "JSON object"), ('{"type": "delta", "text": 1}', "text")])
def test_bad_messages_get_an_error_record_and_the_connection_goes_on(client: TestClient, frame: str, words: str) -> None:
    with client.websocket_connect("/v1/stream", headers=AUTH) as ws:
        ws.send_text(frame)
        msg = ws.receive_json()
        assert msg["type"] == "error" and msg["stop"] is False and msg["error"]["type"] == "ProtocolError"
        assert words in msg["error"]["message"]
        assert stdout(send_program(ws, ["print('still here')\n"])) == "still here\n"


def test_a_delta_after_end_is_an_error_record(client: TestClient) -> None:
    with client.websocket_connect("/v1/stream", headers=AUTH) as ws:
        ws.send_json({"type": "delta", "text": "import time\ntime.sleep(0.5)\nprint('ok')\n"})
        ws.send_json({"type": "end"})
        ws.send_json({"type": "delta", "text": "print('too late')\n"})
        ws.send_json({"type": "end"})
        msgs = until_result(ws)
        errors = [m["error"]["message"] for m in msgs if m["type"] == "error"]
        assert any("after 'end'" in e for e in errors) and any("'end' twice" in e for e in errors)
        assert msgs[-1]["result"]["stdout"] == "ok\n"


def test_binary_frames_close_with_1003_and_the_server_stays_up(client: TestClient) -> None:
    with client.websocket_connect("/v1/stream", headers=AUTH) as ws:
        ws.send_bytes(b"\x00\x01")
        msg = ws.receive_json()
        assert msg["error"]["type"] == "ProtocolError" and "binary" in msg["error"]["message"]
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
        assert info.value.code == 1003
    assert client.get("/healthz").status_code == 200


def test_a_message_over_max_message_closes_with_1009() -> None:
    with make(max_message=1000) as c:
        with c.websocket_connect("/v1/stream", headers=AUTH) as ws:
            ws.send_json({"type": "delta", "text": "#" * 2000})
            assert ws.receive_json()["error"]["type"] == "MessageTooBig"
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_json()
            assert info.value.code == 1009
        with c.websocket_connect("/v1/stream", headers=AUTH) as ws:
            assert stdout(send_program(ws, ["print(3)\n"])) == "3\n"


# -- limits --------------------------------------------------------------------------------------------


def test_per_token_session_limit() -> None:
    with make(tokens=("secret", "other"), max_sessions_per_token=1) as c:
        with c.websocket_connect("/v1/stream", headers=AUTH) as first:
            with c.websocket_connect("/v1/stream", headers=AUTH) as second:
                msg = second.receive_json()
                assert msg["type"] == "error" and msg["error"]["type"] == "SessionLimit"
                with pytest.raises(WebSocketDisconnect) as info:
                    second.receive_json()
                assert info.value.code == 4429
            assert c.post("/v1/execute", json={"code": "1"}, headers=AUTH).status_code == 429
            with c.websocket_connect("/v1/stream", headers={"Authorization": "Bearer other"}) as third:
                assert stdout(send_program(third, ["print(2)\n"])) == "2\n"  # another token's own limit
            assert stdout(send_program(first, ["print(1)\n"])) == "1\n"
        with c.websocket_connect("/v1/stream", headers=AUTH) as again:  # the slot is free again
            assert stdout(send_program(again, ["print(4)\n"])) == "4\n"


def test_server_wide_session_limit() -> None:
    with make(tokens=("a", "b"), max_sessions=1) as c, c.websocket_connect("/v1/stream", headers={"Authorization": "Bearer a"}):
        with c.websocket_connect("/v1/stream", headers={"Authorization": "Bearer b"}) as ws:
            assert ws.receive_json()["error"]["type"] == "ServerBusy"


def test_statement_timeout_is_an_error_record_and_the_session_goes_on() -> None:
    with make(timeout=1.0) as c, c.websocket_connect("/v1/stream", headers=AUTH) as ws:
        msgs = send_program(ws, ["x = 5\nwhile True:\n    pass\n"])
        errors = [m for m in msgs if m["type"] == "error"]
        assert len(errors) == 1 and errors[0]["error"]["type"] == "TimeoutError"
        assert msgs[-1]["result"]["error"]["type"] == "TimeoutError"
        assert stdout(send_program(ws, ["print('alive')\n"])) == "alive\n"


def test_output_cap() -> None:
    with make(max_output=100) as c, c.websocket_connect("/v1/stream", headers=AUTH) as ws:
        msgs = send_program(ws, ["print('a' * 10000)\nprint('b')\n"])
        result = msgs[-1]["result"]
        assert result["output_dropped"] > 9000 and len(result["stdout"]) < 400
        assert result["stdout"].endswith("b\n")


def test_idle_ttl_closes_the_connection_with_a_record() -> None:
    with make(idle_ttl=0.3) as c, c.websocket_connect("/v1/stream", headers=AUTH) as ws:
        assert stdout(send_program(ws, ["print(1)\n"])) == "1\n"
        msg = ws.receive_json()
        assert msg["type"] == "error" and msg["error"]["type"] == "IdleTimeout"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
        assert info.value.code == 4408


# -- isolation and cleanup (the default backend, sandbox) ------------------------------------------------


@pytest.fixture
def sandboxed() -> Iterator[TestClient]:
    with make(backend="sandbox", memory=512 << 20) as c:
        yield c


def test_sessions_see_no_other_sessions_variables_or_files(sandboxed: TestClient) -> None:
    with sandboxed.websocket_connect("/v1/stream", headers=AUTH) as a, sandboxed.websocket_connect(
        "/v1/stream", headers=AUTH
    ) as b:
        ra = send_program(a, ["import os\nsecret = 1\nopen('mine.txt', 'w').write('a')\nprint(os.getcwd())\n"])
        rb = send_program(b, ["import os\nprint(os.getcwd())\nprint(os.path.exists('mine.txt'))\nprint(secret)\n"])
        cwd_a = stdout(ra).strip()
        assert stdout(rb).splitlines()[0] != cwd_a
        assert stdout(rb).splitlines()[1] == "False"
        assert rb[-1]["result"]["error"]["type"] == "NameError"


def test_memory_limit_is_an_error_record(sandboxed: TestClient) -> None:
    with sandboxed.websocket_connect("/v1/stream", headers=AUTH) as ws:
        msgs = send_program(ws, ["x = bytearray(2 << 30)\n"])
        assert msgs[-1]["result"]["error"]["type"] == "MemoryError"
        assert stdout(send_program(ws, ["print('ok')\n"])) == "ok\n"


def test_disconnect_mid_statement_kills_and_reaps_the_worker_and_removes_its_directory(sandboxed: TestClient) -> None:
    before = children()
    with sandboxed.websocket_connect("/v1/stream", headers=AUTH) as ws:
        ws.send_json({"type": "delta", "text": "import os, time\nprint(os.getcwd(), flush=True)\ntime.sleep(120)\n"})
        msg = ws.receive_json()
        while msg["type"] != "output":
            msg = ws.receive_json()
        workdir = Path(msg["text"].strip())
        assert workdir.is_dir() and children() - before
    # the client left mid-statement: nothing of its session outlives it
    assert eventually(lambda: not (children() - before)), children() - before
    assert eventually(lambda: not workdir.exists())
    assert sandboxed.get("/healthz").json() == {"status": "ok", "sessions": 0, "running": 0}


def test_a_figure_is_a_display_record_with_its_png(client: TestClient) -> None:
    pytest.importorskip("matplotlib")
    import base64

    with client.websocket_connect("/v1/stream", headers=AUTH) as ws:
        msgs = send_program(ws, ["import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
                                 "plt.plot([1, 2])\nplt.show()\n"])
    displays = [m for m in msgs if m["type"] == "display"]
    assert len(displays) == 1
    assert base64.b64decode(displays[0]["data"]["image/png"]).startswith(b"\x89PNG")


def test_config_checks_and_exposure() -> None:
    from eagerexec import UsageError
    from eagerexec.server._config import is_loopback

    for bad in ({"timeout": -1}, {"idle_ttl": float("inf")}, {"max_message": 0}, {"pool_size": -1},
                {"tokens": ("",)}, {"max_output": 1}):
        with pytest.raises(UsageError):
            ServerConfig(**bad)  # type: ignore[arg-type]
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "10.0.0.1", "::", "example.com"]))
    with pytest.raises(UsageError, match="without a token"):
        ServerConfig(host="0.0.0.0").check_exposure()
    ServerConfig(host="0.0.0.0", tokens=("t",)).check_exposure()
    assert ServerConfig(backend="sandbox", memory=1 << 30).session_options() == {
        "max_output": 100_000, "memory": 1 << 30, "spin": 0.0}
    assert "spin" not in ServerConfig(backend="jupyter").session_options()


@pytest.mark.parametrize(("args", "words"), [(["--memory", "lots"], "not a size"), (["--backend", "nope"], "nope"),
                                             (["--backend", "jupyter", "--memory", "1G"], "memory")])
def test_serve_usage_errors_are_one_line(args: list[str], words: str) -> None:
    from click.testing import CliRunner

    from eagerexec.cli import main

    result = CliRunner().invoke(main, ["serve", *args])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("eager: error:") and words in result.output


@given(st.one_of(st.text(), st.builds(json.dumps, st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.sampled_from(["type", "text", "x"]), inner), max_leaves=8))))
def test_parse_client_never_raises(frame: str) -> None:
    assert type(parse_client(frame)).__name__ in ("Delta", "End", "ProtocolError")


@given(st.lists(st.sampled_from(["delta", "end", "stopped", "result"]), max_size=30))
def test_program_state_actions_follow_the_phase(actions: list[str]) -> None:
    state = ProgramState()
    for action in actions:
        before = state.phase
        if action == "delta":
            got = state.on_delta()
            assert got == {Phase.IDLE: "start", Phase.STREAMING: "feed", Phase.STOPPED: "drop",
                           Phase.ENDED: "error"}[before]
        elif action == "end":
            got = state.on_end()
            assert got == {Phase.IDLE: "start_empty", Phase.STREAMING: "finish", Phase.STOPPED: "finish",
                           Phase.ENDED: "error"}[before]
            assert state.phase is Phase.ENDED
        elif action == "stopped":
            state.on_stopped()
            assert state.phase is (Phase.STOPPED if before is Phase.STREAMING else before)
        else:
            state.on_result()
            assert state.phase is Phase.IDLE


def test_a_session_that_cannot_start_is_an_error_record_and_close_1011() -> None:
    with make(backend_options={"python": "/nonexistent/python"}) as c, c.websocket_connect("/v1/stream", headers=AUTH) as ws:
        ws.send_json({"type": "delta", "text": "print(1)\n"})
        ws.send_json({"type": "end"})
        msgs = []
        with pytest.raises(WebSocketDisconnect) as info:
            while True:
                msgs.append(ws.receive_json())
        assert info.value.code == 1011
        assert [m["error"]["type"] for m in msgs if m["type"] == "error"] == ["BackendError"]
    with make() as c:
        assert c.get("/healthz").status_code == 200


def test_display_and_result_events_are_display_records_with_their_bundle() -> None:
    from eagerexec.pipeline import OutputReceived
    from eagerexec.server._protocol import event_message

    html = {"text/html": "<b>t</b>", "text/plain": "T()"}
    assert event_message(OutputReceived(time=0.0, stream="display", text="T()", bundle=html)) == {
        "type": "display", "kind": "display", "data": html,
    }
    assert event_message(OutputReceived(time=0.0, stream="result", text="2", bundle={"text/plain": "2"})) == {
        "type": "display", "kind": "result", "data": {"text/plain": "2"},
    }
    reduced = OutputReceived(time=0.0, stream="result", text="P()", bundle={"text/plain": "P()"}, skipped=9000)
    assert event_message(reduced) == {"type": "display", "kind": "result", "data": {"text/plain": "P()"}, "skipped": 9000}
    notice = OutputReceived(time=0.0, stream="display", text="", skipped=123)  # the limit started dropping
    assert event_message(notice) == {"type": "display", "kind": "display", "data": {}, "skipped": 123}
    figure = event_message(OutputReceived(time=0.0, stream="figure", text="/tmp/f.png"))
    assert figure == {"type": "display", "kind": "figure", "data": {"text/plain": "<Figure>"}, "path": "/tmp/f.png"}
    assert event_message(OutputReceived(time=0.0, stream="stdout", text="x\n")) == {
        "type": "output", "stream": "stdout", "text": "x\n",
    }


def test_a_notebook_session_sends_display_records_in_program_order() -> None:
    notebook = make(notebook=True, pool_size=1)  # a warm pool's session gets notebook mode too
    with notebook.websocket_connect("/v1/stream", headers=AUTH) as ws:
        msgs = send_program(ws, ["print('a')\n1 + 1\ndisplay({'k': 1})\nprint('b')\n"])
    out = [(m["type"], m.get("kind") or m.get("stream"), m.get("data") or m.get("text")) for m in msgs
           if m["type"] in ("output", "display")]
    assert out == [
        ("output", "stdout", "a\n"),
        ("display", "result", {"text/plain": "2"}),
        ("display", "display", {"text/plain": "{'k': 1}"}),
        ("output", "stdout", "b\n"),
    ]
    result = msgs[-1]["result"]
    assert set(result) == set(REPLAY_KEYS)  # the result JSON is the same as `eager replay --json`
    assert [o["type"] for o in result["outputs"]] == ["stdout", "result", "display", "stdout"]


@pytest.mark.parametrize("fork", [None, False])
def test_warm_sessions_are_forked_from_one_template_unless_told_not_to(fork: bool | None) -> None:
    """With a pool and preloads (local backend, Linux), every session is a child of one template
    process that imported the preloads, not of the server; ``fork=False`` starts each itself."""
    probe = "import os, sys\nprint(os.getppid(), 'decimal' in sys.modules)\nx = 1\n"
    with make(pool_size=1, preload=("decimal",), fork=fork) as c:
        parents = set()
        for _ in range(3):  # the pooled session, then sessions started on demand
            with c.websocket_connect("/v1/stream", headers=AUTH) as ws:
                ppid, loaded = stdout(send_program(ws, [probe])).split()
            assert loaded == "True"
            parents.add(int(ppid))
    if fork is None:
        assert len(parents) == 1 and parents != {os.getpid()}  # one template, not this process
    else:
        assert parents == {os.getpid()}  # each worker the server's own child
