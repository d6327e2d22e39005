"""The chunker's PEP 701 path (f-string replacement fields scanned as code), which only runs on
Python >= 3.12, checked under such an interpreter when one is installed (the suite runs on 3.11).

The chunker modules are stdlib-only: the child loads them from ``src/`` as a bare namespace
package, feeds each program whole, one character at a time and in random splits, and reports
where the chunks start and whether each compiled.
"""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "eagerexec"


def _works(path: str) -> bool:
    try:
        return subprocess.run([path, "-c", "pass"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _newer_pythons() -> list[str]:
    """Working interpreters >= 3.12: on PATH, or under pyenv (shims may point nowhere)."""
    found = []
    for version in ("3.12", "3.13"):
        candidates = [shutil.which(f"python{version}")]
        candidates += sorted(glob.glob(f"/root/.pyenv/versions/{version}*/bin/python{version}"))
        path = next((c for c in candidates if c and _works(c)), None)
        if path:
            found.append(path)
    return found


PROGRAMS = {
    # nested quotes of the same kind inside a replacement field
    "same_quotes": 'x = f"{"a" + "b"}"\nprint(x)\n',
    # a dict display, a format spec with a nested field, a conversion
    "spec": 'd = {1: 2}\ny = f"{ {1: 2}[1] }" # c\nprint(f"{y!r:>{10}}")\n',
    # a newline and a comment inside a field (only legal under PEP 701)
    "multiline_field": 'z = 5\nw = f"{z # comment\n}"\nprint(w)\n',
    # a triple-quoted f-string whose field spans lines, then a compound statement
    "triple": 'v = 1\nt = f"""{\n  v\n}"""\nif t:\n    print(t)\nprint("end")\n',
    # doubled braces stay literal; \\N{...} is an escape, not a field
    "literals": 's = f"{{x}} \\N{BULLET} {1+1}"\nprint(s)\n',
}
EXPECTED = {
    "same_quotes": [1, 2],
    "spec": [1, 2, 3],
    "multiline_field": [1, 2, 4],
    "triple": [1, 2, 5, 7],
    "literals": [1, 2],
}

CHILD = r"""
import json, random, sys, types
pkg = types.ModuleType("eagerexec"); pkg.__path__ = [sys.argv[1]]; sys.modules["eagerexec"] = pkg
from eagerexec.chunker._chunker import Chunker
programs = json.loads(sys.stdin.read())
rng = random.Random(7)
out = {}
for name, src in programs.items():
    seen = []
    for mode in ("whole", "chars", "random"):
        c = Chunker(); chunks = []
        if mode == "whole":
            chunks += c.feed(src)
        elif mode == "chars":
            for ch in src:
                chunks += c.feed(ch)
        else:
            i = 0
            while i < len(src):
                j = i + rng.randint(1, 4); chunks += c.feed(src[i:j]); i = j
        chunks += c.close()
        seen.append([[k.start_line, k.kind.value] for k in chunks])
    out[name] = seen
print(json.dumps(out))
"""


@pytest.mark.parametrize("python", _newer_pythons() or [None], ids=lambda p: Path(p).name if p else "none")
def test_pep701_fstrings_under_a_newer_python(python: str | None) -> None:
    if python is None:
        pytest.skip("no Python >= 3.12 installed")
    done = subprocess.run(
        [python, "-c", CHILD, str(SRC)], input=json.dumps(PROGRAMS), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for name, feeds in result.items():
        whole, chars, rnd = feeds
        assert whole == chars == rnd, name
        assert [line for line, _ in whole] == EXPECTED[name], name
        assert all(kind != "syntax_error" for _, kind in whole), name
    # and the same programs run unchanged under that interpreter
    for src in PROGRAMS.values():
        ran = subprocess.run([python, "-c", src], capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, ran.stderr
