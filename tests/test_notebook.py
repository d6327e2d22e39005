"""Notebook output (``Session(notebook=True)``): values of top-level expression statements by the
REPL rule, ``display()``, IPython's ``_repr_*_`` conventions, figures as PNG bundles, in program
order with prints, the same in serial and eager mode however the stream is split; nothing extra
when notebook mode is off."""

from __future__ import annotations

import asyncio
import base64
import re
from pathlib import Path
from typing import Any

import pytest
from streams import cut

import eagerexec as ee
from eagerexec import Session
from eagerexec.backends import ExecRequest, OutputEvent, open_backend
from eagerexec.backends._output import DROPPED_MIME as DROPPED

PNG = b"\x89PNG\r\n\x1a\n"

PROGRAM = '''"""The docstring is never shown."""
print("a")
1 + 1
None
x = 3
x
print("b")
def f():
    2  # not top level: not shown
    return None
f()
class Html:
    def _repr_html_(self):
        return "<b>h</b>"
    def __repr__(self):
        return "Html()"
class Bundle:
    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/markdown": "*m*", "application/json": {"k": [1, 2]}}
    def __repr__(self):
        return "Bundle()"
class Png:
    def _repr_png_(self):
        return b"\\x89PNG\\r\\n\\x1a\\n"
    def _repr_svg_(self):
        return None
    def __repr__(self):
        return "Png()"
display(Html(), Bundle())
Png()
print("c")
'''

EXPECTED: list[tuple[str, dict[str, Any]]] = [
    ("stdout", {"text/plain": "a\n"}),
    ("result", {"text/plain": "2"}),
    ("result", {"text/plain": "3"}),
    ("stdout", {"text/plain": "b\n"}),
    ("display", {"text/html": "<b>h</b>", "text/plain": "Html()"}),
    ("display", {"text/markdown": "*m*", "application/json": {"k": [1, 2]}, "text/plain": "Bundle()"}),
    ("result", {"image/png": base64.b64encode(PNG).decode("ascii"), "text/plain": "Png()"}),
    ("stdout", {"text/plain": "c\n"}),
]


def arun(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, 60))


def _pieces(text: str, how: str) -> list[str]:
    return cut(text, how, cuts=12)


def _run(program: str, how: str = "whole", **options: Any) -> ee.Result:
    async def main() -> ee.Result:
        async with Session("local", **options) as s:
            return await s.run(iter(_pieces(program, how)))

    return arun(main())


def _records(result: ee.Result) -> list[tuple[str, dict[str, Any]]]:
    return [(o.type, o.data) for o in result.outputs]


def _matches(got: list[tuple[str, dict[str, Any]]], expected: list[tuple[str, dict[str, Any]]]) -> None:
    assert [kind for kind, _ in got] == [kind for kind, _ in expected], got
    assert got == expected


@pytest.mark.parametrize("how", ["whole", "chars", "random"])
def test_values_and_displays_are_the_same_records_in_serial_and_eager_mode(how: str) -> None:
    results = {mode: _run(PROGRAM, how, mode=mode, notebook=True) for mode in ("serial", "eager")}
    for result in results.values():
        assert result.ok, result.error
        _matches(_records(result), EXPECTED)
        assert result.stdout == "a\nb\nc\n"
    assert _records(results["serial"]) == _records(results["eager"])
    outputs = results["eager"].to_dict()["outputs"]
    assert outputs[1] == {"type": "result", "data": {"text/plain": "2"}}


def test_notebook_mode_off_shows_nothing_extra_and_has_no_display() -> None:
    off = _run("print('a')\n1 + 1\nx = 2\nx\n")
    assert _records(off) == [("stdout", {"text/plain": "a\n"})]
    missing = _run("display(1)\n")
    assert missing.error is not None and missing.error.type == "NameError"


