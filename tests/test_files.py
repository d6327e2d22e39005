"""The program's files: it runs in the workdir it is given, as ``python prog.py`` run there, and
the session's own files (program text, figures) live elsewhere.

Each test runs on local and sandbox, and on docker when an engine and the image are present.
A caller's workdir is never written, changed or re-owned by the session: a ``program.py`` and a
``figures`` directory already there keep their content, mode and owner.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eagerexec import open_backend
from eagerexec.backends._workerclient import WorkerBackend
from eagerexec.cli import main

IMAGE = os.environ.get("EAGEREXEC_DOCKER_IMAGE", "eagerexec/python:bookworm")


def _docker_problem() -> str | None:
    try:
        import docker

        client = docker.from_env(timeout=10)
        try:
            client.ping()
            client.images.get(IMAGE)
        finally:
            client.close()
    except Exception as exc:
        return f"no Docker engine or image: {type(exc).__name__}"
    return None


_DOCKER = _docker_problem()
BACKENDS = [
    "local",
    "sandbox",
    pytest.param(
        "docker", marks=[pytest.mark.docker, pytest.mark.skipif(_DOCKER is not None, reason=_DOCKER or "")]
    ),
]


def in_session(name: str, body: Callable[[WorkerBackend], Awaitable[Any]], **options: Any) -> Any:
    if name == "docker":
        options.setdefault("image", IMAGE)

    async def main_() -> Any:
        async with open_backend(name, **options) as b:
            assert isinstance(b, WorkerBackend)
            return await body(b)

    return asyncio.run(asyncio.wait_for(main_(), 120))


def snapshot(path: Path) -> dict[str, tuple[int, int, int, bytes]]:
    """Every entry under ``path`` (itself included): owner, group, mode and file content."""
    seen = {}
    for entry in [path, *sorted(path.rglob("*"))]:
        st = entry.lstat()
        data = entry.read_bytes() if entry.is_file() else b""
        seen[str(entry.relative_to(path))] = (st.st_uid, st.st_gid, st.st_mode, data)
    return seen


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A user's directory: data, a program.py of their own and a figures folder with a file."""
    work = tmp_path / "project"
    work.mkdir()
    (work / "data.csv").write_text("a,b\n1,2\n3,4\n")
    (work / "program.py").write_text("# the user's own program.py\n")
    (work / "figures").mkdir()
    (work / "figures" / "keep.txt").write_text("the user's figure notes\n")
    return work


@pytest.mark.parametrize("name", BACKENDS)
def test_relative_reads_and_written_files_stay(name: str, workdir: Path) -> None:
    before = snapshot(workdir)

    async def body(b: WorkerBackend) -> tuple[str, str]:
        out = await b.run(
            "import csv, os\n"
            "rows = list(csv.reader(open('data.csv')))\n"
            "print(rows[-1], os.getcwd())\n"
            "with open('out.txt', 'w') as f:\n"
            "    f.write('written')\n"
            "os.makedirs('sub', exist_ok=True)\n"
            "open('sub/more.txt', 'w').write('more')\n"
        )
        assert out.ok, out.error
        info = await b.run("print(__file__)\nraise ValueError('here')\n", first_line=8)
        assert info.error is not None and info.error.type == "ValueError"
        return out.stdout, info.stdout.strip()

    stdout, program = in_session(name, body, workdir=workdir)
    assert stdout == f"['3', '4'] {workdir}\n"
    assert (workdir / "out.txt").read_text() == "written"
    assert (workdir / "sub" / "more.txt").read_text() == "more"
    # __file__ names a program file outside the workdir; the user's program.py is untouched
    assert program.endswith("program.py") and not program.startswith(str(workdir) + os.sep)
    after = snapshot(workdir)
    for key, value in before.items():
        if key != ".":
            assert after[key] == value, key
    root_before, root_after = before["."], after["."]
    assert root_after[:3] == root_before[:3]  # the workdir's owner, group and mode: not re-owned


@pytest.mark.parametrize("name", BACKENDS)
def test_figures_are_kept_outside_the_workdir_after_close(name: str, workdir: Path) -> None:
    if name == "docker":
        pytest.skip("the docker image has no matplotlib")
    pytest.importorskip("matplotlib")

    async def body(b: WorkerBackend) -> tuple[str, ...]:
        out = await b.run("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\n")
        assert out.ok, out.error
        return out.figures

    figures = in_session(name, body, workdir=workdir)
    assert len(figures) == 1
    path = Path(figures[0])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # still there after close
    assert workdir not in path.parents
    assert (workdir / "figures" / "keep.txt").read_text() == "the user's figure notes\n"
    assert sorted(p.name for p in (workdir / "figures").iterdir()) == ["keep.txt"]


