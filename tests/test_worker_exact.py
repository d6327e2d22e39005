"""The worker runs a program exactly as ``python program.py`` does, on every Python it supports.

Each program runs three ways under each interpreter found in /root/.pyenv (3.7 to 3.13; the
ones absent are skipped): ``python program.py`` in a temporary directory, then the worker (driven
by a tiny synchronous client over its wire protocol, see ``_worker.py``) with the whole program
in one request ("one batch", as serial mode sends it) and with one request per top-level
statement ("many", as eager mode sends it at a slow rate). Stdout, stderr (the program's
directory and object addresses normalised) and the exit status must be the same. Where eager
mode may differ by contract (statements before a syntax error ran; a forked child ends when its
parent waits for it, having run the statements sent so far; output already flushed at the end of
a call), the test says so and asserts the difference.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import eagerexec

HEADER = struct.Struct(">I")
WORKER_PATH = Path(eagerexec.__file__).parent / "backends" / "_worker.py"
WORKER_FILES = tuple(
    WORKER_PATH.with_name(name)
    for name in (
        "_worker.py",
        "_worker_io.py",
        "_worker_display.py",
        "_worker_exec.py",
        "_worker_template.py",
        "_worker_isolate.py",
    )
)
PYENV = Path("/root/.pyenv/versions")
VERSIONS = ["3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]


def interpreter(version: str) -> str | None:
    for path in sorted(PYENV.glob(f"{version}.*/bin/python")):
        return str(path)
    return None


def interpreters() -> list[Any]:
    params = [pytest.param(sys.executable, id="host")]
    for version in VERSIONS:
        path = interpreter(version)
        marks = [] if path else [pytest.mark.skip(reason=f"no Python {version} on this machine")]
        params.append(pytest.param(path or "", id=version, marks=marks))
    return params


PYTHONS = interpreters()


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    stdout: str
    stderr: str
    status: int | None
    replies: tuple[dict[str, Any], ...] = ()


def normalise(text: str, directory: Path) -> str:
    text = text.replace(str(directory), "<dir>")
    text = re.sub(r"\bin \d+\.\d+s\b", "in ?s", text)  # unittest's "Ran 2 tests in 0.001s"
    return re.sub(r"0x[0-9a-f]+", "0x?", text)


def run_python(python: str, source: str) -> Run:
    """``python program.py`` in a fresh directory, stdin on /dev/null, output to files."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp).resolve()
        (directory / "program.py").write_text(source, encoding="utf-8")
        with open(directory / "out", "wb") as out, open(directory / "err", "wb") as err:
            proc = subprocess.run(
                [python, str(directory / "program.py")],
                cwd=directory,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                timeout=60,
                env=_env(),
            )
        return Run(
            stdout=normalise((directory / "out").read_text(encoding="utf-8", errors="replace"), directory),
            stderr=normalise((directory / "err").read_text(encoding="utf-8", errors="replace"), directory),
            status=proc.returncode,
        )


def _env() -> dict[str, str]:
    # no PYTHON* settings of the host, and no coverage: under coverage a plain `python` finalizes
    # differently at exit (it is the reference, so it must run as a user runs it)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "COVERAGE"))}
    env["MPLBACKEND"] = "Agg"
    return env


