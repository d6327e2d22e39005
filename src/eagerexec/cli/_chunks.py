"""``eager chunks FILE``: show how a program is cut into executable chunks, and when.

Strategy: the file (read by ``read_source``: a missing, unreadable, non-UTF-8 or binary file
exits 2 with one line) is fed to the chunker one character at a time, as a model streams it.
Exit status: 1 when the program holds a syntax error, else 0.
"""

from __future__ import annotations

import sys
from importlib import resources

import click

from ..chunker import Chunk, Chunker
from ._errors import dumps, fail, read_source


def _load(file: str | None, example: bool) -> tuple[str, str]:
    if example or file is None:
        if file is not None:
            fail("give FILE or --example, not both")
        ref = resources.files("eagerexec").joinpath("examples/hello.py")
        return "example hello.py", ref.read_text(encoding="utf-8")
    return file, read_source(file)


def chunk_dict(chunk: Chunk) -> dict[str, object]:
    """The JSON form of ``chunk`` (one line of ``eager chunks --json``)."""
    return {
        "kind": chunk.kind.value,
        "start_line": chunk.start_line,
        "end_line": chunk.end_line,
        "offset": chunk.offset,
        "ready_at": chunk.ready_at,
        "final": chunk.final,
        "indent": chunk.indent,
        "error": None
        if chunk.error is None
        else {
            "type": chunk.error.type,
            "message": chunk.error.message,
            "line": chunk.error.line,
            "column": chunk.error.column,
        },
        "text": chunk.text,
    }


@click.command("chunks")
@click.argument("file", required=False)
@click.option("--example", is_flag=True, help="Use the bundled example program.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
def chunks_command(file: str | None, example: bool, as_json: bool) -> None:
    """Show how FILE is cut into top-level chunks and where each became ready.

    The file is fed to the chunker one character at a time, as a model would stream it.
    """
    name, text = _load(file, example)
    chunker = Chunker(filename=name)
    chunks: list[Chunk] = []
    for ch in text:
        chunks.extend(chunker.feed(ch))
    chunks.extend(chunker.close())
    if as_json:
        for chunk in chunks:
            click.echo(dumps(chunk_dict(chunk), indent=None))
        return
    total = len(text)
    for n, chunk in enumerate(chunks, 1):
        lines = f"{chunk.start_line}-{chunk.end_line}" if chunk.end_line > chunk.start_line else str(chunk.start_line)
        where = "end of stream" if chunk.final else f"char {chunk.ready_at}/{total}"
        head = f"#{n:<3} {chunk.kind.value:<12} lines {lines:<9} ready at {where}"
        if chunk.indent:
            head += f"  (base indent {len(chunk.indent)} stripped)"
        click.echo(click.style(head, bold=True) if sys.stdout.isatty() else head)
        if chunk.error is not None:
            click.echo(f"     {chunk.error}")
        for line in chunk.code.splitlines():
            click.echo(f"   | {line}")
    if any(c.error for c in chunks):
        sys.exit(1)
