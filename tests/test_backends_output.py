"""The one output limit on every backend: head live, tail at the end of the call, a marker that
says how much was dropped; and the host's stream decoding, fed whole, by byte and in random
pieces."""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eagerexec._exceptions import BackendUnavailableError
from eagerexec.backends import OutputEvent, open_backend
from eagerexec.backends._output import BundleCap, bundle_size, drop_marker
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


# -- notebook bundles: BundleCap ---------------------------------------------------------------


def _bundle(n: int, size: int) -> dict[str, Any]:
    return {"text/plain": f"v{n:05d}", "text/html": "h" * size}


def test_bundles_under_the_limit_pass_whole_and_live() -> None:
    cap = BundleCap(10_000)
    bundles = [_bundle(i, 100) for i in range(20)]
    assert [cap.feed("display", b) for b in bundles] == [(b, 0) for b in bundles]
    assert cap.take_tail() == [] and cap.dropped == 0 and cap.dropped_outputs == 0


def test_a_flood_of_bundles_keeps_the_first_and_the_last_and_counts_the_middle() -> None:
    limit = 10_000
    cap = BundleCap(limit)
    bundles = [_bundle(i, 990) for i in range(10_000)]
    size = bundle_size(bundles[0])
    live = [kept for kept, _ in (cap.feed("result", b) for b in bundles) if kept is not None]
    tail = cap.take_tail()
    assert live == bundles[: (limit // 2) // size]
    assert [b for _, b in tail] == bundles[-((limit - limit // 2) // size) :]
    assert cap.dropped_outputs == len(bundles) - len(live) - len(tail)
    assert cap.dropped == cap.dropped_outputs_size == cap.dropped_outputs * size
    assert all(kind == "result" for kind, _ in tail)


def test_a_bundle_larger_than_half_the_limit_is_kept_as_its_text() -> None:
    cap = BundleCap(1000)
    png = {"image/png": "A" * 5_000_000, "text/plain": "<Figure size 640x480 with 1 Axes>"}
    kept, reduced = cap.feed("display", png)
    assert kept == {"text/plain": png["text/plain"]}
    assert reduced == bundle_size(png) - bundle_size(kept) == cap.dropped
    assert cap.head_open and cap.dropped_outputs == 0
    assert cap.feed("display", {"text/plain": "next"}) == ({"text/plain": "next"}, 0)  # still live


def test_a_huge_text_value_is_cut_to_its_head_and_tail() -> None:
    cap = BundleCap(1000)
    huge = {"text/plain": "a" * 100 + "b" * 1_000_000 + "c" * 100}
    kept, reduced = cap.feed("result", huge)
    assert kept is not None
    text = kept["text/plain"]
    assert text.startswith("a" * 100) and text.endswith("c" * 100) and "dropped" in text
    assert bundle_size(kept) <= 500 and reduced == cap.dropped == bundle_size(huge) - bundle_size(kept)


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=3000), max_size=60),
    limit=st.integers(min_value=2, max_value=5000),
)
def test_bundle_cap_bounds_what_it_keeps_and_accounts_for_everything(sizes: list[int], limit: int) -> None:
    cap = BundleCap(limit)
    bundles = [{"text/plain": str(i), "image/png": "x" * n} for i, n in enumerate(sizes)]
    kept: list[dict[str, Any]] = []
    for b in bundles:
        live, _ = cap.feed("display", b)
        if live is not None:
            kept.append(live)
        assert sum(bundle_size(k) for k in kept) <= limit // 2  # the head never overflows
    tail = [b for _, b in cap.take_tail()]
    assert sum(bundle_size(b) for b in tail) <= max(limit - limit // 2, len("text/plain"))
    assert len(kept) + len(tail) + cap.dropped_outputs == len(bundles)
    total = sum(map(bundle_size, bundles))
    assert total - cap.dropped == sum(map(bundle_size, kept)) + sum(map(bundle_size, tail))
    if bundles:  # the last one is never dropped: the head took everything, or the tail has it
        assert len(kept) == len(bundles) or tail
