"""The kernel-free half of the jupyter backend: tracebacks, exit codes, times, output bound."""

from __future__ import annotations

import datetime as dt
import time

from hypothesis import given
from hypothesis import strategies as st

from eagerexec.backends._jupyter_msgs import (
    Collected,
    exec_error,
    exit_code_of,
    exit_status,
    monotonic_offset,
    one_line,
    strip_ansi,
    wall_seconds,
)
from eagerexec.backends._output import drop_marker

# What ipykernel 7 / IPython 9 send for `f(x)` in cell 5 (program line 13) calling f of cell 4.
ZERO_DIV = {
    "ename": "ZeroDivisionError",
    "evalue": "division by zero",
    "traceback": [
        "\x1b[31m-----\x1b[39m",
        "\x1b[31mZeroDivisionError\x1b[39m    Traceback (most recent call last)",
        "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[5]\x1b[39m\x1b[32m, line 13\x1b[39m\n"
        "\x1b[32m      1\x1b[39m \x1b[38;5;66;03m#\x1b[39;00m\n"
        "\x1b[32m     12\x1b[39m y = 2\n"
        "\x1b[32m---> \x1b[39m\x1b[32m13\x1b[39m f(x)\n",
        "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[4]\x1b[39m\x1b[32m, line 11\x1b[39m, in \x1b[36mf\x1b[39m\x1b[34m(a)\x1b[39m\n"
        "\x1b[32m     10\x1b[39m def f(a):\n"
        "\x1b[32m---> \x1b[39m\x1b[32m11\x1b[39m     return a/0\n",
        "\x1b[31mZeroDivisionError\x1b[39m: division by zero",
    ],
}


def test_exec_error_frames_lines_and_padding() -> None:
    lines = {10: "def f(a):", 11: "    return a/0", 12: "y = 2", 13: "f(x)"}
    err = exec_error(ZERO_DIV, {4: 10, 5: 12}, lines)
    assert (err.type, err.message, err.line, err.line_text) == ("ZeroDivisionError", "division by zero", 11, "return a/0")
    assert [(f.filename, f.line, f.name, f.source) for f in err.frames] == [
        ("<program>", 13, "<module>", "f(x)"),
        ("<program>", 11, "f", "    return a/0"),
    ]
    assert "\x1b" not in err.traceback
    assert "      1 #" not in err.traceback  # the padding line is gone
    assert "     12 y = 2" in err.traceback and "---> 13 f(x)" in err.traceback


def test_exec_error_library_frame_and_syntax_error() -> None:
    lib = {
        "ename": "JSONDecodeError",
        "evalue": "Expecting value",
        "traceback": [
            "Cell In[2], line 3\n----> 3 json.loads('{')\n",
            "File ~/lib/json/__init__.py:346, in loads(s, cls)\n--> 346     return x\n",
            "JSONDecodeError: Expecting value",
        ],
    }
    err = exec_error(lib, {2: 3}, {3: "json.loads('{')"})
    assert err.line == 3 and err.line_text == "json.loads('{')"
    assert [(f.filename, f.line, f.name) for f in err.frames] == [
        ("<program>", 3, "<module>"),
        ("~/lib/json/__init__.py", 346, "loads"),
    ]
    syn = {
        "ename": "SyntaxError",
        "evalue": "incomplete input (3863562095.py, line 5)",
        "traceback": ["  Cell In[3], line 5\n    x=(\n       ^\nSyntaxError: incomplete input\n"],
    }
    err = exec_error(syn, {3: 5}, {5: "x=("})
    assert (err.line, err.message, err.frames) == (5, "incomplete input (<program>, line 5)", ())


def test_exec_error_from_a_foreign_kernel_keeps_name_and_value() -> None:
    err = exec_error({"ename": "simpleError", "evalue": "boom", "traceback": ["Error in f(): boom"]}, {}, {})
    assert (err.type, err.message, err.line, err.frames) == ("simpleError", "boom", None, ())
    assert err.traceback == "Error in f(): boom\n"


def test_exit_codes_follow_python() -> None:
    values = ("", "None", "0", "3", "-1", "256", "257", "False", "True", "bye", "5 apples")
    assert [exit_code_of(v) for v in values] == [0, 0, 0, 3, 255, 0, 1, 0, 1, 1, 1]
    assert [exit_status(n) for n in (0, 255, 256, -1, -256, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, True)] == [
        0, 255, 0, 255, 0, 255, 255, 0, 255, 1,
    ]


def test_strip_ansi_and_one_line() -> None:
    assert strip_ansi("\x1b[38;5;66;03m#\x1b[39;00m x\x1b[?25h") == "# x"
    assert one_line(RuntimeError("first\nsecond")) == "first"
    assert one_line(RuntimeError()) == "RuntimeError"


def test_wall_seconds_and_monotonic_offset() -> None:
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC)
    assert wall_seconds(stamp) == stamp.timestamp()
    assert wall_seconds("2026-01-02T03:04:05.600000Z") == stamp.timestamp()
    assert wall_seconds("not a date") is None and wall_seconds(None) is None
    offset = monotonic_offset()
    assert abs((time.time() - offset) - time.monotonic()) < 1.0


@given(st.lists(st.tuples(st.sampled_from(["stdout", "stderr"]), st.text(max_size=50)), max_size=40), st.integers(2, 200))
def test_collected_output_keeps_head_and_tail(writes: list[tuple[str, str]], limit: int) -> None:
    col = Collected(limit)
    live = {"stdout": "", "stderr": ""}
    for kind, text in writes:
        live[kind] += col.add(kind, text)
    for kind in ("stdout", "stderr"):
        whole = "".join(t for k, t in writes if k == kind)
        head = limit // 2
        tail, dropped = col.tail(kind)
        assert live[kind] == whole[:head]  # the head is passed on live
        assert dropped == max(0, len(whole) - limit)
        if dropped:
            assert col.text(kind) == whole[:head] + drop_marker(dropped) + whole[-(limit - head) :]
        else:
            assert col.text(kind) == whole and live[kind] + tail == whole
    assert col.truncated == any(
        len("".join(t for k, t in writes if k == kind)) > limit for kind in ("stdout", "stderr")
    )
