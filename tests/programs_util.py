"""Helpers for the differential test programs in tests/programs (not a test module)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROGRAMS = Path(__file__).parent / "programs"
_EXPECT = re.compile(r"^# expect: (ok|error (\w+) line (\d+)|exit (\d+)|syntax-error line (\d+))\s*$", re.M)


@dataclass(frozen=True)
class Observed:
    stdout: str
    status: int
    error_type: str | None
    error_line: int | None


def programs(*, differential_only: bool = True) -> list[Path]:
    out = []
    for p in sorted(PROGRAMS.glob("*.py")):
        if differential_only and "# differential: no" in p.read_text(encoding="utf-8"):
            continue
        out.append(p)
    return out


def run_whole(path: Path, cwd: Path) -> Observed:
    """``python file.py`` in ``cwd``: stdout, exit status, exception type and line."""
    target = cwd / "program.py"
    target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0")
    proc = subprocess.run(
        [sys.executable, str(target)], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )
    etype, eline = parse_traceback(proc.stderr, str(target))
    return Observed(proc.stdout, proc.returncode, etype, eline)


def parse_traceback(stderr: str, filename: str) -> tuple[str | None, int | None]:
    """The exception type and the innermost line in ``filename`` of a printed traceback."""
    if "Traceback" not in stderr and "Error" not in stderr:
        return None, None
    line = None
    for m in re.finditer(r'File "([^"]+)", line (\d+)', stderr):
        if m.group(1) == filename:
            line = int(m.group(2))
    last = [ln for ln in stderr.strip().splitlines() if ln and not ln.startswith(" ")]
    etype = None
    if last:
        head = last[-1].split(":", 1)[0].strip()
        etype = head.rsplit(".", 1)[-1] if re.fullmatch(r"[\w.]+", head) else None
    return etype, line


def required_backends() -> set[str]:
    """Backends this run must have (``EAGEREXEC_REQUIRE_BACKENDS``, comma-separated; CI sets it)."""
    return {b.strip() for b in os.environ.get("EAGEREXEC_REQUIRE_BACKENDS", "").split(",") if b.strip()}


def unavailable(backend: str, reason: str) -> None:
    """Skip a test whose backend cannot run here, or fail it when this run requires that backend."""
    import pytest

    if backend in required_backends():
        pytest.fail(f"{backend} is required here (EAGEREXEC_REQUIRE_BACKENDS) but unavailable: {reason}")
    pytest.skip(reason)
