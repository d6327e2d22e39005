"""FenceExtractor: code from markdown fences, fed whole, one character at a time, and split anywhere."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eagerexec import UsageError
from eagerexec.sources import FenceExtractor


def extract(text: str, cuts: list[int] | None = None, **options: bool) -> str:
    f = FenceExtractor(**options)
    if cuts is None:
        return f.feed(text) + f.close()
    bounds = [0, *sorted(set(cuts)), len(text)]
    out = [f.feed(text[a:b]) for a, b in itertools.pairwise(bounds)]
    return "".join(out) + f.close()


def all_ways(text: str, **options: bool) -> str:
    """Extract whole, char by char and in 2/3-char pieces; all must agree."""
    whole = extract(text, **options)
    for step in (1, 2, 3):
        assert extract(text, list(range(0, len(text), step)), **options) == whole
    return whole


CASES = [
    ("Here you go:\n```python\nx = 1\nprint(x)\n```\nDone.", "x = 1\nprint(x)\n"),
    ("```py\na = 1\n```\n", "a = 1\n"),
    ("```Python3\na = 1\n```", "a = 1\n"),
    ("```\nbare = True\n```\n", "bare = True\n"),
    ("```{python}\nq = 1\n```\n", "q = 1\n"),
    ("```python title=x.py\nt = 1\n```\n", "t = 1\n"),
    # several blocks, prose between, other languages skipped
    (
        "First:\n```python\na = 1\n```\nThen run\n```bash\npip install x\n```\nand\n```py\nb = 2\n```\nok",
        "a = 1\nb = 2\n",
    ),
    # a closing fence of a skipped block is not an opening one
    ("```text\nout\n```\nprose\n```python\nc = 3\n```\n", "c = 3\n"),
    # ``` inside a code line does not close; at line start it does
    ("```python\ns = '```'\nprint(s)  # ```\n```\nafter", "s = '```'\nprint(s)  # ```\n"),
    # indented fences (inside a list item), CRLF line ends
    ("1. Step:\n   ```python\n   x = 1\n   ```\n", "   x = 1\n"),
    ("```python\r\nx = 1\r\n```\r\nbye", "x = 1\r\n"),
    # a longer opening fence needs as long a closing one
    ("````python\n```\nstill = 1\n````\n", "```\nstill = 1\n"),
    ("~~~python\nx = '```'\n~~~\n", "x = '```'\n"),
    # unclosed block: content to the end; a partial closing fence at the very end is dropped
    ("```python\nx = 1\nif x:\n    y = 2", "x = 1\nif x:\n    y = 2"),
    ("```python\nx = 1\n``", "x = 1\n"),
    ("```python\nx = 1\n   ", "x = 1\n   "),
    # inline code on its own line is prose
    ("```python x = 1```\n```python\nz = 1\n```", "z = 1\n"),
    ("no code at all", ""),
    ("```python", ""),
]


@pytest.mark.parametrize(("text", "code"), CASES)
def test_extracts_code_every_way(text: str, code: str) -> None:
    assert all_ways(text) == code


def test_blocks_stay_separate_statements() -> None:
    text = "```python\nimport math\n```\nNow:\n```python\nprint(math.pi)\n```\n"
    assert all_ways(text) == "import math\nprint(math.pi)\n"


def test_code_is_streamed_before_the_block_ends() -> None:
    f = FenceExtractor()
    assert f.feed("Sure!\n```python\nimport os\n") == "import os\n"
    assert f.in_code
    assert f.feed("x = os.") == "x = os."
    assert f.feed("sep\n    ") == "sep\n"  # indentation held: could start a closing fence
    assert f.feed("y") == "    y"
    assert f.feed("\n```") == "\n"
    assert f.feed("\nThat's it.") == ""
    assert not f.in_code
    assert f.close() == ""
    assert f.found_code


def test_no_code_and_fallback() -> None:
    f = FenceExtractor()
    assert f.feed("print('hi')\n") == ""
    assert f.close() == ""
    assert not f.found_code
    assert all_ways("print('hi')\nx = 2\n", bare_code_fallback=True) == "print('hi')\nx = 2\n"
    g = FenceExtractor(bare_code_fallback=True)
    g.feed("print(1)\n")
    assert g.close() == "print(1)\n"
    assert g.found_code
    # with a fence anywhere, the fallback does not apply (only python blocks count)
    assert all_ways("prose\n```bash\nls\n```\n", bare_code_fallback=True) == ""


def test_feed_after_close_is_an_error() -> None:
    f = FenceExtractor()
    f.close()
    with pytest.raises(UsageError):
        f.feed("x")
    assert f.close() == ""


# -- property: any markdown document built from prose and blocks -----------------------------
_line = st.text(
    alphabet=st.characters(blacklist_characters="`~\n\r", blacklist_categories=["Cs"]), max_size=20
)
_prose = st.lists(_line.filter(lambda s: s.strip() != ""), max_size=3)
_code = st.lists(_line, min_size=0, max_size=4)
_lang = st.sampled_from(["python", "py", "Python3", "", "bash", "json", "text"])


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, str]:
    parts: list[str] = []
    expected: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        parts.extend(line + "\n" for line in draw(_prose))
        lang = draw(_lang)
        lines = draw(_code)
        indent = draw(st.sampled_from(["", "  "]))
        body = "".join(indent + line + "\n" for line in lines)
        parts.append(f"{indent}```{lang}\n{body}{indent}```\n")
        if lang.lower() in ("python", "py", "python3", ""):
            expected.append(body)
    parts.extend(line + "\n" for line in draw(_prose))
    return "".join(parts), "".join(expected)


@settings(max_examples=300, deadline=None)
@given(documents(), st.lists(st.integers(0, 400), max_size=12))
def test_random_documents_random_splits(doc: tuple[str, str], cuts: list[int]) -> None:
    text, expected = doc
    cuts = [c for c in cuts if c <= len(text)]
    assert extract(text) == expected
    assert extract(text, cuts) == expected
    assert extract(text, list(range(len(text)))) == expected