@pytest.mark.parametrize("how", ["whole", "chars"])
def test_tracebacks_and_lines_are_those_of_the_plain_statement(how: str) -> None:
    def tail(text: str) -> str:  # without the session's directory, which differs
        return re.sub(r'"[^"]*program\.py"', '"program.py"', text)

    program = "print('a')\n1 + 1\n1 / 0\n"
    on, off = _run(program, how, notebook=True), _run(program, how)
    assert on.error is not None and off.error is not None
    assert (on.error.type, on.error.line, on.error.line_text) == ("ZeroDivisionError", 3, "1 / 0")
    assert tail(on.error.traceback) == tail(off.error.traceback)
    assert [kind for kind, _ in _records(on)] == ["stdout", "result"]
    # a multi-line expression statement failing in a function it calls
    program = "def f():\n    return 1 / 0\n[f(),\n 2]\n"
    on, off = _run(program, how, notebook=True), _run(program, how)
    assert on.error is not None and off.error is not None
    assert (on.error.line, on.error.statement_line) == (2, 3)
    assert tail(on.error.traceback) == tail(off.error.traceback)
    assert "line 3, in <module>" in on.error.traceback


@pytest.mark.parametrize("version", ["3.7", "3.13"])
def test_the_worker_shows_values_on_every_python(version: str) -> None:
    found = sorted(Path("/root/.pyenv/versions").glob(f"{version}.*/bin/python"))
    if not found:
        pytest.skip(f"no Python {version} here")
    result = _run(PROGRAM, "random", notebook=True, python=str(found[-1]))
    assert result.ok, result.error
    _matches(_records(result), EXPECTED)


def test_a_failing_repr_method_is_skipped_with_one_line_and_the_run_goes_on() -> None:
    program = (
        "class Bad:\n"
        "    def _repr_html_(self):\n"
        "        raise ValueError('no html')\n"
        "    def __repr__(self):\n"
        "        return 'Bad()'\n"
        "Bad()\n"
        "print('after')\n"
    )
    result = _run(program, notebook=True)
    assert result.ok
    assert ("result", {"text/plain": "Bad()"}) in _records(result)
    assert "_repr_html_ of Bad failed: ValueError: no html" in result.stderr
    assert result.stdout == "after\n"


def test_a_class_shows_as_text_only() -> None:
    program = "class Html:\n    def _repr_html_(self):\n        return '<b>'\nHtml\n"
    result = _run(program, notebook=True)
    [(kind, data)] = _records(result)
    assert kind == "result" and set(data) == {"text/plain"} and "Html" in data["text/plain"]


def test_a_pandas_dataframe_gives_html() -> None:
    pytest.importorskip("pandas")
    result = _run("import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\ndf\n", notebook=True)
    [(kind, data)] = _records(result)
    assert kind == "result"
    assert "<table" in data["text/html"] and "a" in data["text/plain"]


@pytest.mark.parametrize("mode", ["serial", "eager"])
def test_plt_show_and_figures_left_open_give_png_bundles_in_order(mode: str) -> None:
    pytest.importorskip("matplotlib")
    program = (
        "import matplotlib\n"
        "import matplotlib.pyplot as plt\n"
        "print('before')\n"
        "_ = plt.plot([1, 2])\n"
        "plt.show()\n"
        "print('after')\n"
        "_ = plt.plot([3, 1])\n"
    )
    result = _run(program, mode=mode, notebook=True)
    assert result.ok, result.error
    records = _records(result)
    assert [kind for kind, _ in records] == ["stdout", "display", "stdout", "display"]
    for _, data in (records[1], records[3]):
        assert base64.b64decode(data["image/png"]).startswith(PNG)
        assert data["text/plain"].startswith("<Figure size")
    assert len(result.figures) == 2  # each shown figure is also a file, listed once
    assert all(open(path, "rb").read().startswith(PNG) for path in result.figures)


def test_figures_are_file_records_when_notebook_mode_is_off() -> None:
    pytest.importorskip("matplotlib")
    result = _run("import matplotlib.pyplot as plt\n_ = plt.plot([1, 2])\nplt.show()\n")
    assert [kind for kind, _ in _records(result)] == ["figure"]


def test_live_events_carry_the_bundles() -> None:
    events: list[ee.Event] = []
    _run("print('a')\n40 + 2\n", notebook=True, on_event=events.append)
    live = [e for e in events if isinstance(e, ee.OutputReceived)]
    assert [(e.stream, e.text) for e in live] == [("stdout", "a\n"), ("result", "42")]
    assert live[1].bundle == {"text/plain": "42"}


