"""Feeding a stream three ways (not a test module): whole, one character at a time, and in random
pieces, as HACKING.md asks of every test that streams text."""

from __future__ import annotations

import random

SPLITS = ["whole", "chars", "random"]
"""The three ways, for ``pytest.mark.parametrize``."""


def split(text: str, how: str, seed: int = 0, longest: int = 9) -> list[str]:
    """``text`` as the pieces ``how`` names: ``whole`` (one piece), ``chars`` (one a character) or
    ``random`` (1 to ``longest`` characters each, from ``seed``). The pieces always join to ``text``."""
    if how == "whole":
        return [text]
    if how == "chars":
        return list(text)
    if how != "random":
        raise ValueError(f"unknown split {how!r}")
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(text):
        n = rng.randint(1, longest)
        out.append(text[i : i + n])
        i += n
    return out
