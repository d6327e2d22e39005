"""Turning a cut slice of the stream into a ``Chunk``: executable code, lines, kind, errors.

The chunker decides *where* a statement ends; this module makes the slice executable on its own
(BOM removed, newlines normalised to ``\\n``, the stream's base indentation stripped from lines
that do not start inside a string literal), compiles it once under the ``from __future__`` flags
seen so far, and names its kind. Compilation errors become ``syntax_error`` chunks with
whole-program line numbers; nothing raises.
"""

from __future__ import annotations
import __future__ as future_module

import ast
import re
import warnings

from ._events import Chunk, ChunkKind, SyntaxErrorInfo
from ._lines import count_line_breaks

__all__ = ["ChunkBuilder"]

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_IMPORTS = (ast.Import, ast.ImportFrom)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# The first word of a chunk, after blank and comment-only lines; for 'async', the word after it.
_FIRST_WORD = re.compile(
    r"(?:[ \t\f]*(?:#[^\r\n]*)?(?:\r\n|\r|\n))*[ \t\f]*(@|[^\W\d]\w*)"
    r"(?:(?<=async)[ \t\f]+(def|for|with)\b)?"
)


class ChunkBuilder:
    """Accumulates finished chunks; owns line numbering and ``__future__`` flags."""

    def __init__(self, *, filename: str) -> None:
        self._filename = filename
        self._ready: list[Chunk] = []
        self._line = 1
        self._prev_cr = False
        self._flags = 0
        self._body_seen = False  # a statement other than a docstring / future import ran
        self._string_lines: set[int] = set()
        self._underdents: list[int] = []
        self._statements_seen = False

    def note_string_line(self, offset: int) -> None:
        """A physical line starting at ``offset`` begins inside a string: never dedent it."""
        self._string_lines.add(offset)

    def note_underdent(self, offset: int) -> None:
        """The line starting at ``offset`` is indented less than the stream's base column."""
        self._underdents.append(offset)

    def take(self) -> list[Chunk]:
        out = self._ready
        self._ready = []
        return out

    def emit(self, text: str, *, offset: int, ready_at: int, final: bool, base: str, base_col: int) -> None:
        start_line = self._line
        lead_drop = self._prev_cr and text.startswith("\n")
        breaks = count_line_breaks(text) - (1 if lead_drop else 0)
        self._line = start_line + breaks
        self._prev_cr = text.endswith("\r")
        end_line = start_line + breaks - (1 if text.endswith(("\n", "\r")) else 0)
        end_line = max(start_line, end_line)

        code = text
        skip = 0
        if lead_drop:
            skip = 1
        if offset == 0 and code.startswith("\ufeff"):
            skip = 1
        underdent = self._first_underdent(offset, offset + len(text))
        if base:
            code = self._dedent(text, offset, skip, base, base_col)
        elif skip:
            code = code[skip:]
        if "\r" in code:
            code = code.replace("\r\n", "\n").replace("\r", "\n")

        error: SyntaxErrorInfo | None = None
        kind = ChunkKind.STATEMENT
        flags = self._flags
        if underdent is not None:
            line_no = start_line + count_line_breaks(text[skip : underdent - offset])
            line_text = _LINE.match(text, underdent - offset)
            shown = line_text.group().rstrip("\r\n") if line_text else ""
            error = SyntaxErrorInfo(
                type="IndentationError",
                message="unindent does not match any outer indentation level",
                line=line_no,
                column=len(shown),
                text=shown,
            )
        else:
            kind, error = self._compile(code, start_line, len(base))
        if error is not None:
            kind = ChunkKind.SYNTAX_ERROR
        self._ready.append(
            Chunk(
                text=text,
                code=code,
                offset=offset,
                start_line=start_line,
                end_line=end_line,
                kind=kind,
                ready_at=ready_at,
                error=error,
                final=final,
                indent=base,
                future_flags=flags,
            )
        )
        if self._string_lines:
            end = offset + len(text)
            self._string_lines = {o for o in self._string_lines if o >= end}

    # -- helpers ----------------------------------------------------------------------------
    def _first_underdent(self, start: int, end: int) -> int | None:
        if not self._underdents:
            return None
        found = None
        keep = []
        for o in self._underdents:
            if start <= o < end:
                found = o if found is None else min(found, o)
            elif o >= end:
                keep.append(o)
        self._underdents = keep
        return found

    def _dedent(self, text: str, offset: int, skip: int, base: str, base_col: int) -> str:
        out: list[str] = []
        pos = offset
        first = True
        for m in _LINE.finditer(text):
            line = m.group()
            line_start = pos
            pos += len(line)
            if first and skip:
                line = line[skip:]
                line_start += skip
            first = False
            if not line or line_start in self._string_lines:
                out.append(line)
            elif line.startswith(base):
                out.append(line[len(base) :])
            else:
                out.append(_strip_columns(line, base_col))
        return "".join(out)

    def _compile(
        self, code: str, start_line: int, col_shift: int
    ) -> tuple[ChunkKind, SyntaxErrorInfo | None]:
        quick = _quick_kind(code)
        try:
            # The compiler's SyntaxWarnings are the program's, reported by the backend that runs
            # it at the right line: never printed by (or raised in) the host here.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if quick is not None:  # one compile() straight to bytecode: no AST objects at all
                    compile(code, self._filename, "exec", self._flags, dont_inherit=True)
                    self._body_seen = self._statements_seen = True
                    return quick, None
                tree = compile(code, self._filename, "exec", self._flags | ast.PyCF_ONLY_AST, dont_inherit=True)
                compile(tree, self._filename, "exec", self._flags, dont_inherit=True)
        except SyntaxError as exc:
            line = (exc.lineno or 1) + start_line - 1
            column = (exc.offset or 0) + (col_shift if exc.offset else 0)
            return ChunkKind.SYNTAX_ERROR, SyntaxErrorInfo(
                type=type(exc).__name__,
                message=exc.msg or str(exc),
                line=line,
                column=column,
                text=(exc.text or "").rstrip("\r\n") or None,
            )
        except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
            return ChunkKind.SYNTAX_ERROR, SyntaxErrorInfo(
                type="SyntaxError", message=str(exc) or type(exc).__name__, line=start_line, column=0
            )
        assert isinstance(tree, ast.Module)
        body = tree.body
        for node in body:
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                if self._body_seen:
                    return ChunkKind.SYNTAX_ERROR, SyntaxErrorInfo(
                        type="SyntaxError",
                        message="from __future__ imports must occur at the beginning of the file",
                        line=node.lineno + start_line - 1,
                        column=node.col_offset + 1,
                    )
                for alias in node.names:
                    feature = getattr(future_module, alias.name, None)
                    if feature is not None:
                        self._flags |= feature.compiler_flag
            elif not (
                not self._body_seen
                and node is body[0]
                and isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
                and not self._statements_seen
            ):
                self._body_seen = True
            self._statements_seen = True
        if body and all(isinstance(n, _IMPORTS) for n in body):
            return ChunkKind.IMPORT, None
        if body and all(isinstance(n, _DEFINITIONS) for n in body):
            return ChunkKind.DEFINITION, None
        return ChunkKind.STATEMENT, None


