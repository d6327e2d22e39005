"""The exactness contract (issue 13): every program of tests/exact_programs gives, through
eagerexec, what ``python program.py`` gives, field by field.

Each program runs once as ``python program.py`` (fresh temp dir, stdin from /dev/null; in the
image for docker) and through ``Session(...).run(source, last=True)`` on every backend, in serial
and eager mode, at two rates: ``fast`` (the whole text as one string: one batch) and ``slow`` (one
statement per delta with a pause: one batch per statement). Compared: stdout, stderr (temp paths
normalised), the exit status (``Result.exit_code``, None meaning 0, and 1 when the program
raised), the error's type, message and the program's traceback frames.

The one allowed difference: in eager mode the statements before a syntax error have run, so the
expected stdout/stderr are those of the text before the failing statement.

Two tables keep the known differences in one place:

* ``XFAIL``: differences that are bugs being fixed (issue 13). Each is a strict xfail: once the
  fix lands the test fails until its row is removed.
* ``BY_DESIGN``: differences a backend cannot avoid, on every run or only in one mode at one
  rate (README, "Exactness: where backends differ"). The suite asserts that the run differs, in
  the documented fields only.

A backend that is unavailable is skipped with the reason, unless it is named in
``EAGEREXEC_REQUIRE_BACKENDS`` (comma list): then the test fails.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from exact_harness import (
    Observed,
    eager_syntax_prefix,
    observe,
    parse_error,
    run_eager,
    run_python,
)

PROGRAMS_DIR = Path(__file__).parent / "exact_programs"
PROGRAMS = sorted(p.stem for p in PROGRAMS_DIR.glob("*.py") if not p.stem.startswith("_"))
BACKENDS = ["local", "sandbox", "docker", "jupyter"]
MODES = ["serial", "eager"]
RATES = ["fast", "slow"]
_SYNTAX = ("SyntaxError", "IndentationError", "TabError")

# -- the tables ---------------------------------------------------------------------------------
# Known bugs (issue 13), one row each: (programs, backends, modes, rates, what differs). "*" is
# every mode or rate. Measured on the working tree of 2026-12-02; a fix turns its rows into
# failures (strict xfail): delete the row then.
_WORKER = ("local", "sandbox", "docker")
_SYNTAX_PROGRAMS = ("future_not_first", "return_outside", "syntax_error_middle", "unexpected_indent")
_XFAIL_ROWS: list[tuple[tuple[str, ...], tuple[str, ...], str, str, str]] = [
]
XFAIL: dict[tuple[str, str, str, str], str] = {
    (program, backend, mode, rate): why
    for programs, backends, mode, rate, why in _XFAIL_ROWS
    for program in programs
    for backend in backends
}

# Differences by design, one line each in README ("Exactness: where backends differ").
TRACEBACK = "jupyter: tracebacks are IPython's (its layout, cell file names), no program frames"
MAIN = "jupyter: the kernel's own __main__ (no __file__, IPython's warning filters, argv, flags, frames, input transformer)"
END = "jupyter: the kernel outlives the program: no atexit, non-daemon threads not joined, no finalizers"
LOOP = "jupyter: the kernel runs an event loop: asyncio.run() refuses to start"
EXCEPTHOOK = "jupyter: IPython shows errors itself: sys.excepthook is not called"
STDIN = "jupyter: no stdin: input() raises StdinNotImplementedError"
PROCESS = "jupyter: the kernel's process: its stdio objects, threads, descriptors, exit() and os._exit()"
PRIVATE = (
    "worker backends: the program's file lives in the session's private directory, never in the workdir: "
    "os.listdir('.') has no program.py; dirname(__file__) is neither the cwd nor sys.path[0]"
)
FORK = "jupyter: os.fork() in a kernel is unsupported (the child has the kernel's sockets, no IOPub thread: it may hang)"
STACK = (
    "worker backends: the worker's own frames are under the program's module frame (f_back, inspect.stack(), "
    "traceback.print_stack): the frame that runs the program's code is always on the stack"
)
FDS = "worker backends: the worker's channels to the host are open descriptors in the program (/proc/self/fd)"
FLUSHED = (
    "worker backends, eager mode: the program's output is flushed when each call ends (the call's output is "
    "reported then, not held for an unbounded wait on the model): what os._exit() loses in python is kept, a "
    "child writing the same pipe comes after the parent's earlier prints"
)

# (program, backend) -> why the program is not run there at all (it cannot finish reliably).
NOT_RUN: dict[tuple[str, str], str] = {("fork_child", "jupyter"): FORK}

# (program, backend, mode, rate) -> (the fields allowed to differ, why); "*" is every mode or rate.
# The suite asserts that the run differs from python's, in those fields only.
BY_DESIGN: dict[tuple[str, str, str, str], tuple[frozenset[str], str]] = {
    (program, backend, "*", "*"): (frozenset(fields), why)
    for (program, backend), (fields, why) in {
        ("assert_fail", "jupyter"): (["frames", "stderr"], TRACEBACK),
        ("raise_chained", "jupyter"): (["frames", "stderr"], TRACEBACK),
        ("raise_toplevel", "jupyter"): (["frames", "stderr"], TRACEBACK),
        ("recursion_error", "jupyter"): (["frames", "stderr"], TRACEBACK),
        ("keyboard_interrupt", "jupyter"): (["frames", "status", "stderr"], TRACEBACK),
        ("exception_in_thread", "jupyter"): (["stderr"], TRACEBACK),
        ("dunders", "jupyter"): (["error_message", "error_type", "status", "stderr", "stdout"], MAIN),
        ("docstring_late", "jupyter"): (["stdout"], MAIN),
        ("doctest_testmod", "jupyter"): (["stdout"], MAIN),
        ("inspect_source", "jupyter"): (["error_message", "error_type", "status", "stderr", "stdout"], MAIN),
        ("warnings_filters", "jupyter"): (["stderr"], MAIN),
        ("warnings_defaults", "jupyter"): (["stderr", "stdout"], MAIN),
        ("syntax_warning", "jupyter"): (["stderr"], MAIN),
        ("u2028_strings", "jupyter"): (["stderr"], MAIN),
        ("unittest_main", "jupyter"): (["status", "stderr", "stdout"], MAIN),
        ("cwd_files", "jupyter"): (["stdout"], MAIN),
        ("frames_view", "jupyter"): (["stdout"], MAIN),
        ("print_stack", "jupyter"): (["stdout"], MAIN),
        ("sys_flags", "jupyter"): (["stdout"], MAIN),
        ("finalizer_at_exit", "jupyter"): (["stdout"], END),
        ("atexit_handlers", "jupyter"): (["stderr", "stdout"], END),
        ("atexit_after_error", "jupyter"): (["frames", "stderr", "stdout"], END),
        ("thread_nondaemon", "jupyter"): (["stdout"], END),
        ("async_toplevel", "jupyter"): (["error_message", "error_type", "status", "stderr", "stdout"], LOOP),
        ("excepthook", "jupyter"): (["error_message", "error_type", "stderr", "stdout"], EXCEPTHOOK),
        ("stdin_empty", "jupyter"): (["error_message", "error_type", "frames", "stderr", "stdout"], STDIN),
        ("stdio_props", "jupyter"): (["error_message", "error_type", "status", "stderr", "stdout"], PROCESS),
        ("subprocess_buffered", "jupyter"): (["stdout"], PROCESS),
        ("os_close_stdout", "jupyter"): (["status", "stderr", "stdout"], PROCESS),
        ("open_fds", "jupyter"): (["stdout"], PROCESS),
        ("threads_view", "jupyter"): (["stdout"], PROCESS),
        ("os_exit_4", "jupyter"): (["error_message", "error_type", "status", "stdout"], PROCESS),
        ("exit_builtin", "jupyter"): (["status"], PROCESS),
    }.items()
}
_BY_DESIGN_WORKER_ROWS: list[tuple[tuple[str, ...], str, str, tuple[str, ...], str]] = [
    # (programs, mode, rate, fields, why), on each of local, sandbox, docker
    (("cwd_files", "dunders"), "*", "*", ("stdout",), PRIVATE),
    (("frames_view", "print_stack"), "*", "*", ("stdout",), STACK),
    (("open_fds",), "*", "*", ("stdout",), FDS),
    (("os_exit_4", "subprocess_buffered"), "eager", "slow", ("stdout",), FLUSHED),
]
BY_DESIGN.update(
    {
        (program, backend, mode, rate): (frozenset(fields), why)
        for programs, mode, rate, fields, why in _BY_DESIGN_WORKER_ROWS
        for program in programs
        for backend in _WORKER
    }
)


def _keys(program: str, backend: str, mode: str, rate: str) -> list[tuple[str, str, str, str]]:
    """The table keys that can name this run, most specific first ("*": every mode or rate)."""
    return [(program, b, m, r) for b in (backend, "*") for m in (mode, "*") for r in (rate, "*")]


def _by_design(program: str, backend: str, mode: str, rate: str) -> tuple[frozenset[str], str] | None:
    for key in _keys(program, backend, mode, rate):
        if key in BY_DESIGN:
            return BY_DESIGN[key]
    return None


def _xfail_reason(program: str, backend: str, mode: str, rate: str) -> str | None:
    for key in _keys(program, backend, mode, rate):
        if key in XFAIL:
            return XFAIL[key]
    return None


# -- backends -------------------------------------------------------------------------------------
def _required() -> set[str]:
    return {b.strip() for b in os.environ.get("EAGEREXEC_REQUIRE_BACKENDS", "").split(",") if b.strip()}


@functools.cache
def _docker_image() -> str:
    return os.environ.get("EAGEREXEC_DOCKER_IMAGE", "eagerexec/python:bookworm")


@functools.cache
def _problem(backend: str) -> str | None:
    """Why ``backend`` cannot run here (None when it can): one start of a real session."""
    from eagerexec import EagerError, ExecRequest, open_backend

    options: dict[str, object] = {"image": _docker_image()} if backend == "docker" else {}

    async def probe() -> None:
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o777)
            async with open_backend(backend, workdir=d, **options) as b:  # type: ignore[arg-type]
                await b.execute(ExecRequest(code="pass"))

    try:
        asyncio.run(probe())
    except (EagerError, ImportError, OSError) as exc:
        return f"{backend} unavailable: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    return None


def need(backend: str) -> None:
    problem = _problem(backend)
    if problem is None:
        return
    if backend in _required():
        pytest.fail(f"{problem} (required by EAGEREXEC_REQUIRE_BACKENDS)")
    pytest.skip(problem)


def _options(backend: str) -> dict[str, object]:
    return {"image": _docker_image()} if backend == "docker" else {}


# -- the reference ----------------------------------------------------------------------------------
@functools.cache
def reference(program: str, where: str) -> Observed:
    """``python program.py`` (``where``: ``host`` or ``docker``)."""
    code = (PROGRAMS_DIR / f"{program}.py").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as d:
        return run_python(code, Path(d), docker_image=_docker_image() if where == "docker" else None)


@functools.cache
def _prefix_reference(program: str, where: str) -> Observed | None:
    code = (PROGRAMS_DIR / f"{program}.py").read_text(encoding="utf-8")
    prefix = eager_syntax_prefix(code)
    if prefix is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        return run_python(prefix, Path(d), docker_image=_docker_image() if where == "docker" else None)


def expected(program: str, backend: str, mode: str, got: Observed) -> Observed:
    """What the run must give: ``python program.py``'s fields, adjusted for a syntax error (the
    report is compared by type, message and line; its text may be absent from ``stderr``; in
    eager mode the statements before the error have run)."""
    where = "docker" if backend == "docker" else "host"
    ref = reference(program, where)
    if ref.error_type not in _SYNTAX:
        return ref
    before, _, _, _ = parse_error(ref.stderr)
    report = ref.stderr[len(before) :]
    stdout = ref.stdout
    if mode == "eager":
        prefix = _prefix_reference(program, where)
        assert prefix is not None, "python rejects the file but the chunker found no syntax error"
        stdout, before = prefix.stdout, prefix.stderr
    stderr = before + report if got.stderr.endswith(report) else before
    return Observed(
        stdout=stdout,
        stderr=stderr,
        status=ref.status,
        error_type=ref.error_type,
        error_message=ref.error_message,
        frames=ref.frames[-1:],
    )


def _workdir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="exact-"))
    os.chmod(d, 0o777)
    return d


def _params() -> list[object]:
    out = []
    for backend in BACKENDS:
        marks = [pytest.mark.slow] if backend in ("docker", "jupyter") else []
        for program in PROGRAMS:
            for mode in MODES:
                for rate in RATES:
                    m = list(marks)
                    reason = _xfail_reason(program, backend, mode, rate)
                    if reason is not None and _by_design(program, backend, mode, rate) is None:
                        m.append(pytest.mark.xfail(strict=True, reason=f"issue 13: {reason}"))
                    out.append(pytest.param(program, backend, mode, rate, marks=m, id=f"{program}-{backend}-{mode}-{rate}"))
    return out


@pytest.fixture(autouse=True)
def _interrupt_as_in_a_terminal() -> Iterator[None]:
    """Run ``python prog.py`` and every backend as from a terminal, where SIGINT is not ignored.
    A suite started in the background (``nohup ... &``, some CI runners) ignores it, and every
    process started from it inherits that, Python then installing no ``default_int_handler``,
    except a Jupyter kernel, which installs its own: the reference would differ from the kernel
    for a reason outside both."""
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(("program", "backend", "mode", "rate"), _params())
def test_exactly_python(program: str, backend: str, mode: str, rate: str) -> None:
    if (program, backend) in NOT_RUN:
        pytest.skip(NOT_RUN[(program, backend)])
    need(backend)
    code = (PROGRAMS_DIR / f"{program}.py").read_text(encoding="utf-8")
    workdir = _workdir()
    try:
        result = asyncio.run(run_eager(code, backend=backend, mode=mode, rate=rate, workdir=workdir, **_options(backend)))
    finally:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    got = observe(result)
    want = expected(program, backend, mode, got)
    differs = want.differences(got)
    design = _by_design(program, backend, mode, rate)
    if design is not None:
        fields, why = design
        assert differs, f"documented difference ({why}) is gone: remove its BY_DESIGN row and README line"
        assert set(differs) <= fields, f"differs beyond what is documented ({why}): {differs}"
        return
    assert not differs, "\n".join(f"{f}:\n  python: {getattr(want, f)!r}\n  eager:  {getattr(got, f)!r}" for f in differs)


def test_corpus_is_large_enough_and_valid_for_python() -> None:
    assert len(PROGRAMS) >= 40
    assert all(k[0] in PROGRAMS for k in XFAIL), "an XFAIL row names a program that is gone"
    assert all(k[0] in PROGRAMS for k in BY_DESIGN), "a BY_DESIGN row names a program that is gone"
    assert all(k[0] in PROGRAMS for k in NOT_RUN), "a NOT_RUN row names a program that is gone"


def test_readme_table_is_the_by_design_table() -> None:
    """README's "Exactness: where backends differ" lists exactly the (program, backend) pairs of
    ``BY_DESIGN`` and ``NOT_RUN``: one table, kept in step with the suite."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Exactness: where backends differ", 1)[1].split("\n## ", 1)[0]
    listed: set[tuple[str, str]] = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("Backend", "---"):
            continue
        backends = [b for b in BACKENDS if b in cells[0]]
        listed |= {(p.strip(), b) for p in cells[2].split(",") for b in backends}
    tested = {(program, backend) for program, backend, _, _ in BY_DESIGN} | set(NOT_RUN)
    assert listed == tested, f"README only: {sorted(listed - tested)}; suite only: {sorted(tested - listed)}"


