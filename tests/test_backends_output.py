"""The one output limit on every backend: head live, tail at the end of the call, a marker that
says how much was dropped; and the host's stream decoding, fed whole, by byte and in random
pieces."""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import pytest

from eagerexec._exceptions import BackendUnavailableError
from eagerexec.backends import OutputEvent, open_backend
from eagerexec.backends._output import drop_marker
from eagerexec.backends._workerproc import StreamOutput

ALL = ["local", "sandbox", "docker", "jupyter"]
IMAGE = os.environ.get("EAGEREXEC_DOCKER_IMAGE", "eagerexec/python:bookworm")
FLOOD = "import sys\nsys.stdout.write('a' * 500 + 'b' * (5_000_000 - 1000) + 'c' * 500)\nsys.stdout.flush()\n"


def session_run(name: str, codes: list[str], **options: Any) -> tuple[list[Any], list[OutputEvent]]:
    """Run ``codes`` in one session of ``name``; the outcomes and every output event."""
    events: list[OutputEvent] = []

    async def main() -> list[Any]:
        extra: dict[str, Any] = {"image": IMAGE} if name == "docker" else {}
        backend = open_backend(name, on_output=events.append, **extra, **options)
        try:
            await backend.start()
        except BackendUnavailableError as exc:
            await backend.aclose()
            pytest.skip(str(exc))
        try:
            return [await backend.run(code) for code in codes]
        finally:
            await backend.aclose()

    return asyncio.run(asyncio.wait_for(main(), 120)), events


@pytest.mark.parametrize("name", ALL)
def test_a_flood_keeps_head_and_tail_and_counts_the_rest(name: str) -> None:
    (flood, small), events = session_run(name, [FLOOD, "print('small')"], max_output=1000)
    dropped = 5_000_000 - 1000
    assert flood.ok and flood.truncated
    assert flood.stdout == "a" * 500 + drop_marker(dropped) + "c" * 500
    out = [e for e in events if e.kind == "stdout"]
    # the head came live, the tail as one event at the end of the call carrying the count
    tail = [e for e in out if e.skipped]
    assert len(tail) == 1 and tail[0].skipped == dropped and tail[0].data == "c" * 500
    head = "".join(e.data for e in out[: out.index(tail[0])])
    assert head == "a" * 500
    assert small.stdout == "small\n" and not small.truncated  # the limit is per call
    assert "".join(e.data for e in out[out.index(tail[0]) + 1 :]) == "small\n"


@pytest.mark.parametrize("name", ["local", "sandbox"])
def test_stderr_has_its_own_cap(name: str) -> None:
    code = "import sys\nprint('o' * 30)\nsys.stderr.write('e' * 5000)\n"
    (out,), events = session_run(name, [code], max_output=20)
    assert out.stdout == "o" * 10 + drop_marker(11) + "o" * 9 + "\n"
    assert out.stderr == "e" * 10 + drop_marker(4980) + "e" * 10
    assert sum(e.skipped for e in events if e.kind == "stderr") == 4980


@pytest.mark.parametrize("name", ["local", "sandbox"])
def test_output_under_the_limit_is_whole(name: str) -> None:
    (out,), events = session_run(name, ["print('x' * 700)"], max_output=1000)
    assert out.stdout == "x" * 700 + "\n" and not out.truncated
    assert "".join(e.data for e in events) == out.stdout and not any(e.skipped for e in events)


@pytest.mark.parametrize("feed", ["whole", "by_byte", "random"])
@pytest.mark.parametrize("limit", [2, 7, 64, 10_000])
def test_stream_output_decodes_and_caps_any_chunking(feed: str, limit: int) -> None:
    rng = random.Random(f"{feed}{limit}")
    text = "".join(rng.choice(["a", "é", "\U0001f600", "\n", "xyz"]) for _ in range(600))
    data = text.encode("utf-8")
    if feed == "whole":
        pieces = [data]
    elif feed == "by_byte":
        pieces = [data[i : i + 1] for i in range(len(data))]
    else:
        pieces, at = [], 0
        while at < len(data):
            step = rng.randint(1, 9)
            pieces.append(data[at : at + step])
            at += step
    events: list[OutputEvent] = []
    stream = StreamOutput("stdout", limit, events.append)
    for piece in pieces:
        stream.feed(piece)
    kept = stream.finish()
    head = limit // 2
    if len(text) <= limit:
        assert kept == text and not stream.truncated
    else:
        assert kept == text[:head] + drop_marker(len(text) - limit) + text[-(limit - head) :]
        assert stream.truncated
    dropped = max(0, len(text) - limit)
    passed_on = "".join(e.data for e in events)
    assert passed_on == (text[:head] + text[-(limit - head) :] if dropped else text)
    assert sum(e.skipped for e in events) == dropped
    assert [e.skipped for e in events].count(dropped) >= 1 and all(e.skipped in (0, dropped) for e in events)
    stream.reset()  # the next call starts with a fresh cap
    stream.feed(b"next")
    assert stream.finish() == ("next" if limit >= 4 else "n" + drop_marker(2) + "t")
