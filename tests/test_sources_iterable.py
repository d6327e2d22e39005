"""IterableSource and as_source: sync and async iterables of strings as token sources; the
stats every source keeps (StreamStats) and the package's shape (no import cycle, light import)."""

from __future__ import annotations

import ast
import asyncio
import math
import random
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from eagerexec import UsageError
from eagerexec.sources import IterableSource, ReplaySource, Source, StreamStats, as_source

PIECES = ["import os\n", "x = ", "1\n", "print(x)\n"]


async def collect(src: Source) -> list[str]:
    return [d async for d in src]


def test_list_source() -> None:
    src = IterableSource(PIECES)
    assert asyncio.run(collect(src)) == PIECES
    assert src.stats.tokens == 4
    assert src.stats.raw_text == "".join(PIECES)
    assert src.stats.finish_reason == "stop"


def test_async_generator_source() -> None:
    async def gen() -> AsyncIterator[str]:
        for p in PIECES:
            await asyncio.sleep(0)
            yield p

    assert asyncio.run(collect(IterableSource(gen()))) == PIECES


def test_blocking_generator_does_not_block_the_loop() -> None:
    release = threading.Event()

    def gen() -> Iterator[str]:
        yield "a = 1\n"
        release.wait(5)  # blocks until another task on the loop sets it
        yield "b = 2\n"

    async def run() -> list[str]:
        async def releaser() -> None:
            await asyncio.sleep(0.01)
            release.set()

        async with asyncio.TaskGroup() as tg:
            tg.create_task(releaser())
            task = tg.create_task(collect(IterableSource(gen())))
        return task.result()

    assert asyncio.run(run()) == ["a = 1\n", "b = 2\n"]


def test_aclose_from_inside_the_loop() -> None:
    async def run() -> tuple[list[str], Source]:
        src = IterableSource(iter(PIECES))
        out = []
        async for d in src:
            out.append(d)
            await src.aclose()
        return out, src

    out, src = asyncio.run(run())
    assert out == PIECES[:1]
    assert src.stats.closed_early


def test_non_str_items_are_rejected() -> None:
    with pytest.raises(UsageError, match="must be str"):
        asyncio.run(collect(IterableSource([b"x"])))  # type: ignore[list-item]


def test_as_source() -> None:
    replay = ReplaySource("x", tps=math.inf)
    assert as_source(replay) is replay
    assert asyncio.run(collect(as_source("x = 1\ny = 2\n"))) == ["x = 1\ny = 2\n"]
    assert asyncio.run(collect(as_source(PIECES))) == PIECES
    assert asyncio.run(collect(as_source(p for p in PIECES))) == PIECES
    with pytest.raises(UsageError):
        as_source(42)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        IterableSource(42)  # type: ignore[arg-type]


# -- StreamStats: linear accumulation of the raw answer ------------------------------------------


class _CountingStr(str):
    """A str whose concatenations are counted (``+`` would copy the answer so far)."""

    adds = 0

    def __add__(self, other: str) -> str:
        type(self).adds += 1
        return _CountingStr(str.__add__(self, other))

    def __radd__(self, other: str) -> str:
        type(self).adds += 1
        return _CountingStr(str.__add__(other, self))


def test_raw_text_appends_without_copying() -> None:
    # Each piece is kept as one list element (O(1) per piece): a `str +=` accumulation would
    # copy the text so far at every piece (O(n^2) for n pieces) and concatenate the pieces.
    stats = StreamStats()
    pieces = [_CountingStr(f"x{i} = {i}\n") for i in range(2000)]
    _CountingStr.adds = 0
    for p in pieces:
        stats.note_tokens(1, p)
    assert _CountingStr.adds == 0
    assert stats._raw_parts == pieces
    assert all(a is b for a, b in zip(stats._raw_parts, pieces, strict=True))
    assert stats.tokens == 2000
    # Read: joined once and kept as the single part; later pieces append after it.
    assert stats.raw_text == "".join(pieces)
    assert len(stats._raw_parts) == 1
    stats.note_tokens(1, "tail\n")
    assert len(stats._raw_parts) == 2
    assert stats.raw_text == "".join(pieces) + "tail\n"
    assert StreamStats().raw_text == ""


@pytest.mark.parametrize("how", ["whole", "chars", "random"])
def test_raw_text_is_the_stream_however_it_is_cut(how: str) -> None:
    text = "".join(f"value_{i} = {i} * 2  # ünïcode ✓\n" for i in range(200))
    if how == "whole":
        pieces = [text]
    elif how == "chars":
        pieces = list(text)
    else:
        rng = random.Random(7)
        cuts = sorted(rng.sample(range(1, len(text)), 300))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    src = IterableSource(pieces)
    assert "".join(asyncio.run(collect(src))) == text
    assert src.stats.raw_text == text
    assert src.stats.tokens == len(pieces)


# -- the package's shape -------------------------------------------------------------------------


def _imports(path: Path, package: str) -> set[str]:
    """Modules of ``package`` that ``path`` imports, anywhere (functions included); a name taken
    from the package itself (``from . import name``) counts as importing ``__init__``."""
    names = {p.stem for p in path.parent.glob("*.py")}
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name if a.name in names else "__init__" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(package + "."):
            out.add(node.module[len(package) + 1 :].split(".")[0])
    return out


def test_sources_modules_have_no_import_cycle() -> None:
    import eagerexec.sources

    folder = Path(eagerexec.sources.__file__).parent
    graph = {p.stem: _imports(p, "eagerexec.sources") for p in folder.glob("*.py")}
    assert "_iterable" not in graph["_base"]  # as_source moved out of _base
    # Kahn's algorithm: every module can be ordered after the ones it imports.
    left = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
    while left:
        ready = [m for m, deps in left.items() if not deps]
        assert ready, f"import cycle among {sorted(left)}"
        for m in ready:
            del left[m]
        for deps in left.values():
            deps.difference_update(ready)


def test_importing_sources_is_light() -> None:
    heavy = ("openai", "httpx", "anyio", "tiktoken")
    code = (
        "import sys, eagerexec.sources as s; "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules)); "
        "s.OpenAISource; "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules)); "
        "s.ReplaySource('x = 1', tps=10.0); "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[]", "[]", "['tiktoken']"]