@pytest.mark.parametrize("name", BACKENDS)
def test_plt_show_saves_the_figure_in_its_own_call_and_leaves_it_open(name: str, workdir: Path) -> None:
    # Plain mode: plt.show() keeps its meaning (the figure stays open, as under Agg) and the
    # figure is drawn then, in the call of the statement that shows it, not after the program.
    if name == "docker":
        pytest.skip("the docker image has no matplotlib")
    pytest.importorskip("matplotlib")

    async def body(b: WorkerBackend) -> list[tuple[str, ...]]:
        calls = [
            ("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\n", False),
            ("print(plt.get_fignums())\nplt.show()\n", False),  # open, unchanged: not drawn again
            ("plt.title('more')\n", False),  # changed after it was shown
            ("x = 1\n", True),  # the closing capture draws only what changed since
        ]
        seen = []
        for code, figures in calls:
            out = await b.run(code, figures=figures)
            assert out.ok, out.error
            seen.append(out.figures)
            if code.startswith("print"):
                assert out.stdout == "[1]\n"
        return seen

    seen = in_session(name, body, workdir=workdir)
    assert [len(f) for f in seen] == [1, 0, 0, 1]
    assert all(Path(f[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in seen if f)


def test_sandbox_never_chowns_a_workdir_it_cannot_write(workdir: Path) -> None:
    """As root, the sandbox drops to uid 65534 only when that uid can write the workdir; a
    root-owned 0755 directory is left alone and the program keeps root (capabilities dropped)."""
    os.chmod(workdir, 0o755)
    owner = workdir.stat().st_uid

    async def body(b: WorkerBackend) -> str:
        out = await b.run("import os\nopen('made.txt', 'w').write('x')\nprint(os.getuid())\n")
        assert out.ok, out.error
        return out.stdout.strip()

    uid = in_session("sandbox", body, workdir=workdir)
    assert workdir.stat().st_uid == owner
    assert (workdir / "made.txt").stat().st_uid == int(uid)
    if os.getuid() == 0:
        assert int(uid) == owner  # 65534 cannot write a root-owned 0755 directory


@pytest.mark.skipif(os.getuid() != 0, reason="the uid drop happens when run as root")
def test_sandbox_drops_to_its_uid_when_it_can_write_the_workdir(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)

    async def body(b: WorkerBackend) -> str:
        out = await b.run("import os\nopen('made.txt', 'w').write('x')\nprint(os.getuid())\n")
        assert out.ok, out.error
        return out.stdout.strip()

    assert in_session("sandbox", body, workdir=shared) == "65534"
    assert shared.stat().st_uid == 0 and (shared / "made.txt").stat().st_uid == 65534


def test_cli_replay_runs_in_the_current_directory_by_default(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prog = workdir.parent / "prog.py"
    prog.write_text("print(open('data.csv').read().split()[-1])\nopen('result.txt', 'w').write('ok')\n")
    monkeypatch.chdir(workdir)
    res = CliRunner().invoke(
        main, ["replay", str(prog), "--tps", "5000", "--mode", "eager"], catch_exceptions=False
    )
    assert res.exit_code == 0, res.output
    assert "3,4" in res.output
    assert (workdir / "result.txt").read_text() == "ok"
    assert (workdir / "program.py").read_text() == "# the user's own program.py\n"


def test_cli_workdir_option_and_a_missing_one(workdir: Path, tmp_path: Path) -> None:
    prog = tmp_path / "prog.py"
    prog.write_text("open('result.txt', 'w').write('there')\n")
    res = CliRunner().invoke(
        main,
        ["replay", str(prog), "--tps", "5000", "--mode", "serial", "--workdir", str(workdir)],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    assert (workdir / "result.txt").read_text() == "there"
    missing = CliRunner().invoke(main, ["replay", str(prog), "--workdir", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_cli_figures_are_kept_and_named_in_json(workdir: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    prog = tmp_path / "plot.py"
    prog.write_text("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\n")
    res = CliRunner().invoke(
        main,
        ["replay", str(prog), "--tps", "5000", "--mode", "eager", "--json", "--workdir", str(workdir)],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    figures = json.loads(res.stdout)["runs"]["eager"]["figures"]
    assert len(figures) == 1
    path = Path(figures[0])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and workdir not in path.parents


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="needs a virtualenv interpreter")
def test_sandbox_keeps_a_venv_inside_the_workdir_read_only() -> None:
    project = Path(sys.prefix).parent  # the workdir holds the interpreter (a project's .venv)

    async def body(b: WorkerBackend) -> str:
        out = await b.run(
            "import errno, os, sys\n"
            "try:\n"
            "    open(os.path.join(sys.prefix, 'eager-probe.txt'), 'w')\n"
            "except OSError as e:\n"
            "    print(errno.errorcode[e.errno])\n"
        )
        assert out.ok, out.error
        return out.stdout.strip()

    assert in_session("sandbox", body, workdir=project) == "EROFS"
    assert not (Path(sys.prefix) / "eager-probe.txt").exists()
