"""The chunker's nested lexical contexts: strings, f-strings and their replacement fields.

Strategy: a mixin of ``Chunker`` (``_chunker.py``) holding the part of the one-pass scanner that
runs while the context stack is not empty. Each context is a small list on ``_stack``: a string
(quote, triple, f, raw, closing-quote run, escape state), an f-string replacement field (bracket
depth, in-comment flag) or its format spec. Runs of ordinary characters are skipped with the
regexes below; every method returns the index of the next character to scan, and returning the
same index reprocesses that character in the context just entered or left. f-string fields are
scanned as code on Python >= 3.12 only (PEP 701); before that an f-string is a plain string, as
the tokenizer sees it.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._code import ChunkBuilder

__all__ = ["NestedScanner"]

_PEP701 = sys.version_info >= (3, 12)

# Runs the scanner may skip in one step.
_CODE_RUN = re.compile(r"[^\s'\"#()\[\]{}\\:]+")
_COMMENT_RUN = re.compile(r"[^\r\n]+")
_STR_RUN = {
    ("'", False): re.compile(r"[^'\\\r\n]+"),
    ('"', False): re.compile(r"[^\"\\\r\n]+"),
    ("'", True): re.compile(r"[^'\\{}\r\n]+"),
    ('"', True): re.compile(r"[^\"\\{}\r\n]+"),
}
_FSPEC_RUN = re.compile(r"[^{}\r\n]+")
_STRING_PREFIXES = frozenset({"r", "u", "b", "br", "rb", "f", "fr", "rf"})

# Lexical contexts pushed on the stack (bottom-level code is the empty stack).
_STR, _FEXPR, _FSPEC = "s", "e", "p"


def _is_ident(c: str) -> bool:
    return c.isalnum() or c == "_" or c >= "\x80"


class NestedScanner:
    """Scanning inside strings and replacement fields; the state lives in ``Chunker``."""

    _out: ChunkBuilder
    _stack: list[list[object]]
    _s_start: int
    _depth: int
    _after_cr: bool
    _base_col: int
    _quote_char: str
    _quote_count: int
    _quote_f: bool
    _quote_raw: bool
    _run_tail: str
    _brace: bool
    _brace_char: str

    def _newline(self, c: str, pos: int) -> None:  # pragma: no cover - provided by Chunker
        raise NotImplementedError

    def _open_quote(self, c: str, tail: str) -> None:
        prefix = ""
        k = len(tail)
        while k > 0 and tail[k - 1] in "rRbBuUfF":
            k -= 1
        if k == 0 or not _is_ident(tail[k - 1]):
            prefix = tail[k:].lower()
        if prefix not in _STRING_PREFIXES:
            prefix = ""
        self._quote_char = c
        self._quote_count = 1
        self._quote_f = _PEP701 and "f" in prefix
        self._quote_raw = "r" in prefix

    def _scan_nested(self, s: str, i: int) -> int:
        c = s[i]
        pos = self._s_start + i
        if self._quote_char:  # counting an opening quote run: ' '' or '''
            if c == self._quote_char and self._quote_count < 3:
                self._quote_count += 1
                if self._quote_count == 3:
                    self._push_string(triple=True)
                return i + 1
            if self._quote_count == 2:  # an empty string ended
                self._quote_char = ""
                return i
            self._push_string(triple=False)
            return i  # reprocess c inside the string
        top = self._stack[-1]
        kind = top[0]
        if kind == _STR:
            return self._scan_string(s, i, top)
        if kind == _FSPEC:
            if self._brace:
                return self._brace_twin(s, i, top)
            m = _FSPEC_RUN.match(s, i)
            if m:
                return m.end()
            if c == "{":
                self._stack.append([_FEXPR, 0])
            elif c == "}":
                self._stack.pop()  # ends the replacement field
                self._stack.pop()  # (the FEXPR under the spec)
            else:
                self._nested_newline(c, pos)
            return i + 1
        # _FEXPR: code inside a replacement field
        if top[2] if len(top) > 2 else False:  # in a comment inside the field
            m = _COMMENT_RUN.match(s, i)
            if m:
                return m.end()
            top.pop()
            self._nested_newline(c, pos)
            return i + 1
        m = _CODE_RUN.match(s, i)
        if m:
            j = m.end()
            self._run_tail = s[max(i, j - 3) : j]
            return j
        tail = self._run_tail
        self._run_tail = ""
        depth = top[1]
        assert isinstance(depth, int)
        if c == "'" or c == '"':
            self._open_quote(c, tail)
        elif c in "([{":
            top[1] = depth + 1
        elif c in ")]":
            top[1] = max(0, depth - 1)
        elif c == "}":
            if depth == 0:
                self._stack.pop()
            else:
                top[1] = depth - 1
        elif c == ":" and depth == 0:
            self._stack.append([_FSPEC])
        elif c == "#":
            top.append(True)
        elif c == "\n" or c == "\r":
            self._nested_newline(c, pos)
        elif c == "\\" and i + 1 < len(s) and s[i + 1] in "\r\n":
            return i + 1
        return i + 1

    def _push_string(self, *, triple: bool) -> None:
        self._stack.append([_STR, self._quote_char, triple, self._quote_f, self._quote_raw, 0, False])
        self._quote_char = ""

    def _scan_string(self, s: str, i: int, top: list[object]) -> int:
        # top: [_STR, quote, triple, is_f, is_raw, closing_quote_run, escape_pending]
        quote, triple, is_f, is_raw = top[1], top[2], top[3], top[4]
        assert isinstance(quote, str)
        c = s[i]
        pos = self._s_start + i
        if top[6]:  # the character after a backslash
            top[6] = False
            if c == "\n" or c == "\r":
                self._nested_newline(c, pos)
                return i + 1
            if is_f and not is_raw and c == "N" and i + 1 >= len(s):
                top[6] = "N?"  # may be \N{...}: decided by the next character
                return i + 1
            if is_f and not is_raw and c == "N" and s[i + 1] == "{":
                top[6] = "N{"
                return i + 2
            if is_f and c in "{}":
                return i  # a brace after a backslash still opens a replacement field
            return i + 1
        if top[6] == "N?":
            top[6] = "N{" if c == "{" else False
            return i + 1 if c == "{" else i
        if top[6] == "N{":  # inside \N{NAME}: ends at '}'
            if c == "}":
                top[6] = False
            elif c in "\r\n":
                top[6] = False
                return i
            return i + 1
        if self._brace:
            return self._brace_twin(s, i, top)
        m = _STR_RUN[quote, bool(is_f)].match(s, i)
        if m:
            top[5] = 0
            return m.end()
        if c == quote:
            if not triple:
                self._stack.pop()
                return i + 1
            run = top[5]
            assert isinstance(run, int)
            top[5] = run + 1
            if run + 1 == 3:
                self._stack.pop()
            return i + 1
        top[5] = 0
        if c == "\\":
            top[6] = True
        elif c == "{" or c == "}":
            self._brace = True
            self._brace_char = c
        elif c == "\n" or c == "\r":
            if triple:
                self._nested_newline(c, pos)
            else:  # unterminated string: the tokenizer gives up at the newline
                self._stack.clear()
                self._depth = 0
                self._newline(c, pos)
        return i + 1

    def _brace_twin(self, s: str, i: int, top: list[object]) -> int:
        """Resolve a '{' or '}' in f-string text: doubled is literal, single opens/closes a field."""
        self._brace = False
        c = s[i]
        if c == self._brace_char:
            return i + 1  # '{{' or '}}': a literal brace
        if self._brace_char == "{":
            self._stack.append([_FEXPR, 0])
        elif top[0] == _FSPEC:  # a single '}' ends the format spec and its field
            self._stack.pop()
            if self._stack and self._stack[-1][0] == _FEXPR:
                self._stack.pop()
        return i  # reprocess c in the new context

    def _nested_newline(self, c: str, pos: int) -> None:
        """A newline inside a string or a replacement field: not a logical line end."""
        if c == "\r":
            self._after_cr = True
        if self._base_col:
            self._out.note_string_line(pos + 1)
