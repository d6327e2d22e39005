"""Optional tier: `eager run` against a real OpenAI-compatible server.

Runs only when EAGER_TEST_BASE_URL names one (e.g. a local llama.cpp/Ollama/vLLM server);
EAGER_TEST_MODEL picks the model (default "smollm2"), EAGER_TEST_API_KEY the key if needed.
Small models are weak: these tests check the mechanics (a well-formed result, the exit status
the run calls for, code that streamed), not that the program is correct. The same checks run in
every test run against the loopback scripted server (tests/openai_server.py), on answers whose
outcome is known, so the checker itself is tested.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from click.testing import CliRunner
from openai_server import OpenAIServer, Script
from streams import cut

from eagerexec.cli import main

BASE_URL = os.environ.get("EAGER_TEST_BASE_URL")
MODEL = os.environ.get("EAGER_TEST_MODEL", "smollm2")

needs_server = pytest.mark.skipif(
    not BASE_URL, reason="set EAGER_TEST_BASE_URL to an OpenAI-compatible server to run the real-model tier"
)


@needs_server
@pytest.mark.parametrize("repair", ["0", "1"])
def test_eager_run_real_model(repair: str) -> None:
    check_run(str(BASE_URL), MODEL, repair, os.environ.get("EAGER_TEST_API_KEY"))


FENCED = "Here it is:\n```python\nfor i in range(1, 6):\n    print(i * i)\n```\n"


def _cut(text: str, how: str) -> list[str]:
    return cut(text, how)


@pytest.mark.parametrize(
    ("answer", "status", "how"),
    [
        (FENCED, 0, "whole"),
        (FENCED, 0, "chars"),
        (FENCED, 0, "random"),
        ("```python\nprint(1)\nraise ValueError('no')\n```\n", 1, "random"),
        ("```python\nimport sys\nprint(1)\nsys.exit(3)\n```\n", 3, "chars"),
        ("I cannot help with that.", 2, "whole"),
    ],
)
@pytest.mark.parametrize("repair", ["0", "1"])
def test_checks_on_the_loopback_server(answer: str, status: int, how: str, repair: str) -> None:
    with OpenAIServer() as server:
        for _ in range(2):  # the answer, and the repair's answer
            server.push(Script(content=_cut(answer, how), finish_reason="stop"))
        data = check_run(server.base_url, "scripted", repair, "k")
    assert data["status"] == status


def check_run(base_url: str, model: str, repair: str, api_key: str | None) -> dict[str, Any]:
    """Run `eager run --json` and check the result's mechanics; returns the JSON and status."""
    args = ["run", "Print the squares of the numbers 1 to 5, one per line.", "--model", model]
    args += ["--base-url", base_url, "--json", "--repair", repair]
    if api_key:
        args += ["--api-key", api_key]
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    data = json.loads(res.stdout)  # a usage error (exit 2, one line, no JSON) fails here
    run = data["runs"]["eager"]
    assert run["mode"] == "eager"
    error = run["error"]
    # The exit status is exactly the one the run calls for: 2 when the model's answer itself
    # failed (no code, a dropped stream: origin "source"), else what `python file.py` would give.
    if error is not None and error["origin"] == "source":
        expected = 2
    elif run["exit_code"] is not None:
        expected = run["exit_code"] % 256
    else:
        expected = 0 if error is None else 1
    assert res.exit_code == expected, (res.exit_code, error, res.stderr)
    m = run["metrics"]
    assert all(m[k] >= 0 for k in ("t_gen", "ttft", "nel", "e2el"))
    assert m["e2el"] >= m["t_gen"] - 1e-9
    stream = run["timeline"]["stream"]
    assert stream["tokens"] > 0  # the model streamed something
    if error is None or error["origin"] != "source":
        # code streamed, and the chunks are exactly the code that ran
        assert run["code"].strip()
        chunks = run["timeline"]["chunks"]
        assert chunks and "".join(c["text"] for c in chunks) == run["code"]
        assert [c["index"] for c in chunks] == list(range(len(chunks)))
    if error is not None:
        assert error["origin"] in ("runtime", "syntax", "backend", "source")
    if repair == "1":
        assert 0 <= data["repair"]["repairs"] <= 1
    return {**data, "status": res.exit_code}