def test_the_backend_event_follows_the_output_written_before_it() -> None:
    # stdout is block-buffered on a pipe: the worker flushes it before sending the bundle
    async def main() -> list[OutputEvent]:
        events: list[OutputEvent] = []
        async with open_backend("local", on_output=events.append) as b:
            code = "import sys\nfor i in range(3):\n    print(i)\n    display(i)\nsys.stdout.write('x' * 100000)\n7\n"
            outcome = await b.execute(ExecRequest(code=code, notebook=True))
            assert outcome.ok
        return events

    events = arun(main())
    kinds = [e.kind for e in events]
    assert kinds[:6] == ["stdout", "display"] * 3
    assert kinds[-1] == "result" and events[-1].bundle == {"text/plain": "7"}
    assert "".join(e.data for e in events if e.kind == "stdout") == "0\n1\n2\n" + "x" * 100000


def test_display_raw_and_json_bundles() -> None:
    program = "display({'text/html': '<i>r</i>', 'text/plain': 'r'}, raw=True)\ndisplay(None)\n"
    result = _run(program, notebook=True)
    assert _records(result) == [
        ("display", {"text/html": "<i>r</i>", "text/plain": "r"}),
        ("display", {"text/plain": "None"}),
    ]


def _jupyter_available() -> bool:
    try:
        import ipykernel  # noqa: F401
        import jupyter_client  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _jupyter_available(), reason="jupyter extra not installed")
def test_the_jupyter_backend_gives_the_same_records() -> None:
    program = "print('a')\n1 + 1\nx = 3\nx\nclass Html:\n    def _repr_html_(self):\n        return '<b>h</b>'\n    def __repr__(self):\n        return 'Html()'\ndisplay(Html())\nprint('c')\n"

    def run(**options: Any) -> ee.Result:
        async def main() -> ee.Result:
            async with Session("jupyter", mode="serial", **options) as s:
                return await s.run(program)

        return arun(main())

    on = run(notebook=True)
    assert on.ok, on.error
    _matches(
        _records(on),
        [
            ("stdout", {"text/plain": "a\n"}),
            ("result", {"text/plain": "2"}),
            ("result", {"text/plain": "3"}),
            ("display", {"text/html": "<b>h</b>", "text/plain": "Html()"}),
            ("stdout", {"text/plain": "c\n"}),
        ],
    )
    off = run()  # no echo of values, and display()'s text/plain goes to stdout as before
    assert _records(off) == [("stdout", {"text/plain": "a\nHtml()\nc\n"})]


def test_eager_replay_notebook_prints_values_and_lists_bundles(tmp_path: Any) -> None:
    import json

    from click.testing import CliRunner

    from eagerexec.cli import main

    program = tmp_path / "p.py"
    program.write_text("print('a')\n1 + 1\nclass H:\n    def _repr_html_(self):\n        return '<b>'\n    def __repr__(self):\n        return 'H()'\ndisplay(H())\n")
    runner = CliRunner()
    plain = runner.invoke(main, ["replay", str(program), "--tps", "1e6", "--notebook"])
    assert plain.exit_code == 0, plain.output
    assert plain.output.count("    | 2\n") == 2 and plain.output.count("    | H()\n") == 2
    assert plain.output.count("display text/html\n") == 2
    shown = runner.invoke(
        main, ["replay", str(program), "--tps", "1e6", "--notebook", "--json"]
    )
    assert shown.exit_code == 0, shown.output
    runs = json.loads(shown.stdout)["runs"]
    for run in runs.values():
        assert run["outputs"] == [
            {"type": "stdout", "data": {"text/plain": "a\n"}},
            {"type": "result", "data": {"text/plain": "2"}},
            {"type": "display", "data": {"text/html": "<b>", "text/plain": "H()"}},
        ]
    off = runner.invoke(main, ["replay", str(program), "--tps", "1e6"])
    assert off.exit_code == 1 and "NameError" in off.output  # no display() without --notebook


