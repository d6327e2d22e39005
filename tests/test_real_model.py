"""Optional tier: `eager run` against a real OpenAI-compatible server.

Runs only when EAGER_TEST_BASE_URL names one (e.g. a local llama.cpp/Ollama/vLLM server);
EAGER_TEST_MODEL picks the model (default "smollm2"), EAGER_TEST_API_KEY the key if needed.
Small models are weak: these tests check the mechanics (a well-formed result, a sane exit
status, code that streamed), not that the program is correct.
"""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from eagerexec.cli import main

BASE_URL = os.environ.get("EAGER_TEST_BASE_URL")
MODEL = os.environ.get("EAGER_TEST_MODEL", "smollm2")

pytestmark = pytest.mark.skipif(
    not BASE_URL, reason="set EAGER_TEST_BASE_URL to an OpenAI-compatible server to run the real-model tier"
)


@pytest.mark.parametrize("repair", ["0", "1"])
def test_eager_run_real_model(repair: str) -> None:
    args = ["run", "Print the squares of the numbers 1 to 5, one per line.", "--model", MODEL]
    args += ["--base-url", str(BASE_URL), "--json", "--repair", repair]
    if os.environ.get("EAGER_TEST_API_KEY"):
        args += ["--api-key", os.environ["EAGER_TEST_API_KEY"]]
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    # 2 only when the model's answer itself failed (e.g. no code block): origin "source".
    assert res.exit_code in (0, 1, 2), res.stderr
    data = json.loads(res.stdout)
    run = data["runs"]["eager"]
    assert run["mode"] == "eager"
    m = run["metrics"]
    assert all(m[k] >= 0 for k in ("t_gen", "ttft", "nel", "e2el"))
    assert m["e2el"] >= m["t_gen"] - 1e-9
    assert (res.exit_code == 0) == (run["error"] is None)
    if res.exit_code == 2:
        assert run["error"]["origin"] == "source"
    if run["error"] is None:
        assert run["code"].strip()
        assert run["timeline"]["chunks"]
    else:
        assert run["error"]["origin"] in ("runtime", "syntax", "backend", "source")
    if repair == "1":
        assert data["repair"]["repairs"] <= 1
