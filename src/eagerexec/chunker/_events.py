"""Events of the chunker: frozen, slotted, keyword-only value objects (h11 style).

A ``Chunk`` is one top-level statement (with the blank lines and comments that precede it) cut
from the stream the moment its completeness became certain. ``text`` is the exact slice of the
input; ``code`` is what to execute: the same text with newlines normalised to ``\\n``, a BOM
removed and, when the stream's first statement was indented, that base indentation removed from
every line that does not start inside a string literal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ._lines import LINE_END

__all__ = ["Chunk", "ChunkKind", "SyntaxErrorInfo"]


class ChunkKind(enum.StrEnum):
    """What a chunk holds, for the executor's scheduling decisions."""

    IMPORT = "import"
    """Only import statements (never deferred: imports are the slow part of most scripts)."""
    DEFINITION = "definition"
    """Only function/class definitions (deferred and merged into the next batch)."""
    STATEMENT = "statement"
    """Anything else that compiles (including comment-only trailing text)."""
    SYNTAX_ERROR = "syntax_error"
    """A complete statement that does not compile; ``Chunk.error`` says why."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntaxErrorInfo:
    """Where and why a chunk fails to compile, in whole-program coordinates.

    Attributes:
        type: ``SyntaxError``, ``IndentationError`` or ``TabError``.
        message: the compiler's message (``msg``), e.g. ``"invalid syntax"``.
        line: 1-based line in the whole program.
        column: 1-based column, as ``SyntaxError.offset`` reports it (0 when unknown).
        text: the offending source line, when known.
    """

    type: str
    message: str
    line: int
    column: int
    text: str | None = None

    def __str__(self) -> str:
        return f"{self.type}: {self.message} (line {self.line}, column {self.column})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Chunk:
    """One top-level statement cut from the stream.

    Attributes:
        text: the exact source slice (concatenating every chunk's text gives the input back).
        code: ``text`` made executable on its own (see the module docstring).
        offset: character offset of ``text`` in the whole program.
        start_line: 1-based line of ``text``'s first character in the whole program.
        end_line: 1-based line of its last character.
        kind: see ``ChunkKind``.
        error: set for ``syntax_error`` chunks.
        ready_at: the character offset in the stream at which completeness became certain
            (the number of characters fed when the deciding character arrived).
        final: True for the chunk ``close()`` emitted with whatever was left.
        indent: the base indentation stripped from the stream's lines ('' for most streams).
        future_flags: compiler flags from ``from __future__`` imports seen before this chunk.
    """

    text: str
    code: str
    offset: int
    start_line: int
    end_line: int
    kind: ChunkKind
    ready_at: int
    error: SyntaxErrorInfo | None = None
    final: bool = False
    indent: str = ""
    future_flags: int = 0

    @property
    def is_blank(self) -> bool:
        """True when the chunk holds only blank lines and comments (nothing to run)."""
        return self.kind is not ChunkKind.SYNTAX_ERROR and _is_trivia(self.code)


def _is_trivia(code: str) -> bool:
    for line in LINE_END.split(code):  # never str.splitlines(): see _lines
        stripped = line.strip(" \t\f")
        if stripped and not stripped.startswith("#"):
            return False
    return True