def test_vendor_json_types_stay_json_and_unencodable_ones_are_dropped() -> None:
    program = (
        "class V:\n"
        "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
        "        return {'application/vnd.x+json': {'a': 1}, 'text/plain': 'V'}\n"
        "class Bad:\n"
        "    def _repr_json_(self):\n"
        "        return {'a': object()}\n"
        "    def __repr__(self):\n"
        "        return 'Bad'\n"
        "V()\n"
        "Bad()\n"
    )
    result = _run(program, notebook=True)
    assert result.ok
    assert _records(result)[0] == ("result", {"application/vnd.x+json": {"a": 1}, "text/plain": "V"})
    # the warning is written while the object renders: before its bundle
    assert [kind for kind, _ in _records(result)] == ["result", "stderr", "result"]
    assert _records(result)[2] == ("result", {"text/plain": "Bad"})
    assert "_repr_json_ of Bad failed: TypeError" in result.stderr


def test_an_interrupted_display_loop_leaves_the_session_usable() -> None:
    # the timeout interrupts the program while it may be waiting for the host's acknowledgement
    # of a bundle: a late acknowledgement must not be read as a request
    async def main() -> tuple[ExecRequest, list[Any]]:
        events: list[OutputEvent] = []
        async with open_backend("local", on_output=events.append) as b:
            loop = await b.execute(ExecRequest(code="while True:\n    display(1)\n", timeout=0.5, notebook=True))
            assert loop.timed_out and loop.survived
            events.clear()
            after = await b.execute(ExecRequest(code="print('x')\n'y'\n", first_line=3, notebook=True))
            assert after.ok and after.stdout == "x\n" and not after.fresh_session
        return loop, [(e.kind, e.data) for e in events]

    _, events = arun(main())
    assert events == [("stdout", "x\n"), ("result", "'y'")]


def test_a_background_thread_can_display() -> None:
    program = "import threading\nt = threading.Thread(target=display, args=(41,))\nt.start()\nt.join()\n42\n"
    result = _run(program, notebook=True)
    assert _records(result) == [("display", {"text/plain": "41"}), ("result", {"text/plain": "42"})]


def test_expression_statements_after_a_semicolon_or_in_odd_places_are_shown() -> None:
    # parts whose every line cannot begin an expression statement compile from their text; these
    # must not pass for such parts
    program = (
        "x = 1; x\n"
        "import os; os.sep\n"
        "class A: pass; 5\n"  # in the class body: not top level, not shown
        "def f(a=1,\n"
        "b=2):\n"
        "    return a + b\n"
        "d = {}\n"
        "d['k'] = 3; d['k']\n"
        "s = \"\"\"\n"
        "y = 1\"\"\"\n"
        "f(\n"
        "a=3)\n"
    )
    for how in ("whole", "chars"):
        result = _run(program, how, notebook=True)
        assert result.ok, result.error
        assert _records(result) == [
            ("result", {"text/plain": "1"}),
            ("result", {"text/plain": repr(__import__("os").sep)}),
            ("result", {"text/plain": "3"}),
            ("result", {"text/plain": "5"}),
        ]


FLOOD_DISPLAYS = '''class Big:
    def __init__(self, n):
        self.n = n
    def _repr_html_(self):
        return "<td>" + "x" * 2000 + "</td>"
    def __repr__(self):
        return "Big(%05d)" % self.n
print("start")
for i in range(3000):
    display(Big(i))
Big(3000)
class Png:
    def _repr_png_(self):
        return b"\\x89PNG" + b"\\0" * 3_000_000
    def __repr__(self):
        return "<huge png>"
Png()
print("end")
'''


