"""Safe by default: no host environment variable reaches a program unless passed, the sandbox
has no network unless asked, model-written code runs in the sandbox unless told otherwise (and
``--backend local`` says so), and a sandbox that cannot run says why and what to use instead.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openai_server import OpenAIServer, Script

from eagerexec import BackendUnavailableError, open_backend
from eagerexec.backends.local import local_environment
from eagerexec.cli import main

SECRET = "EAGER_TEST_SECRET_KEY"
SHOW_ENV = "import os, json\nprint(json.dumps(dict(os.environ)))\n"


def in_session(name: str, body: Callable[[Any], Awaitable[Any]], **options: Any) -> Any:
    async def main_() -> Any:
        async with open_backend(name, **options) as b:
            return await body(b)

    return asyncio.run(asyncio.wait_for(main_(), 120))


async def environment(b: Any) -> dict[str, str]:
    out = await b.run(SHOW_ENV)
    assert out.ok, out.error
    env: dict[str, str] = json.loads(out.stdout)
    return env


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET, "sk-must-not-leak")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-must-not-leak")
    return "sk-must-not-leak"


@pytest.mark.parametrize("name", ["local", "sandbox"])
def test_host_secrets_never_reach_the_program(name: str, secret: str) -> None:
    env = in_session(name, environment)
    assert SECRET not in env and "OPENAI_API_KEY" not in env
    assert secret not in json.dumps(env)
    assert "PATH" in env and env["MPLBACKEND"] == "Agg"


def test_jupyter_kernel_gets_no_host_secrets(secret: str) -> None:
    pytest.importorskip("jupyter_client")
    env = in_session("jupyter", environment, env={"GIVEN": "yes"})
    assert SECRET not in env and "OPENAI_API_KEY" not in env and secret not in json.dumps(env)
    assert env["GIVEN"] == "yes"


@pytest.mark.parametrize("name", ["local", "sandbox"])
def test_env_option_passes_what_is_given(name: str, secret: str) -> None:
    env = in_session(name, environment, env={"GIVEN": "yes", SECRET: secret})
    assert env["GIVEN"] == "yes" and env[SECRET] == secret
    assert "OPENAI_API_KEY" not in env


def test_local_environment_is_the_documented_minimum() -> None:
    host = {
        "PATH": "/bin",
        "HOME": "/h",
        "LC_ALL": "C",
        "TZ": "UTC",
        "AWS_SECRET_ACCESS_KEY": "x",
        "PYTHONPATH": "/p",
    }
    assert local_environment(host, {"A": "1"}) == {
        "PATH": "/bin",
        "HOME": "/h",
        "LC_ALL": "C",
        "TZ": "UTC",
        "A": "1",
        "MPLBACKEND": "Agg",
    }


def test_cli_env_passes_a_named_variable_and_refuses_an_unknown_one(
    secret: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prog = tmp_path / "prog.py"
    prog.write_text(
        f"import os\nprint(os.environ.get({SECRET!r}, 'absent'), os.environ.get('OPENAI_API_KEY', 'absent'))\n"
    )
    monkeypatch.chdir(tmp_path)
    base = ["replay", str(prog), "--tps", "5000", "--mode", "eager", "--backend", "local"]
    res = CliRunner().invoke(main, base, catch_exceptions=False)
    assert res.exit_code == 0 and "absent absent" in res.stdout
    res = CliRunner().invoke(main, [*base, "--env", SECRET], catch_exceptions=False)
    assert res.exit_code == 0 and f"{secret} absent" in res.stdout
    res = CliRunner().invoke(main, [*base, "--env", "EAGER_NO_SUCH_VARIABLE_XYZ"], catch_exceptions=False)
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "eager: error: --env EAGER_NO_SUCH_VARIABLE_XYZ: no such variable in the environment"
    ]


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def _connect(port: int) -> str:
    return f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5).close()\nprint('connected')\n"


def test_sandbox_has_no_network_by_default(listener: int) -> None:
    async def body(b: Any) -> Any:
        return await b.run(_connect(listener))

    out = in_session("sandbox", body)
    assert out.error is not None and out.error.type == "ConnectionRefusedError"  # its own loopback only


def test_sandbox_network_option_shares_the_hosts(listener: int) -> None:
    async def body(b: Any) -> Any:
        return await b.run(_connect(listener))

    out = in_session("sandbox", body, network=True)
    assert out.ok, out.error
    assert out.stdout == "connected\n"


def test_network_flag_is_refused_where_it_means_nothing(tmp_path: Path) -> None:
    prog = tmp_path / "prog.py"
    prog.write_text("pass\n")
    res = CliRunner().invoke(
        main, ["replay", str(prog), "--backend", "local", "--network", "--workdir", str(tmp_path)]
    )
    assert res.exit_code == 2 and "--network applies to the sandbox and docker backends" in res.stderr


def test_sandbox_unavailable_names_the_alternatives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(BackendUnavailableError) as info:
        open_backend("sandbox")
    message = str(info.value)
    assert "\n" not in message and "needs Linux" in message
    assert "--backend docker" in message and "--backend local" in message


def test_sandbox_without_user_namespaces_says_so_in_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)

    async def main_() -> None:
        b = open_backend("sandbox")
        b._bwrap = str(fake)  # type: ignore[attr-defined]
        async with b:
            pass

    with pytest.raises(BackendUnavailableError) as info:
        asyncio.run(asyncio.wait_for(main_(), 60))
    message = str(info.value)
    assert "\n" not in message and "No permissions to create new namespace" in message
    assert "--backend docker" in message and "--backend local" in message


# -- eager run: the sandbox by default, a warning for local ------------------------------------


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as s:
        yield s


def _fenced(code: str) -> str:
    return f"```python\n{code}```\n"


@pytest.mark.parametrize(("args", "warned"), [([], False), (["--backend", "local"], True)])
def test_eager_run_uses_the_sandbox_unless_told_and_warns_for_local(
    server: OpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], warned: bool
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-must-not-leak")
    server.push(
        Script(
            content=_fenced(
                "import os\nprint(os.environ.get('OPENAI_API_KEY', 'nokey'), os.path.exists('/etc/hostname'))\n"
            )
        )
    )
    res = CliRunner().invoke(
        main,
        [
            "run",
            "x",
            "--model",
            "m",
            "--base-url",
            server.base_url,
            "--json",
            "--workdir",
            str(tmp_path),
            *args,
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)["runs"]["eager"]
    key, etc_visible = run["stdout"].split()
    assert key == "nokey"
    assert etc_visible == ("True" if warned else "False")  # the sandbox binds no /etc/hostname
    warnings = [line for line in res.stderr.splitlines() if "warning" in line]
    if warned:
        assert len(warnings) == 1 and "--backend local" in warnings[0] and "unisolated" in warnings[0]
    else:
        assert warnings == []
