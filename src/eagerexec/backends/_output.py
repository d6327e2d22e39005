"""The one output limit: keep the head and the tail of a stream of text, count what is dropped.

Strategy: the first ``limit // 2`` characters go to the head and are passed on live; after that,
text goes to a tail window that keeps the last ``limit - limit // 2`` characters and is passed on
when the stream (a call, a run) ends, with the number of characters dropped before it. Because
head and tail compose, a run-level cap fed with what per-call caps of the same limit passed on
(text, and ``skipped`` counts) keeps exactly the head and the tail of the whole run: the result
is the same whatever the batching, in serial and eager mode and on every backend. A flood costs
O(1) memory beyond the limit.

Notebook output (``display``/``result`` MIME bundles) is bounded by ``BundleCap``, a budget of the
same size per run, counted in characters of each bundle's encoded form (MIME type names, string
values as they are, base64 included, other values as JSON). The same head-and-tail rule holds,
on whole bundles. A bundle larger than half the limit (a huge PNG) is first reduced to its
``text/plain`` (cut to its head and tail when even that is too large), the rest counted as
dropped. Bundles are kept, live, while they fit in the first half; the first that does not
closes the head, and from then on bundles go to a tail window that keeps the last ones fitting
in the second half, so the run's last outputs are never lost; the bundles dropped from the
middle are counted (how many, and their characters). The
cap sees the same bundles in the same order whatever the batching: the result is the same in
serial and eager mode.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "DROPPED_MIME",
    "BundleCap",
    "OutputCap",
    "bundle_size",
    "drop_marker",
    "dropped_bundle",
]

DEFAULT_MAX_OUTPUT = 4 * 1024 * 1024
"""Characters of stdout (and of stderr, and of display/result bundles) kept per run by default."""

DROPPED_MIME = "application/vnd.eagerexec.dropped+json"
"""The MIME type of the record standing for bundles the output limit dropped:
``{"outputs": N, "characters": M}``."""


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


def bundle_size(bundle: dict[str, Any]) -> int:
    """Characters of a MIME bundle as the limit counts them: each type's name plus its value
    (a string as it is, base64 included; anything else as its JSON)."""
    size = 0
    for mime, value in bundle.items():
        size += len(mime)
        if isinstance(value, str):
            size += len(value)
        else:
            try:
                size += len(json.dumps(value, default=str))
            except (TypeError, ValueError):  # a cycle: counted as its repr
                size += len(repr(value))
    return size


def dropped_bundle(outputs: int, characters: int) -> dict[str, Any]:
    """The bundle of the record that stands where ``outputs`` bundles (``characters`` in all)
    were dropped: its ``text/plain`` says so, ``DROPPED_MIME`` holds the counts."""
    noun = "output" if outputs == 1 else "outputs"
    return {
        "text/plain": f"[... {outputs} {noun} ({characters} characters) dropped (output limit) ...]",
        DROPPED_MIME: {"outputs": outputs, "characters": characters},
    }


def _plain(bundle: dict[str, Any]) -> str:
    text = bundle.get("text/plain")
    return text if isinstance(text, str) else ""


def _cut_plain(text: str, room: int) -> str:
    """``text`` in at most ``room`` characters: its head and its tail around a drop marker (only
    its end when ``room`` is too small for the marker)."""
    if len(text) <= room:
        return text
    room = max(0, room)
    marker = len(drop_marker(len(text)))  # at least the marker's length
    if room <= marker:
        return text[len(text) - room :] if room else ""
    keep = room - marker
    head = keep // 2
    return text[:head] + drop_marker(len(text) - keep) + text[len(text) - (keep - head) :]


class BundleCap:
    """Head and tail of a run's display/result bundles (see the module docstring).

    Args:
        limit: characters of bundles kept in all (head plus tail); at least 2.
    """

    __slots__ = (
        "_head_left",
        "_tail",
        "_tail_size",
        "dropped",
        "dropped_outputs",
        "dropped_outputs_size",
        "limit",
        "tail_limit",
    )

    def __init__(self, limit: int) -> None:
        if limit < 2:
            raise ValueError(f"the output limit must be at least 2 characters, got {limit}")
        self.limit = limit
        self.tail_limit = limit - limit // 2
        self._head_left = limit // 2
        self._tail: deque[tuple[str, dict[str, Any], int]] = deque()
        self._tail_size = 0
        self.dropped = 0
        """Characters of bundles dropped (whole bundles, and the rich types of reduced ones)."""
        self.dropped_outputs = 0
        """Bundles dropped whole, from the middle."""
        self.dropped_outputs_size = 0
        """Characters of the bundles dropped whole."""

    @property
    def head_open(self) -> bool:
        """Bundles still go to the head (and are passed on live)."""
        return self._head_left > 0

    def feed(self, kind: str, bundle: dict[str, Any]) -> tuple[dict[str, Any] | None, int]:
        """Take the next bundle (of ``kind``: ``display`` or ``result``).

        Returns:
            ``(kept, dropped)``: the bundle to pass on now (itself, or its ``text/plain`` alone
            when it is larger than half the limit), or None when it went to the tail; and the
            characters dropped from it (its other types, the middle of a huge text).
        """
        size = bundle_size(bundle)
        reduced = 0
        if size > self.tail_limit:  # too large for either half: its text/plain alone, cut if need be
            text = _plain(bundle)
            kept = {"text/plain": _cut_plain(text, self.tail_limit - len("text/plain"))}
            small = bundle_size(kept)
            reduced = size - small
            self.dropped += reduced
            bundle, size = kept, small
        if self._head_left:
            if size <= self._head_left:
                self._head_left -= size
                return bundle, reduced
            self._head_left = 0  # the head closes: later bundles go to the tail
        self._tail.append((kind, bundle, size))
        self._tail_size += size
        while self._tail_size > self.tail_limit and len(self._tail) > 1:
            _, _, old = self._tail.popleft()
            self._tail_size -= old
            self.dropped += old
            self.dropped_outputs += 1
            self.dropped_outputs_size += old
        return None, 0

    def take_tail(self) -> list[tuple[str, dict[str, Any]]]:
        """End of the run: the bundles kept after the head, in order (``dropped_outputs`` were
        dropped before them). The tail is emptied."""
        tail = [(kind, bundle) for kind, bundle, _ in self._tail]
        self._tail.clear()
        self._tail_size = 0
        return tail
