"""``format_result``: what the model reads back from a code tool call, plain and notebook mode, on
the real local backend, the code streamed whole, by character and in random pieces."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from streams import SPLITS
from streams import split as _split

from eagerexec import Result
from eagerexec.integrations import CodeToolSession, format_result


def split(text: str, how: str) -> list[str]:
    return _split(text, how, seed=len(text))




def run(code: str, how: str = "whole", **options: Any) -> Result:
    """``code`` as one streamed tool call (JSON arguments) of a local ``CodeToolSession``."""

    async def main() -> Result:
        async with CodeToolSession("local", **options) as tools:
            call = tools.begin("c1")
            for piece in split(json.dumps({"code": code}), how):
                call.feed(piece)
                await asyncio.sleep(0)
            call.end()
            return await tools.result("c1")

    return asyncio.run(asyncio.wait_for(main(), 60))


NOTEBOOK = "x = [1, 2]\nprint('a')\nsum(x)\nprint('partial', end='')\ndisplay('shown')\nprint('b')\nx\n"


@pytest.mark.parametrize("how", SPLITS)
def test_notebook_values_are_in_the_text_in_program_order_with_the_prints(how: str) -> None:
    result = run(NOTEBOOK, how, notebook=True)
    assert format_result(result) == "a\n3\npartial\n'shown'\nb\n[1, 2]"


def test_plain_mode_is_unchanged_a_bare_value_shows_nothing() -> None:
    assert format_result(run("1 + 1\n")) == "(no output)"
    assert format_result(run("print('o')\nimport sys\nsys.stderr.write('e\\n')\n")) == "o\n[stderr]\ne"


def test_a_notebook_program_ending_in_a_bare_describe_sends_the_table() -> None:
    pytest.importorskip("pandas")
    code = "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2, 3]})\ndf.describe()\n"
    text = format_result(run(code, notebook=True))
    assert text.split("\n")[0].split() == ["a"] and "mean" in text and "2.0" in text
    assert "<table" not in text  # the model reads text/plain, not the HTML


def test_the_notebook_text_is_capped_and_keeps_the_last_value() -> None:
    code = "for i in range(2000):\n    display('v%04d' % i)\n'last'\n"
    result = run(code, notebook=True, max_output=2000)
    text = format_result(result, limit=600)
    assert len(text) < 800 and "dropped" in text
    assert text.startswith("'v0000'") and text.endswith("'last'")


def test_errors_and_figures_follow_the_displayed_values() -> None:
    pytest.importorskip("matplotlib")
    code = (
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "_ = plt.plot([1, 2])\nplt.show()\n'value'\n1 / 0\n"
    )
    result = run(code, notebook=True)
    text = format_result(result)
    assert result.figures
    lines = text.split("\n")
    assert lines[0].startswith("<Figure") and lines[1] == "'value'"
    assert f"[figures] {result.figures[0]}" in text
    assert text.index("'value'") < text.index("[error]\nZeroDivisionError")