@pytest.mark.parametrize("how", ["whole", "chars", "random"])
def test_bundles_are_under_the_one_output_limit_the_same_in_both_modes(how: str) -> None:
    limit = 20_000
    events: dict[str, list[ee.OutputReceived]] = {"serial": [], "eager": []}
    results = {}
    for mode in ("serial", "eager"):

        def keep(event: object, mode: str = mode) -> None:
            if isinstance(event, ee.OutputReceived):
                events[mode].append(event)

        async def main(mode: str = mode, keep: Any = keep) -> ee.Result:
            async with Session("local", mode=mode, notebook=True, max_output=limit) as s:
                return await s.run(iter(_pieces(FLOOD_DISPLAYS, how)), on_event=keep)

        results[mode] = arun(main())
    serial, eager = results["serial"], results["eager"]
    assert _records(serial) == _records(eager)
    assert serial.output_dropped == eager.output_dropped and serial.outputs_dropped == eager.outputs_dropped
    rich = [o for o in eager.outputs if o.type in ("display", "result")]
    assert sum(len(str(o.data)) for o in rich) < 2 * limit  # bounded, not 3000 x 2 kB nor the 4 MB PNG
    plain = [o.data["text/plain"] for o in rich]
    # the first displays whole, then the record of the middle dropped, then the last ones
    assert plain[0] == "Big(00000)" and rich[0].data["text/html"].startswith("<td>")
    marker = next(o for o in rich if DROPPED in o.data)
    assert marker.data[DROPPED]["outputs"] == eager.outputs_dropped > 2900
    assert plain[-2:] == ["Big(03000)", "<huge png>"]
    assert rich[-1].data == {"text/plain": "<huge png>"}  # the PNG is over half the limit: its text
    assert eager.to_dict()["outputs_dropped"] == eager.outputs_dropped
    assert eager.output_dropped > 3_000_000 and eager.stdout == "start\nend\n"
    live = [e for e in events["eager"] if e.stream == "display"]
    notice = [e for e in live if e.bundle is None]
    assert len(notice) == 1 and notice[0].skipped > 0  # said once, live
    assert sum(len(str(e.bundle)) for e in live if e.bundle) < limit


def test_a_huge_png_shown_first_keeps_its_text_and_later_outputs_stay_live() -> None:
    program = "class P:\n    def _repr_png_(self):\n        return b'x' * 200_000\n    def __repr__(self):\n        return 'P()'\nP()\n1 + 1\n"
    events: list[ee.OutputReceived] = []

    async def main() -> ee.Result:
        async with Session("local", notebook=True, max_output=10_000) as s:
            return await s.run(program, on_event=lambda e: events.append(e) if isinstance(e, ee.OutputReceived) else None)

    result = arun(main())
    assert _records(result) == [("result", {"text/plain": "P()"}), ("result", {"text/plain": "2"})]
    assert result.outputs_dropped == 0 and result.output_dropped > 200_000
    assert [(e.text, e.skipped > 0) for e in events] == [("P()", True), ("2", False)]


def test_the_plain_view_says_when_bundles_are_dropped_and_shows_the_last_ones_at_the_end() -> None:
    import io

    from eagerexec.cli._render import PlainView

    out = io.StringIO()
    view = PlainView(out)
    view.begin("eager")
    program = "for i in range(500):\n    display('%04d' % i)\nprint('done')\n"

    async def main() -> ee.Result:
        async with Session("local", notebook=True, max_output=200) as s:
            return await s.run(program, on_event=view)

    result = arun(main())
    view.end(result)
    text = out.getvalue()
    assert text.count("displayed outputs dropped by the output limit") == 1
    shown = re.findall(r"    \| '(\d{4})'", text)
    assert shown[0] == "0000" and shown[-1] == "0499" and len(shown) < 20
    assert f"[... {result.outputs_dropped} outputs" in text
    assert text.index("| done") < text.index("| '0499'")  # the tail of the limit comes at the end


@pytest.mark.parametrize("backend", ["sandbox", "jupyter"])
def test_the_bundle_limit_gives_the_same_records_on_every_backend(backend: str) -> None:
    if backend == "jupyter" and not _jupyter_available():
        pytest.skip("jupyter extra not installed")
    program = "print('s')\nfor i in range(400):\n    display('v%04d' % i)\n'end'\n"

    def run(name: str) -> ee.Result:
        async def main() -> ee.Result:
            async with Session(name, notebook=True, max_output=300) as s:
                return await s.run(program)

        try:
            return arun(main())
        except ee.BackendUnavailableError as exc:
            pytest.skip(str(exc))

    local, other = run("local"), run(backend)
    assert _records(other) == _records(local)
    assert other.outputs_dropped == local.outputs_dropped > 350 and other.output_dropped == local.output_dropped
