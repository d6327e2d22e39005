"""``FenceExtractor``: the code inside markdown fences of an answer, while it streams (sans-IO).

Strategy: a line-oriented state machine. Fences are only recognised at the start of a line
(after any indentation, as models indent fences inside lists), so only line starts need
character-level work; the rest of a line is skipped (prose) or emitted (code) with one
``str.find`` for the next newline. Every character is looked at a bounded number of times:
O(1) amortised work per character.

Rules (CommonMark's, loosened where models are sloppy):

* An opening fence is 3+ backticks or tildes; the first word of its info string picks the
  language. Python blocks (``python``, ``py``, ``python3``, ``py3``, ``ipython``,
  ``ipython3``, ``{python}``, any case) and bare fences are code; other languages (``bash``,
  ``json``, ``text``...) are skipped, but tracked so that their closing fence is not taken for
  an opening one. A backtick fence whose info string holds a backtick is inline code (prose).
* Inside a block, a line closes it only when it is (indentation +) the same fence character
  repeated at least as many times as the opening fence, then only whitespace: a ````` ``` `````
  in the middle of a code line never closes. Code text is emitted as soon as its line is known
  not to be a closing fence (indentation and leading fence characters are held until then).
* Several code blocks are concatenated in order; a newline is inserted between them when the
  previous one did not end with one, so they stay separate statements.
* A block still open at the end yields its content up to the end; a partial closing fence
  (indentation and fence characters only) on its last line is dropped.
* ``bare_code_fallback``: when the whole answer held no fence at all, ``close()`` returns the
  whole answer as code (so that models that answer with bare code still work, but without the
  overlap: that answer is only known to be code at its end). Off by default.
"""

from __future__ import annotations

__all__ = ["FenceExtractor"]

_CODE_LANGS = frozenset({"", "python", "py", "python3", "py3", "ipython", "ipython3"})

# States
_OUT_START = 0  # prose, at a line start: buffering indentation and fence characters
_OUT_INFO = 1  # prose, an opening fence seen: buffering its info string until the newline
_OUT_SKIP = 2  # prose, the rest of a line that is not a fence
_IN_START = 3  # in a block, at a line start: holding indentation and fence characters
_IN_BODY = 4  # in a block, the rest of a line known not to close it
_IN_TAIL = 5  # in a block, a closing fence seen: only whitespace may follow before the newline


