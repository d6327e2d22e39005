"""Tests of the streaming chunker: a table of cases for every rule, each fed whole, one character
at a time and in random splits; plus properties over generated programs.

Case notation: the source is written with two markers that are removed before feeding:
``|`` is a chunk boundary and ``^`` the point where the next still-unready chunk became ready
(its ``ready_at``). A last chunk without a ``^`` is the final chunk ``close()`` emits.
"""

from __future__ import annotations

import ast
import builtins
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eagerexec import Chunk, Chunker, ChunkKind, UsageError
from eagerexec.chunker import count_line_breaks, split_lines

BOUNDARY, READY = "\u23d0", "\u2691"


def parse_case(marked: str) -> tuple[str, list[tuple[str, int, bool]]]:
    src: list[str] = []
    boundaries: list[int] = []
    readies: list[int] = []
    for ch in marked:
        if ch == BOUNDARY:
            boundaries.append(len(src))
        elif ch == READY:
            readies.append(len(src))
        else:
            src.append(ch)
    text = "".join(src)
    cuts = [0, *boundaries, len(text)]
    texts = [text[a:b] for a, b in itertools.pairwise(cuts)]
    texts = [t for t in texts if t] if texts[-1] == "" else texts
    assert len(texts) in (len(readies), len(readies) + 1), marked
    expected = []
    for k, t in enumerate(texts):
        if k < len(readies):
            expected.append((t, readies[k], False))
        else:
            expected.append((t, len(text), True))
    return text, expected


def feed_all(text: str, pieces: list[str] | None = None) -> list[Chunk]:
    chunker = Chunker()
    out: list[Chunk] = []
    for piece in pieces if pieces is not None else [text]:
        out.extend(chunker.feed(piece))
    out.extend(chunker.close())
    return out


