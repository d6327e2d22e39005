"""JsonStringExtractor: the "code" string of streamed tool-call arguments, unescaped incrementally."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eagerexec import StreamInterruptedError, UsageError
from eagerexec.sources import JsonStringExtractor


def decode(text: str, cuts: list[int] | None = None, key: str = "code") -> tuple[str, JsonStringExtractor]:
    x = JsonStringExtractor(key)
    bounds = [0, *sorted({c for c in (cuts or []) if c <= len(text)}), len(text)]
    out = [x.feed(text[a:b]) for a, b in itertools.pairwise(bounds)]
    return "".join(out) + x.close(), x


@settings(max_examples=400, deadline=None)
@given(
    st.text(),
    st.booleans(),
    st.lists(st.integers(0, 2000), max_size=20),
)
def test_any_string_round_trips_split_anywhere(code: str, ascii_only: bool, cuts: list[int]) -> None:
    text = json.dumps({"code": code}, ensure_ascii=ascii_only)
    got, x = decode(text, cuts)
    assert got == code
    assert x.complete and x.found


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=50), st.booleans())
def test_char_by_char(code: str, ascii_only: bool) -> None:
    text = json.dumps({"code": code}, ensure_ascii=ascii_only)
    assert decode(text, list(range(len(text))))[0] == code


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=5).filter(lambda k: k != "code"),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=4,
    ),
    st.text(max_size=30),
    st.sampled_from([None, 2]),
    st.lists(st.integers(0, 500), max_size=10),
)
def test_other_keys_are_skipped(
    others: dict[str, object], code: str, indent: int | None, cuts: list[int]
) -> None:
    doc = {**others, "code": code, "zzz": others}
    text = json.dumps(doc, indent=indent)
    got, x = decode(text, cuts)
    assert got == code
    assert x.complete


def test_escapes_split_across_pieces() -> None:
    x = JsonStringExtractor()
    pieces = [
        '{"co',
        'de"',
        ": ",
        '"a\\',
        'nb\\"c\\\\',
        "\\/",
        "\\u00",
        "e9 \\ud8",
        "3d",
        "\\",
        "ude",
        "00!",
        '"}',
    ]
    out = [x.feed(p) for p in pieces]
    assert "".join(out) == 'a\nb"c\\/é 😀!'
    # nothing waits longer than needed: the newline came out with the piece that completed it
    assert out[4] == '\nb"c\\'
    assert out[7] == "é "  # the high surrogate is held until its pair arrives
    assert out[11] == "😀!"
    assert x.complete


def test_lone_surrogates_are_kept_like_json_loads() -> None:
    for text in [
        '{"code": "a\\ud800b"}',
        '{"code": "\\ud800\\u0041"}',
        '{"code": "\\udc00"}',
        '{"code": "\\ud800"}',
    ]:
        assert decode(text)[0] == json.loads(text)["code"]


def test_key_order_and_missing_key() -> None:
    got, x = decode('{"lang": "py", "code": "x = 1"}')
    assert got == "x = 1"
    got, x = decode('{"program": "x = 1"}')
    assert got == "" and not x.found and x.complete
    got, x = decode('{"program": "x = 1"}', key="program")
    assert got == "x = 1"


def test_truncated_arguments_yield_what_came() -> None:
    got, x = decode('{"code": "import os\\nprint(os.get')
    assert got == "import os\nprint(os.get"
    assert x.found and not x.complete


@pytest.mark.parametrize(
    "text",
    [
        "import os",
        '["code"]',
        '{"code" "x"}',
        '{"code": "\\q"}',
        '{"code": "\\u12g4"}',
        '{"code": "x"} y',
        "{,",
    ],
)
def test_malformed_arguments_raise(text: str) -> None:
    with pytest.raises(StreamInterruptedError, match="malformed tool-call arguments"):
        decode(text)


def test_feed_after_close() -> None:
    x = JsonStringExtractor()
    x.close()
    with pytest.raises(UsageError):
        x.feed("{")
