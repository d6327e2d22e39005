"""Corpus test: every .py file of the running Python's standard library (test/ included), split by a
real BPE tokenizer (cl100k_base, offline data) and by random splits.

For every file: lossless; for files that parse, every non-final chunk compiles and the chunks'
statements equal ``ast.parse`` of the whole file; files that do not parse yield a syntax_error
chunk, never an exception. Files that are not valid UTF-8 are skipped and counted.
"""

from __future__ import annotations

import ast
import random
import sysconfig
from pathlib import Path

import pytest

from eagerexec import Chunker, ChunkKind
from eagerexec.sources import split_tokens

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _files() -> list[Path]:
    return sorted(p for p in STDLIB.rglob("*.py") if "site-packages" not in p.parts)


def _random_pieces(text: str, rng: random.Random) -> list[str]:
    out = []
    i = 0
    while i < len(text):
        n = rng.choice((1, 1, 2, 3, 5, 8, 13, 40, 200))
        out.append(text[i : i + n])
        i += n
    return out


def _statements(code: str, first_line: int = 1) -> list[str]:
    tree = ast.parse(code)
    ast.increment_lineno(tree, first_line - 1)
    return [ast.dump(node, include_attributes=True) for node in tree.body]


def _whole_statements(text: str) -> list[str] | None:
    code = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    try:
        compile(code, "<whole>", "exec", dont_inherit=True)  # compile() has the final word
        return _statements(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _check(path: Path, text: str, pieces: list[str], expected: list[str] | None) -> None:
    chunker = Chunker(filename=str(path))
    chunks = []
    for piece in pieces:
        chunks.extend(chunker.feed(piece))
    chunks.extend(chunker.close())
    assert "".join(c.text for c in chunks) == text, f"{path}: not lossless"
    if expected is None:
        assert any(c.kind is ChunkKind.SYNTAX_ERROR for c in chunks), f"{path}: bad file gave no syntax_error"
        return
    for c in chunks[:-1]:
        assert c.kind is not ChunkKind.SYNTAX_ERROR, f"{path}:{c.start_line}: {c.error}"
    got: list[str] = []
    for c in chunks:
        if c.code.strip():
            flags = c.future_flags
            tree = compile(c.code, str(path), "exec", flags | ast.PyCF_ONLY_AST, dont_inherit=True)
            ast.increment_lineno(tree, c.start_line - 1)
            got.extend(ast.dump(node, include_attributes=True) for node in tree.body)
    assert got == expected, f"{path}: chunk statements differ from ast.parse of the whole file"


@pytest.mark.slow
@pytest.mark.timeout(1200)  # ~3 min alone, several times that on a loaded machine
# compiling the stdlib's own test data warns about its deliberate oddities ("is" with a literal...)
@pytest.mark.filterwarnings("ignore::SyntaxWarning", "ignore::DeprecationWarning")
def test_stdlib_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(20261122)
    covered = skipped = bad = 0
    for path in _files():
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            skipped += 1
            continue
        expected = _whole_statements(text)
        if expected is None:
            bad += 1
        _check(path, text, split_tokens(text), expected)
        _check(path, text, _random_pieces(text, rng), expected)
        covered += 1
    with capsys.disabled():
        print(
            f"\nstdlib corpus: {covered} files chunked twice (BPE tokens and random splits), "
            f"{bad} of them do not parse, {skipped} skipped as not UTF-8"
        )
    assert covered > 1000