def splits(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def shape(chunks: list[Chunk]) -> list[tuple[str, int, bool]]:
    return [(c.text, c.ready_at, c.final) for c in chunks]


# fmt: off
CASES: dict[str, str] = {
    "simple statements": "x = 1\n^|y = 2\n^",
    "semicolon line mid-program": "a = 1\n^|b = 2; c = 3\n^|d = 4\n^",
    "if/elif/else, else runs": "if x:\n    a()\nelif y:\n    b()\nelse:\n    c()\n|p^rint()\n^",
    "if then 'els' undecided, 'elsew' decides": "if x:\n    a\n|elsew^ = 1\n^",
    "if then 'elif' continues": "if x:\n    a\nelif y:\n    b\n|z^ = 1\n^",
    "if/else then e decides at once": "if x:\n    a\nelse:\n    b\n|e^lse_ = 1\n^",
    "try/except/else/finally": "try:\n    f()\nexcept E:\n    g()\nelse:\n    h()\nfinally:\n    k()\n|x^ = 1\n^",
    "try/except then 'exi' decides": "try:\n    a\nexcept:\n    b\n|exi^t()\n^",
    "try/except, except branch runs": "try:\n    1 / 0\nexcept ZeroDivisionError:\n    r = 1\n|p^rint(r)\n^",
    "try/else needs finally prefix": "try:\n    a\nexcept:\n    b\nelse:\n    c\n|fo^o = 1\n^",
    "for/else": "for i in r:\n    pass\nelse:\n    done()\n|x^ = 1\n^",
    "while one-liner waits for else": "while x: x -= 1\n|y^ = 1\n^",
    "def released by first char": "def f():\n    return 1\n|x^ = f()\n^",
    "class released by first char": "class A:\n    x = 1\n|e^ = A()\n^",
    "with released by first char": "with open(p) as fh:\n    d = fh.read()\n|e^ = 1\n^",
    "column-0 comment inside a function": "def f():\n    a = 1\n# note\n    return a\n|f^()\n^",
    "blank lines and comments go to the next chunk": "def f():\n    pass\n|\n# Step 2\nx^ = 1\n^",
    "decorators": "@dec\n@dec2(1)\ndef f():\n    pass\n|x^ = 1\n^",
    "decorated one-line class": "@dec\nclass A: pass\n^|x = 1\n^",
    "one-line def is complete at its newline": "def f(): return 1\n^|f()\n^",
    "one-line if waits": "if x: a()\n|b^()\n^",
    "triple-quoted string with column-0 lines": 'def f():\n    s = """\nabc\ndef g():\n"""\n    return s\n|x^ = 1\n^',
    "column-0 lines inside brackets": "def f():\n    return (1,\n2)\n|f^()\n^",
    "bracketed statement": "x = [\n1,\n2]\n^|y = 1\n^",
    "backslash continuation": "x = 1 + \\\n2\n^|y = 1\n^",
    "crlf": "x = 1\r^|\ny = 2\r^|\n",
    "lone cr": "x = 1\r^|y = 2\r^",
    "tabs": "if x:\n\ta\n\tb\n|c^\n^",
    "form feed": "\fx = 1\n^|\f\ny = 2\n^",
    "bom": "\ufeffx = 1\n^|y = 2\n^",
    "f-strings": "x = f\"{a!r:>{w}} {b['k']}\"\n^|y = f'{x}'\n^",
    "soft keywords as names": "match = 1\n^|type = 2\n^|case(3)\n^|match(x)\n^",
    "match statement": "match x:\n    case 1:\n        pass\n    case _:\n        pass\n|y^ = 1\n^",
    "main guard": 'def main():\n    pass\n|i^f __name__ == "__main__":\n    main()\n',
    "indented first line becomes column 0": "    x = 1\n^|    if x:\n        y = 2\n|    z^ = 3\n^",
    "async def": "async def f():\n    pass\n|x^ = 1\n^",
    "syntax error chunk at once": "x = = 1\n^|y = 2\n^",
    "unterminated string at its newline": "x = 'abc\n^|y = 1\n^",
    "unmatched bracket": "a = 1\n^|b = )\n^|c = 2\n^",
    "strings with hashes and quotes": "s = '#not a comment'  # real \"comment\n^|t = \"(\"\n^",
    "empty strings": "x = ''\n^|y = ''''''\n^|z = \"\"\n^",
    "comments between if and else": "if x:\n    a\n\n# c\nelse:\n    b\n",
    "trailing comment is a final chunk": "x = 1\n^|# end\n",
    "no trailing newline": "x = 1\n^|y = 2",
    "nested def and class bodies": "class A:\n    def f(self):\n        if x:\n            pass\n        else:\n            pass\n\n    @property\n    def g(self):\n        return 1\n|a^ = A()\n^",
}
# fmt: on

KINDS = {
    "import os\n": ChunkKind.IMPORT,
    "from a import b\n": ChunkKind.IMPORT,
    "import a, b; import c\n": ChunkKind.IMPORT,
    "def f(): pass\n": ChunkKind.DEFINITION,
    "class A: pass\n": ChunkKind.DEFINITION,
    "@d\ndef f(): pass\n": ChunkKind.DEFINITION,
    "x = 1\n": ChunkKind.STATEMENT,
    "import os; x = 1\n": ChunkKind.STATEMENT,
    "x = = 1\n": ChunkKind.SYNTAX_ERROR,
}


def _expected_case(name: str) -> tuple[str, list[tuple[str, int, bool]]]:
    return parse_case(CASES[name].replace("|", BOUNDARY).replace("^", READY))


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_whole(name: str) -> None:
    text, expected = _expected_case(name)
    assert shape(feed_all(text)) == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_char_by_char(name: str) -> None:
    text, expected = _expected_case(name)
    assert shape(feed_all(text, list(text))) == expected


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_case_random_splits(name: str, cuts: list[int]) -> None:
    text, expected = _expected_case(name)
    assert shape(feed_all(text, splits(text, cuts))) == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_chunks_are_emitted_at_ready_at(name: str) -> None:
    """Feeding exactly ready_at characters emits the chunk; one fewer does not."""
    text, expected = _expected_case(name)
    for k, (_, ready_at, final) in enumerate(expected):
        if final:
            continue
        before = Chunker().feed(text[: ready_at - 1])
        assert len(before) <= k, f"chunk {k} emitted before its ready point"
        at = Chunker().feed(text[:ready_at])
        assert len(at) >= k + 1, f"chunk {k} not emitted at its ready point"


@pytest.mark.parametrize(("src", "kind"), list(KINDS.items()))
def test_kinds(src: str, kind: ChunkKind) -> None:
    chunks = feed_all(src)
    assert chunks[0].kind is kind


def test_delta_ending_after_header_colon() -> None:
    c = Chunker()
    assert c.feed("if x:") == []
    assert c.feed("\n    y = 1\n") == []
    out = c.feed("z")
    assert [ch.text for ch in out] == ["if x:\n    y = 1\n"]
    assert out[0].ready_at == len("if x:\n    y = 1\nz")


def test_delta_holding_newline_and_next_token() -> None:
    c = Chunker()
    assert c.feed("x = 1") == []
    out = c.feed("\ny")
    assert [(ch.text, ch.ready_at) for ch in out] == [("x = 1\n", 6)]
    assert [ch.text for ch in c.close()] == ["y"]


def test_lines_and_offsets() -> None:
    src = "import os\n\n# two\ndef f():\n    return 1\n\nx = f()\n"
    chunks = feed_all(src)
    assert [(c.start_line, c.end_line, c.offset) for c in chunks] == [
        (1, 1, 0),
        (2, 5, 10),
        (6, 7, src.index("\nx = f()")),
    ]


def test_syntax_error_reports_whole_program_line_and_column() -> None:
    chunks = feed_all("a = 1\nb = 2\nc = (1 +)\n")
    err = chunks[2].error
    assert chunks[2].kind is ChunkKind.SYNTAX_ERROR
    assert err is not None and err.line == 3 and err.type == "SyntaxError" and err.column > 0


def test_underdent_is_indentation_error() -> None:
    chunks = feed_all("    x = 1\n  y = 2\n")
    assert chunks[0].code == "x = 1\n" and chunks[0].indent == "    "
    err = chunks[1].error
    assert err is not None and err.type == "IndentationError" and err.line == 2
    assert "unindent" in err.message


def test_indented_stream_code_is_dedented_but_strings_are_not() -> None:
    src = '    s = """\n    keep\n    """\n    def f():\n        return s\n    print(f())\n'
    chunks = feed_all(src)
    code = "".join(c.code for c in chunks)
    assert code == 's = """\n    keep\n    """\ndef f():\n    return s\nprint(f())\n'
    assert all(c.indent == "    " for c in chunks)


def test_bom_and_crlf_normalised_in_code() -> None:
    chunks = feed_all("\ufeffx = 1\r\ny = 2\r\n")
    assert [c.code for c in chunks] == ["x = 1\n", "y = 2\n", ""]
    assert [c.start_line for c in chunks] == [1, 2, 3]


def test_future_flags_carry_over() -> None:
    src = "from __future__ import annotations\ndef f(x: Undefined) -> Undefined: pass\n"
    chunks = feed_all(src)
    assert [c.kind for c in chunks] == [ChunkKind.IMPORT, ChunkKind.DEFINITION]
    assert chunks[1].future_flags != 0
    # the chunk compiles on its own under the recorded flags
    compile(chunks[1].code, "<t>", "exec", chunks[1].future_flags, dont_inherit=True)


def test_late_future_import_is_a_syntax_error() -> None:
    chunks = feed_all('"""doc"""\nfrom __future__ import annotations\nx = 1\nfrom __future__ import division\n')
    assert [c.kind for c in chunks][:3] == [ChunkKind.STATEMENT, ChunkKind.IMPORT, ChunkKind.STATEMENT]
    err = chunks[3].error
    assert err is not None and "beginning of the file" in err.message and err.line == 4


def test_empty_input() -> None:
    c = Chunker()
    assert c.feed("") == []
    assert c.close() == []


def test_misuse_raises_clear_errors() -> None:
    c = Chunker()
    c.close()
    with pytest.raises(UsageError, match="after close"):
        c.feed("x")
    with pytest.raises(UsageError, match="twice"):
        c.close()
    with pytest.raises(UsageError, match="takes str"):
        Chunker().feed(b"x = 1\n")  # type: ignore[arg-type]


def test_bad_code_never_raises() -> None:
    for src in ["\x00x = 1\n", "(" * 300 + "\n", "x = 'a\n", "def f(:\n", "\tif x:\n  y\n", "else:\n    pass\n"]:
        chunks = feed_all(src)
        assert "".join(c.text for c in chunks) == src


def test_five_thousand_line_literal_bounded_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Char-by-char feeding of a 5,000-line statement compiles each character once, not per delta."""
    src = "x = [\n" + "    1,\n" * 5000 + "]\ny = 2\n"
    compiled_chars: list[int] = []
    real_compile = builtins.compile

    def counting_compile(source: object, *args: object, **kwargs: object) -> object:
        if isinstance(source, str):
            compiled_chars.append(len(source))
        return real_compile(source, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "compile", counting_compile)
    chunker = Chunker()
    out: list[Chunk] = []
    for ch in src:
        out.extend(chunker.feed(ch))
    out.extend(chunker.close())
    assert [c.start_line for c in out] == [1, 5003]
    assert sum(compiled_chars) == len(src)  # each character compiled exactly once


# -- properties over generated programs -----------------------------------------------------------

_SIMPLE = ["x = 1", "y = (1,\n  2)", "print('a#b')", "z = x + \\\n  1", "s = '''\nq\n'''", "import os", "a = [i for i in range(3)]"]
_BODY = ["pass", "x = 2", "return_ = 1", "s = '''\nat column 0\n'''"]


@st.composite
def programs(draw: st.DrawFn) -> str:
    out = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["simple", "if", "try", "def", "for", "class", "trivia", "deco"]))
        body = "\n".join("    " + line.replace("\n", "\n    ") for line in draw(st.lists(st.sampled_from(_BODY), min_size=1, max_size=3)))
        if kind == "simple":
            out.append(draw(st.sampled_from(_SIMPLE)))
        elif kind == "if":
            s = f"if x:\n{body}"
            if draw(st.booleans()):
                s += f"\nelif y:\n{body}"
            if draw(st.booleans()):
                s += f"\n# between\nelse:\n{body}"
            out.append(s)
        elif kind == "try":
            s = f"try:\n{body}\nexcept E:\n{body}"
            if draw(st.booleans()):
                s += f"\nelse:\n{body}"
            if draw(st.booleans()):
                s += f"\nfinally:\n{body}"
            out.append(s)
        elif kind == "def":
            out.append(f"def f():\n{body}\n# col0 comment\n    pass")
        elif kind == "deco":
            out.append(f"@dec\nclass C:\n{body}")
        elif kind == "for":
            s = f"for i in r:\n{body}"
            if draw(st.booleans()):
                s += f"\nelse:\n{body}"
            out.append(s)
        elif kind == "class":
            out.append(f"class A:\n    def m(self):\n    {body}")
        else:
            out.append(draw(st.sampled_from(["", "# comment", "   ", "\f"])))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(out).replace("\n", newline) + draw(st.sampled_from(["", newline]))


def statements(code: str) -> list[str]:
    return [ast.dump(node) for node in ast.parse(code).body]


@settings(max_examples=200, deadline=None)
@given(src=programs(), cuts=st.lists(st.integers(0, 5000), max_size=20))
def test_generated_programs(src: str, cuts: list[int]) -> None:
    whole = feed_all(src)
    pieces = feed_all(src, splits(src, cuts))
    chars = feed_all(src, list(src))
    assert shape(whole) == shape(pieces) == shape(chars)
    assert "".join(c.text for c in whole) == src
    for c in whole[:-1]:
        assert c.kind is not ChunkKind.SYNTAX_ERROR, c
    got = [s for c in whole for s in statements(c.code)]
    assert got == statements(src.replace("\r\n", "\n"))
    readies = [c.ready_at for c in whole]
    assert readies == sorted(readies)


# -- Python's line ends only (issue 13): never the extra ones str.splitlines() knows ---------------

# Characters str.splitlines() splits at and Python keeps inside a line.
_ODD = ["\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
_ODD_PROGRAMS: dict[str, str] = {
    "u2028 in a string": 's = "a\u2028b"\nt = 1\nprint(repr(s), t)\n',
    "u2029 in a string": "s = 'a\u2029b'\nprint(len(s))\n",
    "every odd character in a string": "s = '" + "".join(_ODD) + "'\nprint(len(s))\n",
    "odd characters in a triple-quoted string": 's = """\n' + "\n".join(_ODD) + '\n"""\nprint(len(s))\n',
    "odd characters in a comment": "x = 1  # a\u2028b\x1cc\x85d\nprint(x)\n",
    "comment-only line with u2028": "# a\u2028print(1)\nx = 2\n",
    "form-feed-only line between statements": "x = 1\n\f\nprint(x)\n\f\ny = 2\n",
    "form-feed-only line inside a body": "if True:\n    x = 1\n\f\n    print(x)\nprint(2)\n",
    "form feed before a statement": "x = 1\n\fprint(x)\n",
    "odd characters in an f-string": "x = 1\nprint(f'{x}\u2028{x}\x1c')\n",
    "odd characters in bytes and raw strings": "b = b'\\x1c'\nr = r'\u2028\\n'\nprint(len(b), len(r))\n",
    "crlf with u2028": 's = "\u2028"\r\nprint(len(s))\r\n',
}


def _python_lines(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _check_odd(src: str, chunks: list[Chunk]) -> None:
    assert "".join(c.text for c in chunks) == src
    for c in chunks:
        assert c.kind is not ChunkKind.SYNTAX_ERROR, c
        assert c.start_line == 1 + _python_lines(src[: c.offset])
    got = [s for c in chunks for s in statements(c.code)]
    assert got == statements(src.replace("\r\n", "\n"))


@pytest.mark.parametrize("name", list(_ODD_PROGRAMS))
def test_odd_line_characters_whole(name: str) -> None:
    src = _ODD_PROGRAMS[name]
    compile(src, "<prog>", "exec")  # Python accepts it
    _check_odd(src, feed_all(src))


@pytest.mark.parametrize("name", list(_ODD_PROGRAMS))
def test_odd_line_characters_char_by_char(name: str) -> None:
    src = _ODD_PROGRAMS[name]
    chunks = feed_all(src, list(src))
    assert shape(chunks) == shape(feed_all(src))
    _check_odd(src, chunks)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(_ODD_PROGRAMS)), cuts=st.lists(st.integers(0, 500), max_size=12))
def test_odd_line_characters_random_splits(name: str, cuts: list[int]) -> None:
    src = _ODD_PROGRAMS[name]
    chunks = feed_all(src, splits(src, cuts))
    assert shape(chunks) == shape(feed_all(src))
    _check_odd(src, chunks)


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.text(alphabet=st.sampled_from([*_ODD, "a", " ", "'", "\\"]), max_size=6), min_size=1, max_size=4),
    cuts=st.lists(st.integers(0, 500), max_size=8),
)
def test_odd_characters_in_generated_strings_run_as_python_runs_them(texts: list[str], cuts: list[int]) -> None:
    src = "".join(f"v{k} = {t!r}\nprint(repr(v{k}))\n" for k, t in enumerate(texts))
    for pieces in ([src], list(src), splits(src, cuts)):
        chunks = feed_all(src, pieces)
        _check_odd(src, chunks)
        assert [c.is_blank for c in chunks] == [False] * len(chunks)
        space: dict[str, object] = {}
        for c in chunks:
            exec(compile(c.code, "<chunk>", "exec"), space)
        assert [space[f"v{k}"] for k in range(len(texts))] == texts


def test_comment_holding_odd_line_characters_is_blank() -> None:
    for odd in _ODD:
        chunks = feed_all(f"x = 1\n# a{odd}print(1)\n")
        assert [c.is_blank for c in chunks] == [False, True], repr(odd)
    # a form-feed-only line is blank too
    assert [c.is_blank for c in feed_all("x = 1\n\f\n")] == [False, True]


def test_split_lines_follows_python() -> None:
    text = "a\u2028b\x1c\fc\r\nd\re\nf\x85"
    assert split_lines(text) == ["a\u2028b\x1c\fc", "d", "e", "f\x85"]
    assert split_lines(text, keepends=True) == ["a\u2028b\x1c\fc\r\n", "d\r", "e\n", "f\x85"]
    assert "".join(split_lines(text, keepends=True)) == text
    assert split_lines("x\n") == ["x"] == "x\n".splitlines()
    assert split_lines("") == [] == "".splitlines()
    assert split_lines("\n\n") == ["", ""] == "\n\n".splitlines()
    assert count_line_breaks(text) == len(split_lines(text)) - 1
    src = "s = '\u2028'\nprint(s)\n"
    assert len(split_lines(src)) == len(src.split("\n")) - 1


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from([*_ODD, "\n", "\r", "a"]), max_size=20))
def test_split_lines_matches_python_tokenizer_lines(text: str) -> None:
    lines = split_lines(text, keepends=True)
    assert "".join(lines) == text
    expected: list[str] = []  # a plain walk over the characters: a line ends at \n, \r\n or \r
    line = ""
    for k, ch in enumerate(text):
        line += ch
        if ch == "\n" or (ch == "\r" and text[k + 1 : k + 2] != "\n"):
            expected.append(line)
            line = ""
    if line:
        expected.append(line)
    assert lines == expected
    assert split_lines(text) == [ln.rstrip("\r\n") for ln in expected]
    assert count_line_breaks(text) == sum(1 for ln in expected if ln.endswith(("\n", "\r")))


@pytest.mark.parametrize("filter_", ["always", "error"])
def test_compile_warnings_stay_with_the_program(filter_: str) -> None:
    """A SyntaxWarning is the program's (its backend reports it at its line): the chunker
    neither prints it on the host nor turns it into an error under a strict host filter."""
    src = "print(1)\nx = 5\nprint(x is 5)\ns = '\\d'\n"
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter(filter_)
        for pieces in ([src], list(src)):
            chunks = feed_all(src, pieces)
            assert [c.kind for c in chunks] == [ChunkKind.STATEMENT] * 4
    assert caught == []
