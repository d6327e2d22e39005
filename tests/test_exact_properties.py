"""Property: a generated program that builds values and prints them gives, streamed in eager mode
split at random token (or character) boundaries, exactly what ``python program.py`` gives, and
what serial mode gives (issue 13).

The programs mix ints (big ones too), strings holding the characters ``str.splitlines()`` splits at
and Python does not (U+2028, U+2029, ``\\f``, ``\\v``, ``\\x1c``...) written raw in the literal,
form-feed-only lines, lists, dicts, nested function definitions and classes. One session (one
event loop) serves every example; each run shares the interpreter, which is harmless here because
every program defines all the names it uses.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from exact_harness import Observed, observe, run_python, slowly
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eagerexec import Session
from eagerexec.sources import split_tokens

ODD = ["\u2028", "\u2029", "\f", "\v", "\x1c", "\x1d", "\x1e", "\x85"]
_CHARS = st.sampled_from([*ODD, "a", "Z", " ", "é", "🐍", "'", '"', "\\", "\t", "#", "{", "}"])


def _literal(s: str) -> str:
    """A string literal holding ``s`` with its odd characters raw (only what must be escaped is)."""
    body = s.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{body}'"


@st.composite
def values(draw: st.DrawFn, depth: int = 0) -> str:
    kinds = ["int", "str", "str"] + (["list", "dict", "tuple"] if depth < 2 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "int":
        return str(draw(st.one_of(st.integers(-1000, 1000), st.integers(-(10**30), 10**30))))
    if kind == "str":
        return _literal(draw(st.text(alphabet=_CHARS, max_size=8)))
    items = draw(st.lists(values(depth + 1), max_size=3))
    if kind == "list":
        return "[" + ", ".join(items) + "]"
    if kind == "tuple":
        return "(" + "".join(f"{x}, " for x in items) + ")"
    keys = draw(st.lists(st.one_of(st.integers(0, 50).map(str), st.text(alphabet=_CHARS, max_size=4).map(_literal)), max_size=3))
    return "{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, items, strict=False)) + "}"


@st.composite
def programs(draw: st.DrawFn) -> str:
    out: list[str] = []
    for k in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["value", "value", "function", "class", "trivia"]))
        v = draw(values())
        if kind == "value":
            out.append(f"v{k} = {v}")
        elif kind == "function":
            out.append(f"def f{k}(a):\n    def g(b):\n        return [b, {v}]\n\f\n    return g(a)\nv{k} = f{k}({k})")
        elif kind == "class":
            out.append(f"class C{k}:\n    x = {v}\n\n    def get(self):\n        return self.x\nv{k} = C{k}().get()")
        else:
            out.append(draw(st.sampled_from(["\f", "# comment \u2028 with odd\x1c characters", "", "\f# ff comment"])))
            out.append(f"v{k} = {v}")
        out.append(f"print(repr(v{k}))")
        if draw(st.booleans()):
            out.append(f"print(v{k})")
    return "\n".join(out) + "\n"


def _pieces(src: str, cuts: list[int], by_token: bool) -> list[str]:
    """``src`` cut at some of its token (or character) boundaries."""
    units = split_tokens(src) if by_token else list(src)
    bounds = sorted({c % (len(units) + 1) for c in cuts} | {0, len(units)})
    return ["".join(units[a:b]) for a, b in itertools.pairwise(bounds) if b > a]


@pytest.fixture(scope="module")
def runner() -> Iterator[tuple[asyncio.Runner, Session]]:
    workdir = Path(tempfile.mkdtemp(prefix="exact-props-"))
    with asyncio.Runner() as loop:
        session = Session("local", mode="eager", workdir=workdir, timeout=60)
        loop.run(session.__aenter__())
        try:
            yield loop, session
        finally:
            loop.run(session.aclose())
            shutil.rmtree(workdir, ignore_errors=True)


def _fields(obs: Observed) -> tuple[str, str, int, str | None]:
    return obs.stdout, obs.stderr, obs.status, obs.error_type


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(src=programs(), cuts=st.lists(st.integers(0, 10_000), max_size=12), by_token=st.booleans())
def test_eager_streamed_at_random_boundaries_is_python(
    runner: tuple[asyncio.Runner, Session], src: str, cuts: list[int], by_token: bool
) -> None:
    compile(src, "program.py", "exec")  # the generator writes valid Python
    loop, session = runner
    with tempfile.TemporaryDirectory() as d:
        want = run_python(src, Path(d))
    pieces = _pieces(src, cuts, by_token)
    assert "".join(pieces) == src
    eager = observe(loop.run(session.run(slowly(pieces, 0.0), mode="eager")))
    serial = observe(loop.run(session.run(src, mode="serial")))
    assert _fields(eager) == _fields(want), pieces
    assert _fields(serial) == _fields(want)


def test_literal_keeps_odd_characters_raw() -> None:
    lit = _literal("a\u2028b'\\")
    assert "\u2028" in lit
    assert eval(lit) == "a\u2028b'\\"