class FenceExtractor:
    """Extracts the Python code of a markdown answer fed piece by piece.

    ``feed(text)`` returns the code that became certain; ``close()`` returns the rest.

    Args:
        bare_code_fallback: when the answer has no fence at all, treat all of it as code
            (returned by ``close()``).
    """

    def __init__(self, *, bare_code_fallback: bool = False) -> None:
        self.bare_code_fallback = bare_code_fallback
        self._state = _OUT_START
        self._held: list[str] = []  # text held at a line start (or an info string)
        self._tail_ws = False  # whitespace seen after a closing fence
        self._fence_char = ""
        self._fence_len = 0  # fence length: of the opening candidate, or of the open block
        self._run = 0  # fence characters counted on the current line start
        self._emit = False  # the open block is code (not another language)
        self._saw_fence = False
        self._blocks = 0  # code blocks opened
        self._last = ""  # last character emitted
        self._all: list[str] | None = [] if bare_code_fallback else None
        self._closed = False

    @property
    def found_code(self) -> bool:
        """A Python (or bare) code block was opened, or the fallback produced code."""
        return self._blocks > 0

    @property
    def in_code(self) -> bool:
        """Currently inside a code block."""
        return self._state in (_IN_START, _IN_BODY, _IN_TAIL) and self._emit

    def feed(self, text: str) -> str:
        """Consume a piece of the answer; return the code it made certain (maybe ``""``)."""
        if self._closed:
            from .._exceptions import UsageError

            raise UsageError("FenceExtractor.feed() after close()")
        if self._all is not None:
            if self._saw_fence:
                self._all = None
            else:
                self._all.append(text)
        out: list[str] = []
        i = 0
        n = len(text)
        while i < n:
            state = self._state
            if state == _OUT_SKIP or state == _IN_BODY:
                j = text.find("\n", i)
                end = n if j < 0 else j + 1
                if state == _IN_BODY and self._emit:
                    out.append(text[i:end])
                if j >= 0:
                    self._state = _IN_START if state == _IN_BODY else _OUT_START
                i = end
                continue
            if state == _OUT_INFO:
                j = text.find("\n", i)
                if j < 0:
                    self._held.append(text[i:])
                    break
                self._held.append(text[i:j])
                i = j + 1
                self._open_block(out)
                continue
            ch = text[i]
            i += 1
            if state == _OUT_START:
                self._line_start_prose(ch, out)
            elif state == _IN_START:
                self._line_start_code(ch, out)
            else:  # _IN_TAIL
                if ch == "\n":
                    self._state = _OUT_START
                    self._held = []
                    self._run = 0
                elif ch.isspace() or (ch == self._fence_char and not self._tail_ws):
                    self._tail_ws = self._tail_ws or ch.isspace()
                    self._held.append(ch)
                else:
                    # Not a closing fence after all: the held text is code.
                    self._state = _IN_BODY
                    self._held.append(ch)
                    self._release(out)
        result = "".join(out)
        if result:
            self._last = result[-1]
        return result

    def close(self) -> str:
        """End of the answer: return the code still held (an unclosed block's last line, or
        the whole answer under ``bare_code_fallback``)."""
        if self._closed:
            return ""
        self._closed = True
        out: list[str] = []
        if self._state == _IN_START and self._emit and self._held:
            if self._run == 0:  # indentation only
                self._release(out)
            # else: a partial closing fence (cut off by the end): dropped
        if self._all is not None and not self._saw_fence and self.bare_code_fallback:
            whole = "".join(self._all)
            if whole.strip():
                self._blocks += 1
                out.append(whole)
        self._all = None
        return "".join(out)

    # -- line starts ------------------------------------------------------------------------
    def _line_start_prose(self, ch: str, out: list[str]) -> None:
        if ch == "\n":
            if self._run >= 3:  # a bare opening fence
                self._fence_len = self._run
                self._held = []
                self._open_block(out)
            self._run = 0
            return
        if self._run == 0 and ch in " \t\r":
            return
        if ch in "`~" and (self._run == 0 or ch == self._fence_char):
            self._fence_char = ch
            self._run += 1
            return
        if self._run >= 3:
            # An opening fence: the rest of the line is its info string.
            self._fence_len = self._run
            self._run = 0
            self._held = [ch]
            self._state = _OUT_INFO
            return
        self._run = 0
        self._state = _OUT_SKIP

    def _open_block(self, out: list[str]) -> None:
        info = "".join(self._held).strip()
        self._held = []
        if self._fence_char == "`" and "`" in info:
            self._state = _OUT_START  # inline code on a line of its own
            return
        lang = info.split(None, 1)[0].strip("{}.").lower() if info else ""
        self._saw_fence = True
        self._emit = lang in _CODE_LANGS
        self._state = _IN_START
        self._run = 0
        if self._emit:
            last = next((piece[-1] for piece in reversed(out) if piece), self._last)
            if last not in ("", "\n"):
                out.append("\n")
                self._last = "\n"
            self._blocks += 1

    def _line_start_code(self, ch: str, out: list[str]) -> None:
        if ch == "\n":
            self._held.append("\n")
            self._release(out)
            self._run = 0
            return
        if self._run == 0 and ch in " \t\r":
            self._held.append(ch)
            return
        if ch == self._fence_char:
            self._held.append(ch)
            self._run += 1
            if self._run >= self._fence_len:
                self._state = _IN_TAIL
                self._tail_ws = False
                self._run = 0
            return
        self._state = _IN_BODY
        self._run = 0
        self._held.append(ch)
        self._release(out)

    def _release(self, out: list[str]) -> None:
        """The held text is code (of the open block, if it is emitted)."""
        if self._emit:
            out.append("".join(self._held))
        self._held = []
