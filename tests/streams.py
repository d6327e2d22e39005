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


def cut(text: str, how: str, cuts: int = 8, seed: int | None = None) -> list[str]:
    """Like ``split``, but ``random`` cuts ``text`` at ``cuts`` random places (at most one per
    character; from ``seed``, by default the text's length) into pieces of any size."""
    if how != "random":
        return split(text, how)
    rng = random.Random(len(text) if seed is None else seed)
    at = sorted(rng.sample(range(1, len(text)), min(cuts, len(text) - 1)))
    return [text[a:b] for a, b in zip([0, *at], [*at, len(text)], strict=True)]
