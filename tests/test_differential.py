"""Differential test: each deterministic program of tests/programs run whole with ``python file.py``
and statement by statement through every backend gives the same stdout, the same exit status and
the same exception type and line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from programs_util import Observed, programs, run_whole, unavailable

from eagerexec import BackendUnavailableError, Chunker, ChunkKind, ExecRequest, open_backend

BACKENDS = ["local", "sandbox", "jupyter", "docker"]


async def run_statements(backend_name: str, code: str, workdir: Path, **options: object) -> Observed:
    chunker = Chunker()
    chunks = chunker.feed(code) + chunker.close()
    stdout: list[str] = []
    async with open_backend(backend_name, workdir=workdir, timeout=120, **options) as backend:
        for chunk in chunks:
            if chunk.kind is ChunkKind.SYNTAX_ERROR:
                assert chunk.error is not None
                return Observed("".join(stdout), 1, chunk.error.type, chunk.error.line)
            if chunk.is_blank:
                continue
            outcome = await backend.execute(ExecRequest(code=chunk.code, first_line=chunk.start_line))
            stdout.append(outcome.stdout)
            if outcome.exit_code is not None and outcome.error is None:
                return Observed("".join(stdout), outcome.exit_code, None, None)
            if outcome.error is not None:
                status = outcome.exit_code if outcome.exit_code is not None else 1
                if outcome.error.type == "SystemExit":
                    return Observed("".join(stdout), status, None, None)
                return Observed("".join(stdout), status, outcome.error.type, outcome.error.line)
    return Observed("".join(stdout), 0, None, None)


def _options(name: str, text: str) -> dict[str, object]:
    if name == "docker":
        # the docker tests know the local images
        from test_backends_docker import _PROBLEM, DATA_IMAGE, DATA_PROBLEM, IMAGE

        if "matplotlib" in text:
            if DATA_PROBLEM is not None:
                unavailable("docker", DATA_PROBLEM)
            return {"image": DATA_IMAGE}
        if _PROBLEM is not None:
            unavailable("docker", _PROBLEM)
        return {"image": IMAGE}
    return {}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("program", programs(), ids=lambda p: p.stem)
def test_differential(backend: str, program: Path, tmp_path: Path) -> None:
    if backend == "docker" or backend == "jupyter":
        module = "docker" if backend == "docker" else "ipykernel"
        try:
            __import__(module)
        except ImportError:
            unavailable(backend, f"{module} is not installed")
    text = program.read_text(encoding="utf-8")
    if backend == "jupyter" and "matplotlib" in text:
        pytest.skip("Jupyter's inline backend shows and closes figures at the end of every cell, by design")
    if backend == "jupyter" and "asyncio.run(" in text:
        pytest.skip("a Jupyter kernel runs its own event loop: asyncio.run() raises there by design")
    whole_dir = tmp_path / "whole"
    eager_dir = tmp_path / "eager"
    whole_dir.mkdir()
    eager_dir.mkdir()
    expected = run_whole(program, whole_dir)
    try:
        got = asyncio.run(
            run_statements(backend, program.read_text(encoding="utf-8"), eager_dir, **_options(backend, text))
        )
    except BackendUnavailableError as exc:
        unavailable(backend, str(exc))
    assert got.stdout == expected.stdout
    assert got.status == expected.status
    assert (got.error_type, got.error_line) == (expected.error_type, expected.error_line)
