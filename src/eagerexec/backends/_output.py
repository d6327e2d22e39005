"""The one output limit: keep the head and the tail of a stream of text, count what is dropped.

Strategy: the first ``limit // 2`` characters go to the head and are passed on live; after that,
text goes to a tail window that keeps the last ``limit - limit // 2`` characters and is passed on
when the stream (a call, a run) ends, with the number of characters dropped before it. Because
head and tail compose, a run-level cap fed with what per-call caps of the same limit passed on
(text, and ``skipped`` counts) keeps exactly the head and the tail of the whole run: the result
is the same whatever the batching, in serial and eager mode and on every backend. A flood costs
O(1) memory beyond the limit.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_OUTPUT", "OutputCap", "drop_marker"]

DEFAULT_MAX_OUTPUT = 4 * 1024 * 1024
"""Characters of stdout (and of stderr) kept per run by default."""


def drop_marker(dropped: int) -> str:
    """The line that stands for ``dropped`` characters between the head and the tail."""
    return f"\n[... {dropped} characters of output dropped (output limit) ...]\n"


class OutputCap:
    """Head and tail of a text stream (see the module docstring).

    Args:
        limit: characters kept in all (head plus tail); at least 2.
    """

    __slots__ = ("_head", "_head_left", "_tail", "_tail_len", "dropped", "limit", "tail_limit", "total")

    def __init__(self, limit: int) -> None:
        if limit < 2:
            raise ValueError(f"the output limit must be at least 2 characters, got {limit}")
        self.limit = limit
        self.tail_limit = limit - limit // 2
        self._head: list[str] = []
        self._head_left = limit // 2
        self._tail: list[str] = []
        self._tail_len = 0
        self.dropped = 0
        """Characters dropped between the head and the tail so far."""
        self.total = 0
        """Characters seen (kept or dropped)."""

    def feed(self, text: str, skipped: int = 0) -> str:
        """Take ``text``, preceded by ``skipped`` characters an earlier cap dropped.

        Returns:
            The part of ``text`` that went to the head: pass it on now (live output).
        """
        self.total += len(text) + skipped
        if skipped:
            # unknown characters: the head closes, what the tail held is no longer the end
            self._head_left = 0
            self.dropped += skipped + self._tail_len
            self._tail.clear()
            self._tail_len = 0
        live = ""
        if self._head_left:
            live = text[: self._head_left]
            self._head.append(live)
            self._head_left -= len(live)
            text = text[len(live) :]
        if text:
            self._tail.append(text)
            self._tail_len += len(text)
            if self._tail_len > 2 * self.tail_limit:
                self._trim()
        return live

    def _trim(self) -> None:
        joined = "".join(self._tail)
        excess = len(joined) - self.tail_limit
        if excess > 0:
            self.dropped += excess
            joined = joined[excess:]
        self._tail = [joined] if joined else []
        self._tail_len = len(joined)

    def take_tail(self) -> tuple[str, int]:
        """End of the stream: the tail kept after the head, and how many characters were dropped
        before it (pass both on, e.g. as one ``OutputEvent`` with ``skipped``)."""
        if not self._tail:  # all of it went to the head (the common case)
            return "", self.dropped
        self._trim()
        return "".join(self._tail), self.dropped

    def text(self) -> str:
        """Everything kept, with a marker line where characters were dropped."""
        if not self._tail and not self.dropped:
            return "".join(self._head)
        self._trim()
        head = "".join(self._head)
        tail = "".join(self._tail)
        if not self.dropped:
            return head + tail
        return head + drop_marker(self.dropped) + tail
