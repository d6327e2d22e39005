"""What the harness runs: ``Program`` values, and the directories of ``.py`` files they come from.

Strategy: a corpus spec is resolved once, up front (``_corpus.load_corpus``), into a list of
``Program`` (name, code, data files as bytes, expected outcome). ``bundled`` is the package's
own corpus and a directory is every ``*.py`` in it (sorted); the public-benchmark loaders live
in ``_loaders``. Data files are held as bytes so that a program can be shipped to another
machine (Ray) and materialised in a fresh working directory there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .._exceptions import BenchError

__all__ = ["Program", "bundled_dir", "parse_expect", "programs_from_dir"]

_EXPECT = re.compile(r"^#\s*expect:\s*(ok|error\s+(\w+)(?:\s+line\s+(\d+))?)\s*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Program:
    """One program of a corpus.

    Attributes:
        name: unique within its corpus (file stem, or the benchmark's task id).
        corpus: the corpus label used in reports (``bundled``, a directory name, ``dabench``...).
        code: the Python source that is replayed as a token stream.
        files: data files to place in the run's working directory, ``(relative path, bytes)``.
        expect: ``ok``, ``error <Type>`` or ``""`` when unknown.
        task: the request the code answers (a benchmark's question), for the repair study;
            ``""`` when the corpus has none (the study then uses the module docstring).
    """

    name: str
    corpus: str
    code: str
    files: tuple[tuple[str, bytes], ...] = ()
    expect: str = ""
    task: str = ""


def parse_expect(code: str) -> str:
    """The ``# expect:`` header of a corpus file: ``ok``, ``error <Type>``, or ``""``."""
    for line in code.splitlines()[:3]:
        m = _EXPECT.match(line.strip())
        if m:
            return "ok" if m.group(1) == "ok" else f"error {m.group(2)}"
    return ""


def programs_from_dir(directory: Path, corpus: str) -> list[Program]:
    """Every ``*.py`` file of ``directory`` (not recursive), sorted by name.

    Raises:
        BenchError: the directory holds no ``.py`` file or a file cannot be read.
    """
    files = sorted(p for p in directory.glob("*.py") if p.is_file() and p.name != "__init__.py")
    if not files:
        raise BenchError(f"corpus {directory}: no .py files")
    out = []
    for path in files:
        try:
            code = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BenchError(f"corpus {directory}: cannot read {path.name}: {exc}") from exc
        out.append(Program(name=path.stem, corpus=corpus, code=code, expect=parse_expect(code)))
    return out


def bundled_dir() -> Path:
    """The package's own corpus directory (``bundled``)."""
    return Path(__file__).resolve().parent.parent / "corpus"


