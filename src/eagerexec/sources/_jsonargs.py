"""``JsonStringExtractor``: one string field of a JSON object, unescaped while it streams (sans-IO).

A tool call's arguments arrive as pieces of a JSON text such as ``{"code": "import os\\n..."}``.
This class scans them with a small state machine (nesting depth, key or value position, inside
a string or not) and decodes the string value of the wanted top-level key as it arrives, escapes
included even when split across pieces: ``\\n``, ``\\"``, ``\\\\``, ``\\/``, ``\\uXXXX`` and
surrogate pairs (``\\ud83d\\ude00``) whose halves come in different pieces. Runs of plain
characters are copied with one regex search, escapes cost O(1) each: O(1) work per character.

It is lenient where models are (raw control characters inside strings are kept) and strict
where the structure is broken: a character that cannot appear where it does raises
``StreamInterruptedError``. Other keys' values (strings, numbers, nested objects) are skipped.
"""

from __future__ import annotations

import re

from .._exceptions import StreamInterruptedError, UsageError

__all__ = ["JsonStringExtractor"]

_SPECIAL = re.compile(r'["\\]')
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_HEX = frozenset("0123456789abcdefABCDEF")
_WS = frozenset(" \t\r\n")

# Structural states (outside strings)
_BEFORE = 0  # before the top-level object
_KEY = 1  # in the top-level object, expecting a key (or "}")
_COLON = 2  # after a key, expecting ":"
_VALUE = 3  # after ":", expecting a value
_AFTER = 4  # after a value, expecting "," or "}"
_SCALAR = 5  # inside a number / true / false / null at depth 1
_NESTED = 6  # inside a nested object or array (depth >= 2)
_DONE = 7  # after the top-level object

# String roles
_R_KEY = 0
_R_WANTED = 1
_R_SKIP = 2


class JsonStringExtractor:
    """Streams the decoded string value of top-level ``key`` in a JSON object fed in pieces.

    Args:
        key: the field whose string value is wanted (``"code"`` for the ``run_python`` tool).
    """

    def __init__(self, key: str = "code") -> None:
        self.key = key
        self._state = _BEFORE
        self._depth = 0  # nesting inside _NESTED values (1 = the nested value's own bracket)
        self._in_string = False
        self._role = _R_SKIP
        self._esc: str | None = None  # None: not in an escape; "": after "\"; "uXX..": in \u
        self._high = 0  # a pending high surrogate (0: none)
        self._keybuf: list[str] = []
        self._current_key = ""
        self._found = False
        self._closed = False
        self._pos = 0  # characters consumed, for error messages

    @property
    def found(self) -> bool:
        """The wanted key's string value has started."""
        return self._found

    @property
    def complete(self) -> bool:
        """The top-level object has been closed."""
        return self._state == _DONE

    def feed(self, text: str) -> str:
        """Consume a piece of the JSON text; return the newly decoded part of the wanted value.

        Raises:
            StreamInterruptedError: the text is not a JSON object.
            UsageError: called after ``close()``.
        """
        if self._closed:
            raise UsageError("JsonStringExtractor.feed() after close()")
        out: list[str] = []
        i = 0
        n = len(text)
        while i < n:
            if self._in_string:
                i = self._string(text, i, out)
                continue
            ch = text[i]
            i += 1
            self._structure(ch)
        self._pos += n
        return "".join(out)

    def close(self) -> str:
        """End of the arguments: return what is still pending (a lone high surrogate).

        A truncated object (``complete`` is false) is not an error here: the caller decides.
        """
        if self._closed:
            return ""
        self._closed = True
        if self._high and self._role == _R_WANTED:
            high, self._high = self._high, 0
            return chr(high)
        return ""

    # -- strings ----------------------------------------------------------------------------
    def _emit(self, s: str, out: list[str]) -> None:
        if self._high:
            high, self._high = self._high, 0
            self._emit(chr(high), out)
        if self._role == _R_WANTED:
            out.append(s)
        elif self._role == _R_KEY:
            self._keybuf.append(s)

    def _string(self, text: str, i: int, out: list[str]) -> int:
        """Consume string content from ``text[i:]``; return the next index."""
        esc = self._esc
        if esc is None:
            m = _SPECIAL.search(text, i)
            j = len(text) if m is None else m.start()
            if j > i:
                self._emit(text[i:j], out)
            if m is None:
                return j
            if text[j] == '"':
                self._end_string(out)
            else:
                self._esc = ""
            return j + 1
        ch = text[i]
        if esc == "":
            if ch == "u":
                self._esc = "u"
            elif ch in _SIMPLE_ESCAPES:
                self._esc = None
                self._emit(_SIMPLE_ESCAPES[ch], out)
            else:
                self._fail(f"invalid escape \\{ch}")
            return i + 1
        # in \\uXXXX: collect hex digits
        if ch not in _HEX:
            self._fail(f"invalid \\u escape \\{esc}{ch}")
        esc += ch
        if len(esc) < 5:
            self._esc = esc
            return i + 1
        self._esc = None
        code = int(esc[1:], 16)
        if 0xD800 <= code <= 0xDBFF:
            if self._high:
                self._emit("", out)  # flush the previous lone high surrogate
            self._high = code
        elif 0xDC00 <= code <= 0xDFFF and self._high:
            high, self._high = self._high, 0
            self._emit(chr(0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)), out)
        else:
            self._emit(chr(code), out)
        return i + 1

    def _end_string(self, out: list[str]) -> None:
        self._emit("", out)  # flush a lone high surrogate
        self._in_string = False
        if self._role == _R_KEY:
            self._current_key = "".join(self._keybuf)
            self._keybuf = []
            self._state = _COLON
        elif self._state == _VALUE:
            self._state = _AFTER
        self._role = _R_SKIP

    # -- structure --------------------------------------------------------------------------
    def _structure(self, ch: str) -> None:
        state = self._state
        if state == _NESTED:
            if ch == '"':
                self._in_string = True
                self._role = _R_SKIP
            elif ch in "[{":
                self._depth += 1
            elif ch in "]}":
                self._depth -= 1
                if self._depth == 0:
                    self._state = _AFTER
            return
        if ch in _WS:
            if state == _SCALAR:
                self._state = _AFTER
            return
        if state == _BEFORE:
            if ch != "{":
                self._fail(f"expected '{{', got {ch!r}")
            self._state = _KEY
        elif state == _KEY:
            if ch == '"':
                self._in_string = True
                self._role = _R_KEY
            elif ch != "}":
                self._fail(f"expected a key, got {ch!r}")
            else:
                self._state = _DONE
        elif state == _COLON:
            if ch != ":":
                self._fail(f"expected ':', got {ch!r}")
            self._state = _VALUE
        elif state == _VALUE:
            if ch == '"':
                self._in_string = True
                if self._current_key == self.key and not self._found:
                    self._role = _R_WANTED
                    self._found = True
                else:
                    self._role = _R_SKIP
            elif ch in "[{":
                self._state = _NESTED
                self._depth = 1
            elif ch in "-0123456789tfnIN":  # (Infinity, NaN: as Python's json writes them)
                self._state = _SCALAR
            else:
                self._fail(f"expected a value, got {ch!r}")
        elif state in (_AFTER, _SCALAR):
            if ch == ",":
                self._state = _KEY
            elif ch == "}":
                self._state = _DONE
            elif state == _AFTER:
                self._fail(f"expected ',' or '}}', got {ch!r}")
        else:  # _DONE
            self._fail(f"unexpected {ch!r} after the end of the object")

    def _fail(self, why: str) -> None:
        raise StreamInterruptedError(f"malformed tool-call arguments: {why}")
