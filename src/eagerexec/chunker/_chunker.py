"""The streaming chunker: text deltas in, complete top-level statements out (sans-IO).

Strategy
--------
One left-to-right pass over the characters, never revisited: a small lexical state machine that
mirrors Python's tokenizer just enough to know, for each character, whether it is inside a string,
a comment, brackets or a backslash continuation, and where each *logical* line starts and ends.
Runs of uninteresting characters are skipped with compiled regular expressions, so the work per
character is O(1) with a small constant; ``compile()`` runs once per statement, at its boundary.

The rules (the statement-level state machine)
---------------------------------------------
* A logical line whose first character sits at the base column (column 0, or the indentation of
  the stream's first statement, see below) is a *top-level line*.
* A top-level line that starts a statement (a *head*) is classified by its first word:
  ``if`` may be continued by ``elif``/``else``; ``for``/``while``/``async for`` by ``else``;
  ``try`` by ``except``/``finally`` (then ``except``/``else``/``finally``, then ``finally``); a
  decorator (``@``) by the definition it decorates; everything else by nothing.
* When a head (or continuation clause) line ends, the statement is complete at once if nothing can
  continue it and no indented body is expected (its last significant character is not ``:``):
  that covers every simple statement, ``;``-joined lines and one-line ``def``/``class``/``with``.
  Otherwise it stays pending.
* A pending statement is released by the next top-level line as soon as that line's first
  characters rule out every allowed continuation keyword (``p`` at once, ``els`` not yet, ``elsew``
  yes); with no allowed keyword, the first character decides. Blank and comment-only lines decide
  nothing; lines that begin inside brackets, strings or after a backslash are not line starts.
* A released statement ends after its last significant logical line; the blank lines and comments
  after it belong to the next chunk. ``close()`` emits whatever is left as the final chunk.
* The first non-blank line's indentation becomes the base column for the rest of the stream (LLM
  output is often indented); a later line indented less is an ``IndentationError``.
* Every chunk is compiled (under the ``from __future__`` flags seen so far); a chunk that does not
  compile becomes a ``syntax_error`` chunk. Nothing raises out of ``feed()``/``close()`` except
  misuse.

f-strings follow the host: on Python >= 3.12 (PEP 701) their replacement fields are scanned as code
(nested quotes, comments, newlines); before 3.12 they are plain strings, as the tokenizer sees them.
The scanning inside strings and replacement fields is the ``NestedScanner`` mixin (``_chunknested``).
"""

from __future__ import annotations

import re

from .._exceptions import UsageError
from ._code import ChunkBuilder
from ._events import Chunk
from ._nested import _CODE_RUN, _COMMENT_RUN, NestedScanner, _is_ident

__all__ = ["Chunker"]

# Runs the scanner may skip in one step (string runs: ``_chunknested``).
_BLANK_RUN = re.compile(r"[ \t\f]+")

# Continuation keywords allowed after a head or clause keyword.
_AFTER: dict[str, frozenset[str]] = {
    "if": frozenset({"elif", "else"}),
    "elif": frozenset({"elif", "else"}),
    "for": frozenset({"else"}),
    "while": frozenset({"else"}),
    "try": frozenset({"except", "finally"}),
    "except": frozenset({"except", "else", "finally"}),
}
_AFTER_CLAUSE: dict[tuple[str, str], frozenset[str]] = {
    ("if", "elif"): _AFTER["elif"],
    ("try", "except"): _AFTER["except"],
    ("try", "else"): frozenset({"finally"}),
}
_NONE: frozenset[str] = frozenset()
_WORD_MAX = 8

# Line roles.
_HEAD, _CLAUSE, _BODY, _DECIDING = 1, 2, 3, 4