def _quick_kind(code: str) -> ChunkKind | None:
    """The kind of a chunk from its first word, when that alone settles it (else None).

    A chunk holds one top-level statement (or a ``;``-joined line of them) and compiles as a
    whole, so if it compiles: a chunk opening with ``def``/``class``/``async def``/``@`` is one
    definition (a ``;`` after its colon belongs to its body); one opening with any other word
    that does not start a string (``rb"..."``) is a statement that is neither an import nor a
    docstring. A ``from __future__`` import later in such a chunk is a compile() error anyway.
    Imports, strings, brackets and anything unusual take the AST path.
    """
    m = _FIRST_WORD.match(code)
    if m is None:
        return None
    word = m.group(1)
    if word == "@" or word == "def" or word == "class":
        return ChunkKind.DEFINITION
    if word == "async":
        second = m.group(2)
        if second is None:
            return None
        return ChunkKind.DEFINITION if second == "def" else ChunkKind.STATEMENT
    if word == "import" or word == "from" or code[m.end(1) : m.end(1) + 1] in ("'", '"'):
        return None
    return ChunkKind.STATEMENT


def _strip_columns(line: str, columns: int) -> str:
    """Strip leading whitespace worth up to ``columns`` columns (tabs to multiples of 8)."""
    col = 0
    k = 0
    while k < len(line) and col < columns and line[k] in " \t\f":
        col = (col // 8 + 1) * 8 if line[k] == "\t" else (0 if line[k] == "\f" else col + 1)
        k += 1
    return line[k:]
