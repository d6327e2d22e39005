"""Corpus names resolved into programs: ``bundled``, a directory, or ``loader:path``.

Strategy: above both ``_programs`` (the ``Program`` value, directories of ``.py`` files) and
``_loaders`` (the public benchmarks' layouts), so neither imports the other's caller.
"""

from __future__ import annotations

from pathlib import Path

from .._exceptions import BenchError
from ._loaders import LOADERS
from ._programs import Program, bundled_dir, programs_from_dir

__all__ = ["load_corpus"]


def load_corpus(spec: str, *, download: bool = False) -> list[Program]:
    """Resolve a corpus name into programs.

    Args:
        spec: ``bundled``; a directory of ``.py`` files; or ``loader:path`` with loader one of
            ``pandasplotbench``, ``dabench``, ``dsbench``, ``gitchameleon``.
        download: let a loader fetch its published files into ``path`` when they are missing.

    Returns:
        The programs, in a stable order.

    Raises:
        BenchError: the corpus does not exist, is empty, or a benchmark file is malformed.
    """
    if spec == "bundled":
        return programs_from_dir(bundled_dir(), "bundled")
    name, sep, rest = spec.partition(":")
    if sep and name in LOADERS:
        return LOADERS[name](Path(rest), download=download)
    if sep and len(name) > 1 and not Path(spec).exists():
        known = ", ".join(sorted(LOADERS))
        raise BenchError(f"corpus {spec}: unknown loader {name!r} (known: {known})")
    path = Path(spec)
    if not path.exists():
        raise BenchError(f"corpus {spec}: no such directory")
    if not path.is_dir():
        raise BenchError(f"corpus {spec}: not a directory")
    return programs_from_dir(path, path.name or str(path))