class Chunker(NestedScanner):
    """Cut a stream of text deltas into complete top-level statements.

    ``feed()`` any split of the program (one character at a time, a token, many statements) and
    get back the chunks that became certainly complete with that delta; ``close()`` at the end.

    Args:
        filename: the filename used when compiling chunks (appears in syntax errors).
    """

    def __init__(self, *, filename: str = "<stream>") -> None:
        self._out = ChunkBuilder(filename=filename)
        self._closed = False
        # text bookkeeping
        self._parts: list[str] = []  # pending text from earlier deltas
        self._s = ""  # the delta being scanned
        self._s_start = 0  # its global offset
        self._cut = 0  # local index in _s where pending text starts
        self._pending_start = 0  # global offset of the pending text
        self._after_cr = False
        # lexical state
        self._stack: list[list[object]] = []
        self._depth = 0  # bracket depth of bottom-level code
        self._backslash = False  # code backslash seen, next char decides
        self._comment = False
        self._quote_char = ""  # non-empty while counting an opening quote run
        self._quote_count = 0
        self._quote_f = False
        self._quote_raw = False
        self._run_tail = ""  # last identifier characters before the current position
        self._brace = False  # f-string: a '{' or '}' waiting for its twin
        self._brace_char = ""
        # line state
        self._at_line_start = True
        self._col = 0
        self._indent_len = 0  # characters of indentation on this line
        self._comment_line = False
        self._role = 0
        self._word: str | None = None  # first word being collected
        self._word2: str | None = None  # second word after 'async'
        self._async_gap = False
        self._colon_last = False
        # statement state
        self._open = False  # a statement is pending
        self._head = ""  # 'decorator', a keyword, or '' (generic)
        self._allowed: frozenset[str] = _NONE
        self._last_sig_end = 0
        # base indentation
        self._base: str | None = None
        self._base_col = 0

    # -- public API -----------------------------------------------------------------------------
    def feed(self, text: str) -> list[Chunk]:
        """Feed the next delta of the stream.

        Args:
            text: any piece of the program, of any length (may be empty).

        Returns:
            The chunks that became certainly complete with this delta, in order.

        Raises:
            UsageError: ``feed()`` after ``close()``.
        """
        if self._closed:
            raise UsageError("Chunker.feed() called after close(): start a new Chunker for a new stream")
        if not isinstance(text, str):
            raise UsageError(f"Chunker.feed() takes str, not {type(text).__name__}")
        if not text:
            return []
        self._s = text
        self._cut = 0
        self._scan(text)
        if self._cut < len(text):
            self._parts.append(text[self._cut :])
        self._s_start += len(text)
        self._s = ""
        return self._out.take()

    def close(self) -> list[Chunk]:
        """End the stream: emit whatever is left as the final chunk.

        Returns:
            The final chunk (or nothing if no text is pending).

        Raises:
            UsageError: ``close()`` called twice.
        """
        if self._closed:
            raise UsageError("Chunker.close() called twice")
        self._closed = True
        text = "".join(self._parts)
        self._parts = []
        if text:
            self._out.emit(
                text,
                offset=self._pending_start,
                ready_at=self._s_start,
                final=True,
                base=self._base or "",
                base_col=self._base_col,
            )
        return self._out.take()

    @property
    def position(self) -> int:
        """Characters fed so far."""
        return self._s_start

    # -- emission -------------------------------------------------------------------------------
    def _emit(self, end: int, ready_at: int) -> None:
        """Emit the pending text up to global offset ``end`` as one chunk."""
        local_end = end - self._s_start
        if local_end >= self._cut:
            text = "".join(self._parts) + self._s[self._cut : local_end]
            self._parts = []
            self._cut = local_end
        else:
            joined = "".join(self._parts)
            k = end - self._pending_start
            text = joined[:k]
            self._parts = [joined[k:]] if k < len(joined) else []
        if text:
            self._out.emit(
                text,
                offset=self._pending_start,
                ready_at=ready_at,
                final=False,
                base=self._base or "",
                base_col=self._base_col,
            )
        self._pending_start = end
        self._open = False
        self._head = ""
        self._allowed = _NONE

    # -- scanning -------------------------------------------------------------------------------
    def _scan(self, s: str) -> None:
        i = 0
        n = len(s)
        base_pos = self._s_start
        while i < n:
            if self._after_cr:
                self._after_cr = False
                if s[i] == "\n":
                    i += 1
                    continue
            if self._stack or self._quote_char:
                i = self._scan_nested(s, i)
                continue
            if self._comment:
                m = _COMMENT_RUN.match(s, i)
                if m:
                    i = m.end()
                    continue
                self._comment = False  # s[i] is a newline: handled as code below
            if self._at_line_start:
                c = s[i]
                if c == " " or c == "\t" or c == "\f":
                    if c == " ":
                        self._col += 1
                    elif c == "\t":
                        self._col = (self._col // 8 + 1) * 8
                    else:
                        self._col = 0
                    self._indent_len += 1
                    i += 1
                    continue
                if c == "\n" or c == "\r":
                    self._new_physical_line(c)
                    i += 1
                    continue
                if c == "#":
                    self._comment = True
                    self._comment_line = True
                    i += 1
                    continue
                if c == "\ufeff" and base_pos + i == 0:
                    i += 1
                    continue
                self._line_start(base_pos + i)
                # fall through: c is processed as the line's first character
            if self._word is not None or self._word2 is not None:
                self._collect(s[i], base_pos + i)
                if self._word is not None or self._word2 is not None:
                    i += 1
                    continue
                # the word ended on s[i]; process s[i] as code below
            c = s[i]
            if self._backslash:
                self._backslash = False
                if c == "\n" or c == "\r":
                    if c == "\r":
                        self._after_cr = True
                    i += 1
                    continue
            m = _CODE_RUN.match(s, i)
            if m:
                j = m.end()
                self._run_tail = (self._run_tail + s[max(i, j - 3) : j])[-3:] if j - i < 3 else s[j - 3 : j]
                self._colon_last = False
                i = j
                continue
            if c == " " or c == "\t" or c == "\f":
                m = _BLANK_RUN.match(s, i)
                i = m.end() if m else i + 1
                self._run_tail = ""
                continue
            if c == "\n" or c == "\r":
                self._newline(c, base_pos + i)
                i += 1
                continue
            tail = self._run_tail
            self._run_tail = ""
            if c == "#":
                self._comment = True
            elif c == "'" or c == '"':
                self._open_quote(c, tail)
                self._colon_last = False
            elif c == ":":
                self._colon_last = self._depth == 0
            elif c in "([{":
                self._depth += 1
                self._colon_last = False
            elif c in ")]}":
                if self._depth > 0:
                    self._depth -= 1
                self._colon_last = False
            elif c == "\\":
                self._backslash = True
            else:  # other whitespace-class characters (\v, \x1c...): significant, let compile judge
                self._colon_last = False
            i += 1

    # -- lines ----------------------------------------------------------------------------------
    def _new_physical_line(self, c: str) -> None:
        """A blank (or comment-only) line ended: a new physical line starts."""
        if c == "\r":
            self._after_cr = True
        self._at_line_start = True
        self._col = 0
        self._indent_len = 0
        self._comment_line = False

    def _newline(self, c: str, pos: int) -> None:
        """A newline in bottom-level code."""
        if c == "\r":
            self._after_cr = True
        if self._depth > 0:
            return  # inside brackets: the logical line goes on
        if self._comment_line:
            self._new_physical_line(c)
            return
        # a logical line ended at pos
        end = pos + 1
        role = self._role
        self._at_line_start = True
        self._col = 0
        self._indent_len = 0
        self._role = 0
        if not self._open:
            return
        self._last_sig_end = end
        if role == _BODY:
            return
        if self._head == "decorator":
            return
        if self._allowed or self._colon_last:
            return
        self._emit(end, ready_at=end)

    def _line_start(self, pos: int) -> None:
        """The first significant character of a logical line is at ``pos``."""
        self._at_line_start = False
        self._colon_last = False
        self._run_tail = ""
        col = self._col
        if self._base is None:
            start = pos - self._indent_len
            self._base = self._indent_text(start, pos)
            self._base_col = col
        if col > self._base_col:
            if self._open:
                self._role = _BODY
                return
            self._begin_statement()  # unexpected indent: compile will say so
            return
        if col < self._base_col:
            self._out.note_underdent(pos - self._indent_len)
        if not self._open:
            self._begin_statement()
            return
        if self._head == "decorator":
            self._role = _HEAD
            self._head = ""
            self._word = ""
            return
        if not self._allowed:
            self._emit(self._last_sig_end, ready_at=pos + 1)
            self._begin_statement()
            return
        self._role = _DECIDING
        self._word = ""

    def _indent_text(self, start: int, end: int) -> str:
        """The text between global offsets start and end (the current line's indentation)."""
        local_start = start - self._s_start
        local_end = end - self._s_start
        if local_start >= 0:
            return self._s[local_start:local_end]
        joined = "".join(self._parts) + self._s[self._cut : max(self._cut, local_end)]
        return joined[start - self._pending_start : end - self._pending_start]

    def _begin_statement(self) -> None:
        self._open = True
        self._role = _HEAD
        self._head = ""
        self._allowed = _NONE
        self._word = ""

    def _collect(self, c: str, pos: int) -> None:
        """Collect the first word(s) of a top-level line, one character at a time."""
        if self._word2 is not None:  # the word after 'async'
            if self._async_gap and (c == " " or c == "\t" or c == "\f"):
                return
            self._async_gap = False
            if _is_ident(c) and len(self._word2) < _WORD_MAX:
                self._word2 += c
                return
            self._allowed = _AFTER.get(self._word2, _NONE) if self._word2 == "for" else _NONE
            self._word2 = None
            return
        word = self._word
        assert word is not None
        if _is_ident(c) and len(word) < _WORD_MAX + 1:
            word += c
            self._word = word
            self._run_tail = (self._run_tail + c)[-3:]
            if self._role == _DECIDING and not any(k.startswith(word) for k in self._allowed):
                self._release_for_new_statement(pos)
                self._word = word
            return
        if c == "@" and word == "" and self._role == _HEAD:
            self._head = "decorator"
            self._word = None
            return
        # the word is complete
        self._word = None
        if self._role == _DECIDING:
            if word in self._allowed:
                self._role = _CLAUSE
                self._allowed = _AFTER_CLAUSE.get((self._head, word), _NONE)
                return
            self._release_for_new_statement(pos)
            self._word = None
            if c == "@" and word == "":
                self._head = "decorator"
                return
        self._classify(word)

    def _release_for_new_statement(self, pos: int) -> None:
        self._emit(self._last_sig_end, ready_at=pos + 1)
        self._begin_statement()

    def _classify(self, word: str) -> None:
        if word in ("if", "for", "while", "try"):
            self._head = word
            self._allowed = _AFTER[word]
        elif word == "async":
            self._head = "async"
            self._word2 = ""
            self._async_gap = True
        else:
            self._head = ""
            self._allowed = _NONE
