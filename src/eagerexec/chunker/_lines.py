"""Python's own notion of a line end, for every layer that cuts source text into lines.

Python ends a physical line at ``\\n``, ``\\r\\n`` or ``\\r`` only. ``str.splitlines()`` also
splits at ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``, ``\\x85``, U+2028 and U+2029, which Python keeps
inside a line (in a string literal, a comment, or a line holding only a form feed), so source
text must never be cut with it: a string holding U+2028 would be cut in two and stop compiling.
"""

from __future__ import annotations

import re

__all__ = ["LINE_END", "count_line_breaks", "split_lines"]

LINE_END = re.compile(r"\r\n|\r|\n")
"""One line end as Python's tokenizer sees it."""

_LINE_KEEP = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def split_lines(text: str, *, keepends: bool = False) -> list[str]:
    """Split source text into physical lines the way Python does (``\\n``, ``\\r\\n``, ``\\r``).

    Like ``str.splitlines()`` (no empty last item after a final line end), but never at the
    other characters ``str.splitlines()`` treats as line ends.

    Args:
        text: source text.
        keepends: keep each line's end (then ``"".join(lines) == text``).

    Returns:
        The lines, in order.
    """
    lines = _LINE_KEEP.findall(text)
    if keepends:
        return lines
    return [LINE_END.sub("", line, count=1) if line.endswith(("\n", "\r")) else line for line in lines]


def count_line_breaks(text: str) -> int:
    """Line breaks in ``text``, counting ``\\r\\n`` once.

    Args:
        text: source text.

    Returns:
        The number of line ends Python sees in ``text``.
    """
    return text.count("\n") + text.count("\r") - text.count("\r\n")