class Client:
    """A synchronous worker session: its output goes to files read at the end."""

    def __init__(self, python: str, directory: Path) -> None:
        self.directory = directory
        req_r, self.to_worker = os.pipe()
        self.from_worker, rep_w = os.pipe()
        ctl_r, self.control = os.pipe()
        self.out = open(directory / "out", "wb")
        self.err = open(directory / "err", "wb")
        work = directory / "work"
        work.mkdir()
        self.work = work
        self.proc = subprocess.Popen(
            [python, str(WORKER_PATH), "--fds", str(req_r), str(rep_w), str(ctl_r), "--workdir", str(work)],
            stdin=subprocess.DEVNULL,
            stdout=self.out,
            stderr=self.err,
            pass_fds=(req_r, rep_w, ctl_r),
            env=_env(),
            cwd=work,
        )
        for fd in (req_r, rep_w, ctl_r):
            os.close(fd)
        self.buf = b""
        self.calls = 0
        kind, self.hello = self.recv()
        assert kind == b"H", self.hello

    def recv(self) -> tuple[bytes, dict[str, Any]]:
        while len(self.buf) < 4 or len(self.buf) < 4 + HEADER.unpack_from(self.buf)[0]:
            chunk = os.read(self.from_worker, 65536)
            if not chunk:
                return b"", {}
            self.buf += chunk
        size = HEADER.unpack_from(self.buf)[0]
        body, self.buf = self.buf[4 : 4 + size], self.buf[4 + size :]
        return body[:1], json.loads(body[1:])

    def call(self, src: str, line: int = 1, **extra: Any) -> dict[str, Any]:
        self.calls += 1
        payload = {"i": self.calls, "src": src, "line": line, "fig": False, "show": 1, **extra}
        body = b"E" + json.dumps(payload).encode()
        os.write(self.to_worker, HEADER.pack(len(body)) + body)
        kind, reply = self.recv()
        assert kind in (b"R", b""), reply
        return reply

    def output(self, name: str) -> str:
        return (self.directory / name).read_text(encoding="utf-8", errors="replace")

    def close(self) -> int:
        for fd in (self.to_worker, self.control):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            status = self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.close(self.from_worker)
            self.out.close()
            self.err.close()
        return status


def statements(source: str) -> list[int]:
    """The first line of each top-level statement (decorators included)."""
    starts = []
    for node in ast.parse(source).body:
        decorators = getattr(node, "decorator_list", [])
        starts.append(min([node.lineno] + [d.lineno for d in decorators]))
    return starts


def batches(source: str, mode: str) -> list[tuple[str, int]]:
    """[(code, first line)]: the whole program, or one part per top-level statement (a syntax
    error anywhere: the lines before it, then the rest, as the chunker would send them)."""
    lines = source.splitlines(keepends=True) if "\u2028" not in source else _python_lines(source)
    if mode == "one":
        return [(source, 1)]
    try:
        starts = statements(source)
    except SyntaxError as exc:
        bad = exc.lineno or 1
        try:
            starts = [s for s in statements("".join(lines[: bad - 1])) if s < bad] + [bad]
        except SyntaxError:
            starts = [1]
    starts = sorted({1, *starts})
    ends = [*starts[1:], len(lines) + 1]
    return [("".join(lines[a - 1 : b - 1]), a) for a, b in zip(starts, ends, strict=True)]


def _python_lines(source: str) -> list[str]:
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+", source)


def run_worker(python: str, source: str, mode: str) -> Run:
    """Run ``source`` in a worker as the pipeline would: stop at the first call that stops the
    program, then end it (an "end" request with nothing left to run)."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp).resolve()
        client = Client(python, directory)
        replies: list[dict[str, Any]] = []
        status: int | None = None
        try:
            parts = batches(source, mode)
            for index, (code, line) in enumerate(parts):
                last = index == len(parts) - 1
                reply = client.call(code, line, **({"end": 1} if last else {}))
                replies.append(reply)
                if not reply or reply.get("q"):
                    break
                if reply["err"] is not None or reply["x"] is not None:
                    reply = client.call("", line + code.count("\n"), end=1)
                    replies.append(reply)
                    break
            status = replies[-1].get("x") if replies[-1] else None
        finally:
            client.close()
        work = client.work
        return Run(
            stdout=normalise(client.output("out"), work),
            stderr=normalise(client.output("err"), work),
            status=status,
            replies=tuple(replies),
        )


def check_same(python: str, source: str, modes: tuple[str, ...] = ("one", "many")) -> Iterator[Run]:
    expected = run_python(python, source)
    for mode in modes:
        got = run_worker(python, source, mode)
        assert (got.stdout, got.stderr, got.status) == (expected.stdout, expected.stderr, expected.status), (
            mode
        )
        yield got


def same(python: str, source: str, modes: tuple[str, ...] = ("one", "many")) -> list[Run]:
    return list(check_same(python, source, modes))


def first_error(run: Run) -> dict[str, Any]:
    return next(reply["err"] for reply in run.replies if reply.get("err"))


# -- the program's view of itself ------------------------------------------------------------
IDENTITY = '''"""The program's docstring."""
import os
import pickle
import sys

