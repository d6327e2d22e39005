"""The worker's command-line and wire contract, driven by a tiny synchronous client.

Covers what the backends do not exercise themselves: the ``--fifo`` channel mode (used where
file descriptors cannot be inherited, e.g. into a container) and the control-pipe interrupt, with
the worker blocking on its request channel and spinning on it (``--spin-us``).
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eagerexec.backends._workerclient import WORKER_PATH

HEADER = struct.Struct(">I")


def send(fd: int, payload: dict[str, Any]) -> None:
    body = b"E" + json.dumps(payload).encode()
    os.write(fd, HEADER.pack(len(body)) + body)


def recv(fd: int) -> tuple[bytes, dict[str, Any]]:
    data = b""
    while len(data) < 4 or len(data) < 4 + HEADER.unpack_from(data)[0]:
        chunk = os.read(fd, 65536)
        assert chunk, "worker closed the channel"
        data += chunk
    body = data[4:]
    return body[:1], json.loads(body[1:])


@contextlib.contextmanager
def worker_on_pipes(workdir: Path, python: str = sys.executable, stdout: int = subprocess.DEVNULL) -> Iterator[Any]:
    """The worker on three pipes (IN, OUT, CTL): yields (process, IN's write end, OUT's read end,
    a function that closes IN: the worker's end of input); kills, reaps and closes everything after."""
    r_in, w_in = os.pipe()
    r_out, w_out = os.pipe()
    r_ctl, w_ctl = os.pipe()
    proc = subprocess.Popen(
        [python, str(WORKER_PATH), "--fds", str(r_in), str(w_out), str(r_ctl), "--workdir", str(workdir)],
        pass_fds=(r_in, w_out, r_ctl),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
    )
    for fd in (r_in, w_out, r_ctl):
        os.close(fd)
    open_in = [w_in]

    def end_input() -> None:
        while open_in:
            os.close(open_in.pop())

    try:
        yield proc, w_in, r_out, end_input
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for fd in (r_out, w_ctl):
            os.close(fd)
        end_input()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("spin", [[], ["--spin-us", "500"]], ids=["blocking", "spinning"])
def test_fifo_mode_and_control_interrupt(tmp_path: Path, spin: list[str]) -> None:
    fifos = [str(tmp_path / name) for name in ("in", "out", "ctl")]
    for path in fifos:
        os.mkfifo(path)
    proc = subprocess.Popen(
        [sys.executable, str(WORKER_PATH), "--fifo", *fifos, "--workdir", str(tmp_path), *spin],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # Same order as the worker: IN (we write), OUT (we read), CTL (we write).
        to_worker = os.open(fifos[0], os.O_WRONLY)
        from_worker = os.open(fifos[1], os.O_RDONLY)
        control = os.open(fifos[2], os.O_WRONLY)
        kind, hello = recv(from_worker)
        assert kind == b"H" and hello["pid"] == proc.pid
        send(to_worker, {"i": 1, "src": "x = 6 * 7\n", "line": 1})
        kind, reply = recv(from_worker)
        assert kind == b"R" and reply["i"] == 1 and reply["err"] is None and reply["s"] <= reply["e"]
        assert proc.stdout is not None
        send(to_worker, {"i": 2, "src": "import time\nprint('a', flush=True)\ntime.sleep(1)\n", "line": 2})
        assert proc.stdout.readline() == b"a\n"
        os.write(control, struct.pack(">I", 1))  # an interrupt for an earlier call is ignored
        kind, reply = recv(from_worker)
        assert reply["i"] == 2 and reply["err"] is None
        send(to_worker, {"i": 3, "src": "print('b', flush=True)\ntime.sleep(60)\n", "line": 5})
        assert proc.stdout.readline() == b"b\n"
        os.write(control, struct.pack(">I", 3))
        kind, reply = recv(from_worker)
        assert reply["i"] == 3 and reply["err"]["type"] == "KeyboardInterrupt"
        assert reply["err"]["line"] in (5, 6)  # the signal may land as print returns
        send(to_worker, {"i": 4, "src": "print(x)\n", "line": 7})
        kind, reply = recv(from_worker)
        assert reply["err"] is None and proc.stdout.readline() == b"42\n"
        os.close(to_worker)  # EOF: the worker exits
        assert proc.wait(timeout=30) == 0
        for fd in (from_worker, control):
            os.close(fd)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_bad_command_line_is_one_clear_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(WORKER_PATH), "--bogus"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and done.stderr.strip().startswith("usage: _worker.py")


def test_idle_collection_waits_for_a_quiet_channel(tmp_path: Path) -> None:
    """An "idle" request lets the worker run a due full collection after replying, unless the
    next request is already waiting (here: written before the first reply was read)."""
    with worker_on_pipes(tmp_path, stdout=subprocess.PIPE) as (proc, w_in, r_out, end_input):
        assert recv(r_out)[0] == b"H"
        grow = "import gc\ngc.collect()\nkeep = [[] for _ in range(gc.get_threshold()[0] * 44)]\n"
        send(w_in, {"i": 1, "src": grow, "line": 1, "idle": 1})
        send(w_in, {"i": 2, "src": "print(gc.get_count()[2] >= 3, flush=True)\n", "line": 4, "idle": 1})
        # both replies may come in one read: split the frames
        data = b""
        replies = []
        while len(replies) < 2:
            chunk = os.read(r_out, 65536)
            assert chunk, "worker closed the channel"
            data += chunk
            while len(data) >= 4 and len(data) >= 4 + HEADER.unpack_from(data)[0]:
                size = HEADER.unpack_from(data)[0]
                replies.append(json.loads(data[5 : 4 + size]))
                data = data[4 + size :]
        assert [r["i"] for r in replies] == [1, 2] and all(r["err"] is None for r in replies)
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"True\n"  # no collection between the two requests
        time.sleep(0.2)  # nothing waiting after the second: the worker collected
        send(w_in, {"i": 3, "src": "print(gc.get_count()[2], flush=True)\n", "line": 5})
        assert recv(r_out)[1]["err"] is None
        assert proc.stdout.readline() == b"0\n"
        end_input()
        assert proc.wait(timeout=30) == 0


def _interpreters() -> list[str]:
    """sys.executable and pyenv's 3.7 to 3.13 (the worker's range), those present."""
    root = Path(os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")))
    found = [sys.executable]
    for minor in range(7, 14):
        found += [str(p) for p in sorted(root.glob(f"versions/3.{minor}*/bin/python3.{minor}"))[-1:]]
    return found


@pytest.mark.parametrize("python", _interpreters(), ids=lambda p: Path(p).name)
def test_part_frames_only_when_asked_and_only_between_parts(tmp_path: Path, python: str) -> None:
    """With "tp" a call of several parts sends ``P`` {"i", "k"} as each part after the first
    starts, before its reply; without "tp", or with one part, nothing but the reply."""
    with worker_on_pipes(tmp_path, python) as (proc, w_in, r_out, end_input):
        data = bytearray()

        def frame() -> tuple[bytes, dict[str, Any]]:
            while len(data) < 4 or len(data) < 4 + HEADER.unpack_from(data)[0]:
                chunk = os.read(r_out, 65536)
                assert chunk, "worker closed the channel"
                data.extend(chunk)
            size = HEADER.unpack_from(data)[0]
            body = bytes(data[4 : 4 + size])
            del data[: 4 + size]
            return body[:1], json.loads(body[1:])

        assert frame()[0] == b"H"
        three = "a = 1\nb = 2\nc = a + b\n"
        send(w_in, {"i": 1, "src": three, "line": 1, "cuts": [2, 3], "tp": 1})
        assert [frame() for _ in range(3)][:2] == [(b"P", {"i": 1, "k": 1}), (b"P", {"i": 1, "k": 2})]
        send(w_in, {"i": 2, "src": three, "line": 1, "cuts": [2, 3]})  # no "tp"
        kind, reply = frame()
        assert kind == b"R" and reply["i"] == 2 and len(reply["p"]) == 3
        send(w_in, {"i": 3, "src": "d = 4\n", "line": 4, "tp": 1})  # one part
        kind, reply = frame()
        assert kind == b"R" and reply["i"] == 3 and reply["err"] is None
        send(w_in, {"i": 4, "src": "x = 1\n1 / 0\ny = 2\n", "line": 5, "cuts": [6, 7], "tp": 1})
        assert frame() == (b"P", {"i": 4, "k": 1})
        kind, reply = frame()  # the second part raised: no frame for the third
        assert kind == b"R" and reply["err"]["type"] == "ZeroDivisionError" and len(reply["p"]) == 2
        end_input()
        assert proc.wait(timeout=30) == 1  # EOF: the program ends with its uncaught error's status