def test_parse_error_reads_python_reports() -> None:
    tb = (
        "warn\nTraceback (most recent call last):\n"
        '  File "<DIR>/program.py", line 3, in <module>\n    f()\n'
        '  File "<DIR>/program.py", line 2, in f\n    1/0\nZeroDivisionError: division by zero\n'
    )
    assert parse_error(tb) == ("warn\n", "ZeroDivisionError", "division by zero", ((3, "<module>"), (2, "f")))
    syntax = '  File "<DIR>/program.py", line 3\n    y = (x +\n        ^\nSyntaxError: \'(\' was never closed\n'
    assert parse_error(syntax) == ("", "SyntaxError", "'(' was never closed", ((3, "<module>"),))
    assert parse_error("just text\n") == ("just text\n", None, None, ())
    repeated = (
        "Traceback (most recent call last):\n"
        '  File "<DIR>/program.py", line 9, in <module>\n    f(0)\n'
        '  File "<DIR>/program.py", line 2, in f\n    return f(n + 1)\n'
        "  [Previous line repeated 3 more times]\nRecursionError: maximum recursion depth exceeded\n"
    )
    assert parse_error(repeated)[3] == ((9, "<module>"), *[(2, "f")] * 4)
    chained = (
        'Traceback (most recent call last):\n  File "<DIR>/program.py", line 2, in <module>\n    int("x")\n'
        "ValueError: bad\n\nThe above exception was the direct cause of the following exception:\n\n"
        'Traceback (most recent call last):\n  File "<DIR>/program.py", line 4, in <module>\n    raise E\nE: wrapped\n'
    )
    assert parse_error(chained) == ("", "E", "wrapped", ((4, "<module>"),))


def test_unavailable_backend_skips_unless_required(monkeypatch: pytest.MonkeyPatch) -> None:
    import test_exact_differential as me

    monkeypatch.setattr(me, "_problem", lambda backend: f"{backend} unavailable: no engine")
    monkeypatch.delenv("EAGEREXEC_REQUIRE_BACKENDS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="docker unavailable"):
        need("docker")
    monkeypatch.setenv("EAGEREXEC_REQUIRE_BACKENDS", "sandbox, docker")
    with pytest.raises(pytest.fail.Exception, match="required by EAGEREXEC_REQUIRE_BACKENDS"):
        need("docker")
    monkeypatch.setattr(me, "_problem", lambda backend: None)
    need("docker")  # available: nothing to say
