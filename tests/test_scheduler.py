"""The sans-IO scheduler: every batching, gating and early-stop rule, without processes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eagerexec import UsageError
from eagerexec.chunker import ChunkKind
from eagerexec.pipeline._scheduler import (
    AwaitStreamEnd,
    Done,
    FailSyntax,
    RunBatch,
    Scheduler,
    StopGeneration,
    Wait,
)

S, D, IMP, X = ChunkKind.STATEMENT, ChunkKind.DEFINITION, ChunkKind.IMPORT, ChunkKind.SYNTAX_ERROR


def feed(s: Scheduler, *kinds: ChunkKind) -> None:
    for kind in kinds:
        s.chunk_ready(kind)


def test_eager_batches_everything_pending_when_free() -> None:
    s = Scheduler()
    assert s.next_action() == Wait()
    feed(s, IMP, S)
    assert s.next_action() == RunBatch(first=0, last=1, final=False)
    feed(s, S, S)
    assert s.next_action() == Wait()  # a call is running: nothing else starts
    s.batch_done()
    assert s.next_action() == RunBatch(first=2, last=3, final=False)
    s.batch_done()
    s.stream_ended()
    assert s.next_action() == Done()
    assert s.done


def test_final_batch_is_the_one_that_takes_the_last_chunk_after_the_end() -> None:
    s = Scheduler()
    feed(s, S)
    s.stream_ended()
    assert s.next_action() == RunBatch(first=0, last=0, final=True)
    s.batch_done()
    assert s.next_action() == Done()


def test_gating_holds_trailing_definitions_until_the_next_chunk() -> None:
    s = Scheduler()
    feed(s, S, D, D)
    assert s.next_action() == RunBatch(first=0, last=0, final=False)
    s.batch_done()
    assert s.next_action() == Wait()  # two definitions alone never open a call
    feed(s, S)
    assert s.next_action() == RunBatch(first=1, last=3, final=False)


def test_gating_releases_definitions_at_the_end_of_the_stream() -> None:
    s = Scheduler()
    feed(s, D)
    assert s.next_action() == Wait()
    s.stream_ended()
    assert s.next_action() == RunBatch(first=0, last=0, final=True)


def test_without_gating_definitions_run_at_once() -> None:
    s = Scheduler(gating=False)
    feed(s, D)
    assert s.next_action() == RunBatch(first=0, last=0, final=False)


def test_syntax_error_ends_the_runnable_prefix_then_fails() -> None:
    s = Scheduler()
    feed(s, S, X, S)
    assert s.next_action() == RunBatch(first=0, last=0, final=False)
    s.batch_done()
    assert s.next_action() == FailSyntax(index=1)
    assert s.next_action() == StopGeneration(reason="error")
    s.generation_stopped()
    assert s.next_action() == Done()
    assert s.dispatched == 3


def test_syntax_error_without_stop_on_error_drains_the_stream() -> None:
    s = Scheduler(stop_on_error=False)
    feed(s, X)
    assert s.next_action() == FailSyntax(index=0)
    assert s.next_action() == AwaitStreamEnd()
    feed(s, S)  # more code arrives: it never runs
    s.stream_ended()
    assert s.next_action() == Done()


def test_failed_batch_stops_generation() -> None:
    s = Scheduler()
    feed(s, S, S)
    assert isinstance(s.next_action(), RunBatch)
    feed(s, S)
    s.batch_done(failed=True)
    assert s.next_action() == StopGeneration(reason="error")
    s.generation_stopped()
    assert s.next_action() == Done()


def test_exit_stops_generation_even_without_stop_on_error() -> None:
    s = Scheduler(stop_on_error=False)
    feed(s, S)
    assert isinstance(s.next_action(), RunBatch)
    s.batch_done(exited=True)
    assert s.next_action() == StopGeneration(reason="exit")


def test_failure_without_stop_on_error_drains_then_done() -> None:
    s = Scheduler(stop_on_error=False)
    feed(s, S)
    assert isinstance(s.next_action(), RunBatch)
    s.batch_done(failed=True)
    assert s.next_action() == AwaitStreamEnd()
    feed(s, S, S)
    assert s.next_action() == AwaitStreamEnd()
    s.stream_ended()
    assert s.next_action() == Done()


def test_serial_waits_for_the_end_then_runs_one_batch() -> None:
    s = Scheduler(mode="serial")
    feed(s, S, D, S)
    assert s.next_action() == Wait()
    s.stream_ended()
    assert s.next_action() == RunBatch(first=0, last=2, final=True)
    s.batch_done()
    assert s.next_action() == Done()


def test_serial_runs_nothing_of_a_program_that_does_not_compile() -> None:
    s = Scheduler(mode="serial")
    feed(s, S, X, S)
    assert s.next_action() == Wait()
    s.stream_ended()
    assert s.next_action() == FailSyntax(index=1)
    assert s.next_action() == Done()


def test_serial_runs_nothing_after_a_source_failure() -> None:
    s = Scheduler(mode="serial")
    feed(s, S)
    s.stream_failed()
    assert s.next_action() == Done()


def test_eager_runs_what_arrived_before_a_source_failure() -> None:
    s = Scheduler()
    feed(s, S, D)
    s.stream_failed()
    assert s.next_action() == RunBatch(first=0, last=1, final=True)


def test_misuse_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        Scheduler(mode="fast")
    s = Scheduler()
    with pytest.raises(UsageError):
        s.batch_done()
    s.stream_ended()
    with pytest.raises(UsageError):
        s.chunk_ready(S)


KINDS = st.sampled_from([S, D, IMP, X])


@given(st.lists(st.tuples(KINDS, st.booleans()), max_size=30), st.booleans(), st.booleans())
def test_every_chunk_runs_at_most_once_in_order(
    events: list[tuple[ChunkKind, bool]], gating: bool, stop_on_error: bool
) -> None:
    """Whatever arrives and whenever the session is free: batches are contiguous, in order, never
    overlap, never hold a syntax error, and the run always reaches Done."""
    s = Scheduler(gating=gating, stop_on_error=stop_on_error)
    ran: list[int] = []
    running: RunBatch | None = None

    def step() -> None:
        nonlocal running
        action = s.next_action()
        if isinstance(action, RunBatch):
            assert running is None
            running = action
            ran.extend(action.indices)
        elif isinstance(action, StopGeneration):
            s.generation_stopped()

    for kind, finish in events:
        if not s.stream_done:
            s.chunk_ready(kind)
        step()
        if finish and running is not None:
            s.batch_done()
            running = None
            step()
    if not s.stream_done:
        s.stream_ended()
    for _ in range(100):
        if running is not None:
            s.batch_done()
            running = None
        step()
        if s.done:
            break
    assert s.done
    assert ran == sorted(set(ran))
    assert ran == list(range(len(ran)))
    kinds = [k for k, _ in events][: s.chunks]
    assert all(kinds[i] is not X for i in ran)