class Point:
    def __init__(self, x):
        self.x = x

"""A string statement, not a docstring."""
import __main__
print(__name__, __doc__, __spec__, __package__, __cached__)
print(sys.modules["__main__"] is __main__, __main__.__dict__ is globals())
print(sorted(k for k in globals() if k.startswith("__")))
print(type(__builtins__).__name__, type(__loader__).__name__, __annotations__)
print(os.path.basename(__file__), [os.path.basename(a) for a in sys.argv], len(sys.argv))
print(pickle.loads(pickle.dumps(Point(3))).x, Point.__module__, Point.__qualname__)
print(sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
import signal, threading
print(threading.active_count(), signal.getsignal(signal.SIGINT) is signal.default_int_handler)
print([os.path.basename(a) for a in getattr(sys, "orig_argv", ["python", "program.py"])[1:]])
'''


@pytest.mark.parametrize("python", PYTHONS)
def test_main_module_identity(python: str) -> None:
    runs = same(python, IDENTITY)
    assert "The program's docstring." in runs[0].stdout


@pytest.mark.parametrize("python", PYTHONS)
def test_hello_names_the_program(python: str, tmp_path: Path) -> None:
    client = Client(python, tmp_path)
    try:
        version = subprocess.run(
            [python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert client.hello["python"] == version
        assert client.hello["program"] == str(client.work / "program.py")
    finally:
        assert client.close() == 0


LIBRARIES = {
    "unittest": (
        "import unittest\n"
        "class T(unittest.TestCase):\n"
        "    def test_ok(self):\n"
        "        self.assertEqual(1 + 1, 2)\n"
        "    def test_bad(self):\n"
        "        self.assertEqual(1 + 1, 3)\n"
        "unittest.main(verbosity=0)\n"
    ),
    "doctest": (
        "def double(x):\n"
        '    """\n'
        "    >>> double(2)\n"
        "    4\n"
        "    >>> double(3)\n"
        "    7\n"
        '    """\n'
        "    return 2 * x\n"
        "import doctest\n"
        "print(doctest.testmod())\n"
    ),
    "multiprocessing": (
        "import multiprocessing\n"
        "def square(x):\n"
        "    return x * x\n"
        "if __name__ == '__main__':\n"
        "    with multiprocessing.get_context('fork').Pool(2) as pool:\n"
        "        print(pool.map(square, range(5)))\n"
    ),
    "inspect": (
        "import inspect\n"
        "class Thing:\n"
        '    """A thing."""\n'
        "    def size(self):\n"
        "        return 3\n"
        "print(inspect.getsource(Thing.size), inspect.getdoc(Thing), inspect.getmodule(Thing).__name__)\n"
        "print(inspect.getsource(Thing), getattr(Thing, '__firstlineno__', 2))\n"
    ),
}


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("name", sorted(LIBRARIES))
def test_libraries_that_run_from_main(python: str, name: str) -> None:
    same(python, LIBRARIES[name])


@pytest.mark.parametrize("python", PYTHONS)
def test_recursion_limit_counts_the_program_frames_only(python: str) -> None:
    source = (
        "import sys\n"
        "def depth(n=0):\n"
        "    try:\n"
        "        return depth(n + 1)\n"
        "    except RecursionError:\n"
        "        return n\n"
        "print(sys.getrecursionlimit(), depth())\n"
        "sys.setrecursionlimit(300)\n"
        "print(sys.getrecursionlimit(), depth())\n"
        + "print(depth())\n"
        * 5  # one call each in eager mode: the depth never drifts
    )
    same(python, source)


# -- exit statuses ---------------------------------------------------------------------------
EXITS = [
    "sys.exit()",
    "sys.exit(None)",
    "sys.exit(0)",
    "sys.exit(False)",
    "sys.exit(True)",
    "sys.exit(3)",
    "sys.exit(256)",
    "sys.exit(-1)",
    "sys.exit(2**40 + 5)",
    "sys.exit('bye now')",
    "sys.exit('')",
    "sys.exit(2.5)",
    "raise SystemExit(7)",
]


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("call", EXITS)
def test_sys_exit_status_and_text(python: str, call: str) -> None:
    source = f"import sys\nprint('before')\n{call}\nprint('never')\n"
    runs = same(python, source)
    assert "never" not in runs[0].stdout


@pytest.mark.parametrize("python", PYTHONS)
def test_os_exit_is_the_program_status(python: str) -> None:
    source = "import os\nprint('flushed', flush=True)\nif True:\n    print('buffered: lost as with python')\n    os._exit(4)\n"
    for run in same(python, source):
        assert run.status == 4 and run.replies[-1].get("q") == 1 and run.replies[-1]["err"] is None


@pytest.mark.parametrize("python", PYTHONS)
def test_os_exit_from_a_thread_mid_call(python: str) -> None:
    source = (
        "import os, threading, time\nthreading.Thread(target=lambda: os._exit(260)).start()\ntime.sleep(30)\n"
    )
    for run in same(python, source):
        assert run.status == 4


@pytest.mark.parametrize("python", PYTHONS)
def test_uncaught_exceptions_print_and_exit_as_python(python: str) -> None:
    source = "def f(n):\n    return 1 / n\n\nprint('start')\nf(0)\n"
    runs = same(python, source)
    err = runs[0].replies[0]["err"]
    assert err["type"] == "ZeroDivisionError" and err["printed"] and "internal" not in err
    assert [frame[2] for frame in err["frames"]] == ["<module>", "f"]
    assert "_worker.py" not in runs[0].stderr and "During handling" not in runs[0].stderr


@pytest.mark.parametrize("python", PYTHONS)
def test_uncaught_keyboard_interrupt(python: str) -> None:
    same(python, "print('x')\nraise KeyboardInterrupt\n")


@pytest.mark.parametrize("python", PYTHONS)
def test_program_excepthook_is_called(python: str) -> None:
    source = (
        "import sys\n"
        "def hook(kind, value, tb):\n"
        "    print('hooked', kind.__name__, value, tb.tb_lineno)\n"
        "sys.excepthook = hook\n"
        "raise ValueError('boom')\n"
    )
    runs = same(python, source)
    assert runs[0].stdout == "hooked ValueError boom 5\n"


# -- the end of the program ------------------------------------------------------------------
@pytest.mark.parametrize("python", PYTHONS)
def test_threads_joined_then_atexit_at_the_end(python: str) -> None:
    source = (
        "import atexit, sys, threading, time\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    print('thread done')\n"
        "@atexit.register\n"
        "def bye():\n"
        "    print('atexit ran')\n"
        "def broken():\n"
        "    raise RuntimeError('in atexit')\n"
        "atexit.register(broken)\n"
        "threading.Thread(target=late).start()\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "print('main done')\n"
    )
    runs = same(python, source)
    assert runs[0].stdout == "main done\nthread done\natexit ran\n"
    assert "RuntimeError: in atexit" in runs[0].stderr


@pytest.mark.parametrize("python", PYTHONS)
def test_atexit_after_sys_exit(python: str) -> None:
    source = "import atexit, sys\natexit.register(print, 'atexit')\nsys.exit('stop')\n"
    same(python, source)


@pytest.mark.parametrize("python", PYTHONS)
def test_eof_ends_the_program(python: str, tmp_path: Path) -> None:
    client = Client(python, tmp_path)
    reply = client.call("import atexit\natexit.register(print, 'at exit')\n")
    assert reply["err"] is None and reply["x"] is None
    assert client.close() == 0
    assert client.output("out") == "at exit\n"


# -- output ----------------------------------------------------------------------------------
@pytest.mark.parametrize("python", PYTHONS[:2])
def test_background_output_between_calls_is_written(python: str, tmp_path: Path) -> None:
    client = Client(python, tmp_path)
    try:
        reply = client.call(
            "import threading, time\n"
            "def tick():\n"
            "    time.sleep(0.1)\n"
            "    print('from the thread')\n"
            "threading.Thread(target=tick, daemon=True).start()\n"
        )
        assert reply["err"] is None
        deadline = time.monotonic() + 20
        while "from the thread\n" not in client.output("out") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.output("out") == "from the thread\n"  # no further call needed
    finally:
        client.close()


def wait_for(client: Client, name: str, text: str) -> str:
    deadline = time.monotonic() + 20  # bounds a hang; no timing is asserted
    while text not in client.output(name) and time.monotonic() < deadline:
        time.sleep(0.02)
    return client.output(name)


@pytest.mark.parametrize("python", PYTHONS)
def test_flush_request_and_interrupt_during_a_call(python: str, tmp_path: Path) -> None:
    client = Client(python, tmp_path)
    try:
        body = (
            b"E"
            + json.dumps({"i": 1, "src": "import time\nprint('early')\ntime.sleep(60)\n", "line": 1}).encode()
        )
        os.write(client.to_worker, HEADER.pack(len(body)) + body)
        client.calls = 1
        deadline = time.monotonic() + 20  # bounds a hang; no timing is asserted
        # Wait for the whole line: print writes "early" and "\n" separately, and a flush may land between.
        while "early\n" not in client.output("out") and time.monotonic() < deadline:
            os.write(client.control, struct.pack(">I", 0))  # flush (repeated: the print may not have run)
            time.sleep(0.05)
        assert client.output("out") == "early\n"
        os.write(client.control, struct.pack(">I", 7))  # not the running call: ignored
        os.write(client.control, struct.pack(">I", 1))
        kind, reply = client.recv()
        assert kind == b"R" and reply["err"]["type"] == "KeyboardInterrupt" and reply["err"]["line"] == 3
        assert "internal" not in reply["err"] and reply["x"] is None
        assert client.call("print('after')\n", 4)["err"] is None  # the session goes on
        assert wait_for(client, "out", "after\n") == "early\nafter\n"
    finally:
        client.close()


@pytest.mark.parametrize("python", PYTHONS[:2])
def test_partial_line_before_fork_is_written_once(python: str) -> None:
    """A documented difference: Python would repeat "start " in the child (both processes hold
    it in their stdout buffer); the worker flushes before ``fork``."""
    source = (
        "import os, sys\n"
        "def spawn():\n"
        "    sys.stdout.write('start ')\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        print('child')\n"
        "        sys.exit(0)\n"
        "    os.waitpid(pid, 0)\n"
        "    print('parent')\n"
        "spawn()\n"
    )
    assert run_python(python, source).stdout == "start child\nstart parent\n"
    for mode in ("one", "many"):
        assert run_worker(python, source, mode).stdout == "start child\nparent\n"


@pytest.mark.parametrize("python", PYTHONS)
def test_closed_stdout_fails_at_exit_as_in_python(python: str) -> None:
    source = "import os\nprint('a')\nos.close(1)\nprint('b')\n"
    expected = run_python(python, source)
    assert expected.status == 120 and "Bad file descriptor" in expected.stderr
    one = run_worker(python, source, "one")
    assert (one.stdout, one.stderr, one.status) == (expected.stdout, expected.stderr, expected.status)
    # Eager mode flushed 'a' when its call ended; what comes after the close fails as in Python.
    many = run_worker(python, source, "many")
    assert (many.stdout, many.stderr, many.status) == ("a\n", expected.stderr, 120)


@pytest.mark.parametrize("python", PYTHONS)
def test_warnings_once_at_their_line(python: str) -> None:
    source = (
        "import warnings\n"
        "def f():\n"
        "    warnings.warn('careful')\n"
        "for i in range(3):\n"
        "    f()\n"
        "warnings.warn('again', DeprecationWarning)\n"
    )
    runs = same(python, source)
    assert runs[0].stderr.count("UserWarning: careful") == 1


@pytest.mark.parametrize("python", PYTHONS)
def test_syntax_warning_at_its_own_line(python: str) -> None:
    source = "x = 1\nprint('a')\n\nif x is 1:\n    print('one')\ny = [(1, 2) (3, 4)] if False else 0\n"
    runs = same(python, source)
    if "3.7" not in python:
        assert ":4: SyntaxWarning" in runs[0].stderr and runs[0].stderr.count(":4: SyntaxWarning") == 1


@pytest.mark.parametrize("python", PYTHONS)
def test_syntax_warning_as_error_is_a_syntax_error(python: str) -> None:
    source = "import warnings\nwarnings.simplefilter('error')\nx = 1\nprint(x is 1)\n"
    expected = run_python(python, source)  # compiled before the filter is set: a warning
    assert expected.status == 0
    many = run_worker(python, source, "many")  # compiled after it: an error, at line 4
    if "3.7" not in python:
        err = first_error(many)
        assert err["type"] == "SyntaxError" and err["line"] == 4


@pytest.mark.parametrize("python", PYTHONS)
def test_stdin_is_at_eof(python: str) -> None:
    same(python, "try:\n    input('prompt> ')\nexcept EOFError as e:\n    print('eof', repr(e))\n")


@pytest.mark.parametrize("python", PYTHONS[:2])
def test_line_breaks_python_does_not_count(python: str) -> None:
    source = "s = 'a\u2028b\x0cc\x1cd'\nprint(len(s))\n\x0c\nprint('ok')\n"
    same(python, source)


# -- syntax errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("python", PYTHONS)
def test_syntax_error_runs_nothing_of_the_call(python: str) -> None:
    source = "print('a')\nx = 1\ny = (1 +)\nprint('b')\n"
    (one,) = same(python, source, ("one",))
    err = one.replies[0]["err"]
    assert err["type"] == "SyntaxError" and err["line"] == 3 and err["frames"] == []
    assert err["traceback"].endswith("SyntaxError: " + err["message"] + "\n")
    assert not err["traceback"].startswith("Traceback") and "During handling" not in err["traceback"]
    # With cuts the whole call is compiled first too.
    with tempfile.TemporaryDirectory() as tmp:
        client = Client(python, Path(tmp))
        reply = client.call(source, 1, cuts=[2, 3], end=1)
        client.close()
        assert reply["err"]["type"] == "SyntaxError" and client.output("out") == "" and reply["x"] == 1


@pytest.mark.parametrize("python", PYTHONS)
def test_unexpected_eof_as_python_reads_the_file(python: str) -> None:
    same(python, "print('a')\nx = 1\ny = (x +\nprint('b')\n", ("one",))


@pytest.mark.parametrize("python", PYTHONS)
def test_syntax_error_in_a_later_call(python: str) -> None:
    source = "print('a')\nx = 1\nprint(x +)\n"
    expected = run_python(python, source)
    many = run_worker(python, source, "many")
    assert many.stdout == "a\n"  # the one allowed difference: it arrived before the error
    assert (many.stderr, many.status) == (expected.stderr, expected.status)


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize(
    "source",
    [
        "import os\nfrom __future__ import annotations\n",
        '"""doc"""\nx = 1\n\nfrom __future__ import annotations\n',
        '"""doc"""\n"""two"""\nfrom __future__ import annotations\n',
    ],
    ids=["after-import", "after-assignment", "after-two-strings"],
)
def test_late_future_import_is_refused(python: str, source: str) -> None:
    for run in same(python, source):
        assert first_error(run)["type"] == "SyntaxError"


@pytest.mark.parametrize("python", PYTHONS)
def test_future_import_at_the_beginning(python: str) -> None:
    source = (
        '"""doc"""\n# a comment\nfrom __future__ import annotations\nfrom __future__ import division\n'
        "def f(x: Undefined) -> None:\n    pass\nprint(f.__annotations__, __doc__)\n"
    )
    same(python, source)


# -- fork ------------------------------------------------------------------------------------
@pytest.mark.parametrize("python", PYTHONS)
def test_forked_child_ends_as_a_python_process(python: str) -> None:
    source = (
        "import atexit, os, sys\n"
        "atexit.register(print, 'atexit in', 'someone')\n"
        "def spawn():\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        print('child')\n"
        "        sys.exit(3)\n"
        "    return pid\n"
        "pid = spawn()\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print('parent saw', os.WEXITSTATUS(status))\n"
    )
    runs = same(python, source)
    assert runs[0].stdout == "child\natexit in someone\nparent saw 3\natexit in someone\n"


@pytest.mark.parametrize("python", PYTHONS)
def test_forked_child_runs_the_later_statements(python: str) -> None:
    """A child forked at the top level goes on with the program's later statements, one call
    per statement too (its parent forwards them), until it exits."""
    source = (
        "import atexit, os, sys\n"
        "print('start', flush=True)\n"
        "pid = os.fork()\n"
        "who = 'child' if pid == 0 else 'parent'\n"
        "atexit.register(print, who, 'at exit')\n"
        "if pid == 0:\n"
        "    print(who, 'runs the later statements', flush=True)\n"
        "    sys.exit(5)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(who, 'saw', os.WEXITSTATUS(status))\n"
    )
    runs = same(python, source)
    assert runs[0].stdout == (
        "start\nchild runs the later statements\nchild at exit\nparent saw 5\nparent at exit\n"
    )


@pytest.mark.parametrize("python", PYTHONS[:2])
def test_forked_child_ends_when_its_parent_waits_for_it(python: str) -> None:
    """A documented difference, one call per statement: the parent waiting for its child gets no
    more code until the wait ends, so the child, having run all it was given, ends then (Python
    would run the later statements in the child too); it never hangs."""
    source = (
        "import os\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    print('child', flush=True)\n"
        "else:\n"
        "    os.waitpid(pid, 0)\n"
        "print('after', 'child' if pid == 0 else 'parent')\n"
    )
    assert run_python(python, source).stdout == "child\nafter child\nafter parent\n"
    assert run_worker(python, source, "one").stdout == "child\nafter child\nafter parent\n"
    assert run_worker(python, source, "many").stdout == "child\nafter parent\n"


@pytest.mark.parametrize("python", PYTHONS[:2])
def test_forked_child_uncaught_error_is_printed(python: str) -> None:
    source = (
        "import os\n"
        "def spawn():\n"
        "    if os.fork() == 0:\n"
        "        raise ValueError('in the child')\n"
        "    return os.wait()[1]\n"
        "print('child status', os.WEXITSTATUS(spawn()))\n"
    )
    same(python, source)


# -- refusing old interpreters ---------------------------------------------------------------
@pytest.mark.parametrize("version", ["2.7", "3.6"])
def test_old_interpreter_refused_with_one_line(version: str, tmp_path: Path) -> None:
    python = interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine")
    proc = subprocess.run(
        [python, str(WORKER_PATH), "--fds", "0", "1", "2", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert re.fullmatch(r"eagerexec worker needs Python 3\.7 to 3\.13, this is \d+\.\d+\.\d+\n", proc.stderr)


def test_worker_source_is_ascii_without_the_old_output_cap() -> None:
    for path in WORKER_FILES:
        text = path.read_bytes()
        assert text.isascii(), path  # Python 2 refuses non-ASCII source without a coding line
        assert b"--max-output" not in text  # hosts read its absence: the worker no longer caps output
        assert len(text.splitlines()) < 600, path


def test_worker_files_are_the_ones_the_backends_ship() -> None:
    from eagerexec.backends._workerclient import WORKER_FILES as SHIPPED

    assert SHIPPED == WORKER_FILES and all(path.is_file() for path in WORKER_FILES)
    on_disk = [p.name for p in WORKER_PATH.parent.glob("_worker*.py")]
    worker = [n for n in on_disk if n == "_worker.py" or n.startswith("_worker_")]
    assert sorted(worker) == sorted(p.name for p in WORKER_FILES)


PRIVATE = """import os, sys
print(sorted(m for m in sys.modules if "worker" in m or "eagerexec" in m))
print(sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
for name in ("_worker_io", "_worker_exec", "_eagerexec_worker_io", "_eagerexec_worker_exec"):
    try:
        __import__(name)
    except ImportError as exc:
        print(type(exc).__name__, exc.name)
"""


@pytest.mark.parametrize("python", PYTHONS)
def test_worker_files_stay_out_of_the_programs_view(python: str) -> None:
    """The worker's sibling files are neither importable nor listed in ``sys.modules``, and
    ``sys.path[0]`` is the program's directory, as under ``python program.py``."""
    runs = same(python, PRIVATE)
    assert runs[0].stdout.startswith("[]\nTrue\nModuleNotFoundError _worker_io\n")


# -- internal errors -------------------------------------------------------------------------
def test_internal_error_is_marked(tmp_path: Path) -> None:
    client = Client(sys.executable, tmp_path)
    try:
        reply = client.call("x = 1\n", "one")  # type: ignore[arg-type]
        assert reply["err"]["internal"] is True
        assert client.call("print('alive')\n", 1)["err"] is None  # the session goes on
    finally:
        client.close()


# -- through the public API ------------------------------------------------------------------
def api_run(python: str, parts: list[tuple[str, int]]) -> list[Any]:
    """Run ``parts`` as ExecRequests on a local backend under ``python``; the last one ends the
    program."""
    from eagerexec import ExecRequest, open_backend

    async def main() -> list[Any]:
        outcomes = []
        async with open_backend("local", python=python) as backend:
            for index, (code, line) in enumerate(parts):
                request = ExecRequest(code=code, first_line=line, end=index == len(parts) - 1)
                outcomes.append(await backend.execute(request))
        return outcomes

    return asyncio.run(asyncio.wait_for(main(), 120))


API_PROGRAM = (
    "import atexit, sys, threading, time\n"
    "atexit.register(print, 'atexit ran')\n"
    "threading.Thread(target=lambda: (time.sleep(0.2), print('thread done'))).start()\n"
    "print('main done')\n"
    "sys.exit(3)\n"
)


@pytest.mark.parametrize("python", [PYTHONS[0], PYTHONS[1], PYTHONS[-1]])
@pytest.mark.parametrize("mode", ["one", "many"])
def test_public_api_ends_the_program_as_python(python: str, mode: str) -> None:
    expected = run_python(python, API_PROGRAM)
    assert expected.status == 3
    outcomes = api_run(python, batches(API_PROGRAM, mode))
    assert "".join(o.stdout for o in outcomes) == expected.stdout == "main done\nthread done\natexit ran\n"
    assert outcomes[-1].exit_code == 3 and all(
        o.error is None or o.error.type == "SystemExit" for o in outcomes
    )


@pytest.mark.parametrize("python", PYTHONS)
def test_main_names_are_finalized_at_exit(python: str) -> None:
    source = (
        "class Noisy:\n"
        "    def __init__(self, name):\n"
        "        self.name = name\n"
        "    def __del__(self):\n"
        "        print('finalized', self.name)\n"
        "_private = Noisy('private')\n"
        "public = Noisy('public')\n"
        "print('end of program')\n"
    )
    runs = same(python, source)
    assert runs[0].stdout == "end of program\nfinalized private\nfinalized public\n"


@pytest.mark.parametrize("python", PYTHONS[:2])
def test_program_file_holds_exactly_the_program_after_each_start_again(python: str, tmp_path: Path) -> None:
    """A call at line 1 starts the program's text again: ``__file__`` then holds exactly the new
    program, shorter or longer than the last one, in bytes as well as in characters."""
    client = Client(python, tmp_path)
    try:
        programs = [
            "x = 'ééééé'  # long, two bytes a character\ny = 2\n",
            "z = 'aaaaa'\n",  # fewer bytes than the first, as many characters as its first line
            "w = 1\n\n\nv = [\n    1,\n]\n",  # longer again
            "pass\n",
        ]
        for program in programs:
            assert client.call(program, 1)["err"] is None
            reply = client.call("print(repr(open(__file__, encoding='utf-8').read()))\n", program.count("\n") + 1)
            assert reply["err"] is None
        expected = "".join(
            repr(p + "print(repr(open(__file__, encoding='utf-8').read()))\n") + "\n" for p in programs
        )
        assert wait_for(client, "out", expected[-20:]) == expected
    finally:
        client.close()
