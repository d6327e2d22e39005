"""Static checks of the program corpora (nothing here runs the programs: other tests do).

Three sets of files: ``tests/programs/`` (small programs for the differential test),
``eagerexec/corpus/`` (realistic LLM-style programs, package data) and ``eagerexec/examples/``.
Every file carries an ``# expect:`` header among its leading comment lines::

    # expect: ok
    # expect: error <ExceptionType> line <N>     (N: the failing line, innermost frame in the file)
    # expect: exit <N>                           (sys.exit(N) / SystemExit)
    # expect: syntax-error line <N>
    # differential: no                           (optional: serial and eager runs differ by nature)

Checked here: the header is present and well formed; the file compiles (or, for a syntax error,
fails to compile at exactly that line); an expected error line is a real code line; corpus
programs import only the standard library, numpy, pandas and matplotlib; the set sizes the
project relies on; and the corpus README lists every program.
"""

from __future__ import annotations

import ast
import builtins
import importlib.resources
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PROGRAMS_DIR = Path(__file__).parent / "programs"
CORPUS_DIR = Path(str(importlib.resources.files("eagerexec") / "corpus"))
EXAMPLES_DIR = Path(str(importlib.resources.files("eagerexec") / "examples"))

HEADER_RE = re.compile(
    r"^# expect: (?:(?P<ok>ok)|error (?P<etype>[A-Za-z_][\w.]*) line (?P<eline>\d+)"
    r"|exit (?P<exit>\d+)|syntax-error line (?P<sline>\d+))$"
)
DIFFERENTIAL_RE = re.compile(r"^# differential: (?P<value>yes|no)$")
ALLOWED_THIRD_PARTY = {"numpy", "pandas", "matplotlib"}
NONDETERMINISTIC = (
    "datetime.now(",
    "date.today(",
    "time.time(",
    "time.perf_counter(",
    "uuid.uuid4(",
    "os.urandom(",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Expectation:
    kind: str  # ok | error | exit | syntax-error
    exc_type: str | None = None
    line: int | None = None
    exit_code: int | None = None
    differential: bool = True


def _leading_comments(text: str) -> list[str]:
    """The comment lines before the first line of code (blank lines skipped)."""
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        out.append(stripped)
    return out


def parse_expectation(text: str) -> Expectation:
    """Read the ``# expect:`` header; raise ValueError when it is missing, duplicated or malformed."""
    comments = _leading_comments(text)
    headers = [c for c in comments if c.startswith("# expect:")]
    if len(headers) != 1:
        raise ValueError(f"expected exactly one '# expect:' header line, found {len(headers)}")
    m = HEADER_RE.match(headers[0])
    if m is None:
        raise ValueError(f"malformed header: {headers[0]!r}")
    diff_lines = [c for c in comments if c.startswith("# differential:")]
    if len(diff_lines) > 1 or (diff_lines and not DIFFERENTIAL_RE.match(diff_lines[0])):
        raise ValueError(f"malformed differential header: {diff_lines}")
    differential = not (diff_lines and diff_lines[0].endswith("no"))
    if m["ok"]:
        return Expectation(kind="ok", differential=differential)
    if m["etype"]:
        return Expectation(kind="error", exc_type=m["etype"], line=int(m["eline"]), differential=differential)
    if m["exit"]:
        return Expectation(kind="exit", exit_code=int(m["exit"]), differential=differential)
    return Expectation(kind="syntax-error", line=int(m["sline"]), differential=differential)


def _files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.py"))


ALL_FILES = _files(PROGRAMS_DIR) + _files(CORPUS_DIR) + _files(EXAMPLES_DIR)


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _is_code_line(text: str, lineno: int) -> bool:
    lines = text.splitlines()
    if not 1 <= lineno <= len(lines):
        return False
    stripped = lines[lineno - 1].strip()
    return bool(stripped) and not stripped.startswith("#")


def _exception_names() -> set[str]:
    return {
        name
        for name, obj in vars(builtins).items()
        if isinstance(obj, type) and issubclass(obj, BaseException)
    }


# --- the header parser itself --------------------------------------------------------------


def test_parse_expectation_forms() -> None:
    assert parse_expectation("# expect: ok\nx = 1\n") == Expectation(kind="ok")
    assert parse_expectation("\n# comment\n# expect: error KeyError line 12\nx\n") == Expectation(
        kind="error", exc_type="KeyError", line=12
    )
    assert parse_expectation("# expect: exit 3\n").exit_code == 3
    exp = parse_expectation("# expect: syntax-error line 9\n# differential: no\n")
    assert (exp.kind, exp.line, exp.differential) == ("syntax-error", 9, False)


@pytest.mark.parametrize(
    "text",
    [
        "x = 1\n",  # no header
        "x = 1\n# expect: ok\n",  # header after code does not count
        "# expect: okay\n",
        "# expect: error KeyError\n",
        "# expect: error KeyError line twelve\n",
        "# expect: ok\n# expect: exit 1\n",
        "# expect: ok\n# differential: maybe\n",
    ],
)
def test_parse_expectation_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_expectation(text)


# --- every file ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
def test_header_and_compiles(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    exp = parse_expectation(text)
    if exp.kind == "syntax-error":
        with pytest.raises(SyntaxError) as info:
            compile(text, str(path), "exec")
        assert info.value.lineno == exp.line
        assert not exp.differential, "a late syntax error differs between serial and eager runs"
        return
    compile(text, str(path), "exec")
    if exp.kind == "error":
        assert exp.line is not None
        assert _is_code_line(text, exp.line), f"line {exp.line} is not a code line"
        assert exp.exc_type in _exception_names(), f"unknown exception type {exp.exc_type}"


# --- tests/programs ------------------------------------------------------------------------


def test_programs_set() -> None:
    files = _files(PROGRAMS_DIR)
    assert len(files) >= 32
    kinds = [parse_expectation(p.read_text()).kind for p in files]
    assert {"ok", "error", "exit", "syntax-error"} <= set(kinds)
    exits = {parse_expectation(p.read_text()).exit_code for p in files} - {None}
    assert {0, 3} <= exits


@pytest.mark.parametrize("path", _files(PROGRAMS_DIR), ids=_id)
def test_program_is_small_and_deterministic(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert 10 <= len(text.splitlines()) <= 60
    for call in NONDETERMINISTIC:
        assert call not in text, f"non-deterministic call {call}"
    assert 'open("/' not in text and "open('/" not in text, "absolute path"


# --- corpus ------------------------------------------------------------------------------------


def _imported_roots(text: str) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_corpus_set() -> None:
    files = _files(CORPUS_DIR)
    assert len(files) >= 40
    expectations = [parse_expectation(p.read_text()) for p in files]
    assert sum(e.kind == "error" for e in expectations) >= 8
    assert sum(e.kind == "ok" for e in expectations) >= 25


@pytest.mark.parametrize("path", _files(CORPUS_DIR) + _files(EXAMPLES_DIR), ids=_id)
def test_corpus_imports_are_allowed(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    roots = _imported_roots(text)
    unknown = {r for r in roots if r not in sys.stdlib_module_names and r not in ALLOWED_THIRD_PARTY}
    assert not unknown, f"imports outside stdlib/numpy/pandas/matplotlib: {sorted(unknown)}"
    for call in NONDETERMINISTIC:
        assert call not in text, f"non-deterministic call {call}"


@pytest.mark.parametrize(
    "path", [p for p in _files(CORPUS_DIR) if parse_expectation(p.read_text()).kind == "error"], ids=_id
)
def test_corpus_errors_are_well_before_the_end(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    exp = parse_expectation(text)
    assert exp.line is not None
    code_lines = [i for i in range(1, len(text.splitlines()) + 1) if _is_code_line(text, i)]
    after = [i for i in code_lines if i > exp.line]
    assert len(after) >= 5, "the failure should leave code after it (the time early interruption saves)"


def test_corpus_readme_lists_every_program() -> None:
    readme = (CORPUS_DIR / "README.md").read_text(encoding="utf-8")
    for path in _files(CORPUS_DIR):
        assert f"`{path.name}`" in readme, f"{path.name} missing from corpus/README.md"


# --- examples ------------------------------------------------------------------------------


def test_examples_present() -> None:
    names = {p.name for p in _files(EXAMPLES_DIR)}
    assert {"demo.py", "hello.py"} <= names
    hello = (EXAMPLES_DIR / "hello.py").read_text()
    assert _imported_roots(hello) <= set(sys.stdlib_module_names)
    tree = ast.parse(hello)
    kinds = {type(node) for node in ast.walk(tree)}
    assert {ast.If, ast.FunctionDef, ast.ClassDef, ast.For, ast.Try} <= kinds
    assert parse_expectation((EXAMPLES_DIR / "demo.py").read_text()).kind == "ok"
