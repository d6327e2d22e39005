"""Tests of eagerexec.model: formulas on hand-computed cases, properties, run estimates, CLI."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from eagerexec import UsageError
from eagerexec.model import (
    Batch,
    Regime,
    classify_regime,
    closed_form_parallel,
    critical_chunk_count,
    estimate_from_run,
    generation_times,
    lower_bound_execution,
    lower_bound_generation,
    parallel_times,
    predict,
    ready_times,
    saving_pct,
    serial_latency,
    simulate_batched,
    source_profile,
    speedup_bound,
    token_lengths,
    uniform_parallel_latency,
    uniform_regime,
    upper_bound,
)

approx = pytest.approx

# -- formulas on hand-computed cases ------------------------------------------------------------


def test_serial_latency() -> None:
    assert serial_latency(t_gen=3.2, setup_full=0.1, exe_full=4.0) == approx(7.3)


def test_generation_and_ready_times() -> None:
    gen = generation_times([10, 10, 10], tps=10, ttft=0.2)
    assert gen == approx((1.2, 2.2, 3.2))
    assert ready_times(gen, [0.0, 0.5, 0.1]) == approx((1.2, 2.7, 3.3))


def test_recurrence_generation_dominated_by_last_chunk() -> None:
    ready = generation_times([10, 10, 10], tps=10, ttft=0.2)
    assert parallel_times(ready, [0.5, 0.5, 3.0], 0.1) == approx((1.8, 2.8, 6.3))
    t, critical = closed_form_parallel(ready, [0.5, 0.5, 3.0], 0.1)
    assert t == approx(6.3)
    assert critical == 2


def test_recurrence_execution_dominated() -> None:
    ready = generation_times([5, 5, 5], tps=10)
    assert parallel_times(ready, [1.0, 1.0, 1.0], 0.5) == approx((2.0, 3.5, 5.0))
    assert closed_form_parallel(ready, [1.0, 1.0, 1.0], 0.5) == (approx(5.0), 0)


def test_batched_simulation_hand_case() -> None:
    batches = simulate_batched([0.0, 0.1, 0.2, 0.3], [1.0] * 4, 0.5)
    assert batches == (
        Batch(index=0, first=0, last=0, start=0.0, end=1.5),
        Batch(index=1, first=1, last=3, start=1.5, end=5.0),
    )
    assert batches[1].size == 3
    # an idle gap: the last chunk arrives after the session went idle
    late = simulate_batched([0.0, 0.1, 0.2, 5.0], [1.0] * 4, 0.5)
    assert [(b.first, b.last, b.start, b.end) for b in late] == [
        (0, 0, 0.0, 1.5),
        (1, 2, 1.5, 4.0),
        (3, 3, 5.0, 6.5),
    ]


def test_batched_dispatch_is_in_order() -> None:
    # chunk 0 is detected late (delta): chunk 1 cannot be dispatched before it
    batches = simulate_batched([1.5, 1.1], [1.0, 1.0], 0.0)
    assert [(b.first, b.last, b.start, b.end) for b in batches] == [(0, 1, 1.5, 3.5)]


def test_batched_gating_hand_cases() -> None:
    # two definitions wait for the statement after them instead of opening a batch themselves
    gated = simulate_batched([0.0, 0.1, 0.2, 0.3], [0.0, 0.0, 1.0, 1.0], 0.5, [True, True, False, False])
    assert [(b.first, b.last, b.start, b.end) for b in gated] == [(0, 2, 0.2, 1.7), (3, 3, 1.7, 3.2)]
    plain = simulate_batched([0.0, 0.1, 0.2, 0.3], [0.0, 0.0, 1.0, 1.0], 0.5)
    assert [(b.first, b.last, b.start, b.end) for b in plain] == [(0, 0, 0.0, 0.5), (1, 3, 0.5, 3.0)]
    # a trailing definition runs once the stream has ended (it is the last chunk)
    tail = simulate_batched([0.0, 1.0], [1.0, 0.0], 0.5, [False, True])
    assert [(b.first, b.last, b.start, b.end) for b in tail] == [(0, 0, 0.0, 1.5), (1, 1, 1.5, 2.0)]
    p = predict([1, 1, 1, 1], tps=10, exe=[0, 0, 1, 1], setup=0.5, deferred=[True, True, False, False])
    assert p.deferred == 2
    assert p.batched.calls == 2
    with pytest.raises(UsageError, match="deferred has 1 values for 4 chunks"):
        predict([1, 1, 1, 1], tps=10, deferred=[True])



def test_batched_gating_holds_trailing_definitions_while_the_stream_goes_on() -> None:
    # The pipeline's rule (its Scheduler): a batch started mid-stream never ends with a
    # definition; the held definition rides with the next chunk. (The model's old simulation
    # took chunk 2 into the second batch: (0,0), (1,2), (3,3), same end.)
    ready = [0.0, 0.1, 0.2, 5.0]
    gated = simulate_batched(ready, [1.0, 1.0, 0.0, 1.0], 0.5, [False, False, True, False])
    assert [(b.first, b.last, b.start, b.end) for b in gated] == [
        (0, 0, 0.0, 1.5),
        (1, 1, 1.5, 3.0),
        (2, 3, 5.0, 6.5),
    ]
    # Once the last chunk has arrived (the stream ended) nothing is held.
    ended = simulate_batched([0.0, 0.1, 0.2, 0.3], [1.0, 1.0, 0.0, 1.0], 0.5, [False, False, True, True])
    assert [(b.first, b.last) for b in ended] == [(0, 0), (1, 3)]
    # Only definitions: they wait for the stream's end, then run as one call.
    only = simulate_batched([0.0, 1.0, 2.0], [0.0, 0.0, 0.0], 0.5, [True, True, True])
    assert [(b.first, b.last, b.start, b.end) for b in only] == [(0, 2, 2.0, 2.5)]
    assert simulate_batched([], [], 0.5) == ()
    with pytest.raises(UsageError, match="2 ready times but 1 execution times"):
        simulate_batched([0.0, 1.0], [1.0], 0.5)


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(st.floats(0, 5), st.floats(0, 2), st.booleans()), min_size=1, max_size=30
    ),
    st.floats(0, 0.5),
    st.booleans(),
)
def test_batched_schedule_follows_the_pipeline_rule(
    chunks: list[tuple[float, float, bool]], setup: float, gating: bool
) -> None:
    ready = [r for r, _, _ in chunks]
    exe = [e for _, e, _ in chunks]
    deferred = [d for _, _, d in chunks] if gating else None
    batches = simulate_batched(ready, exe, setup, deferred)
    arrival = [max(ready[: i + 1]) for i in range(len(ready))]
    stream_end = arrival[-1]
    assert [b.first for b in batches] == [0] + [b.last + 1 for b in batches[:-1]]
    assert batches[-1].last == len(ready) - 1
    prev_end = -math.inf
    for b in batches:
        assert b.start >= arrival[b.last] and b.start >= prev_end
        assert b.end == approx(b.start + setup + math.fsum(exe[b.first : b.last + 1]))
        # every chunk that had arrived when the batch started is in it, except held definitions
        nxt = b.last + 1
        if nxt < len(ready) and arrival[nxt] <= b.start:
            assert deferred is not None and b.start < stream_end
            assert all(deferred[b.last + 1 : max(i for i in range(len(ready)) if arrival[i] <= b.start) + 1])
        if deferred is not None and b.start < stream_end:
            assert not deferred[b.last]  # mid-stream, a batch never ends with a definition
        prev_end = b.end


def test_batched_simulation_asks_the_scheduler_o_n_times(monkeypatch: pytest.MonkeyPatch) -> None:
    # O(N): one decision per arrival or batch at most (the scheduler's decisions are O(1) each).
    from eagerexec.pipeline import _scheduler

    calls = 0
    real = _scheduler.Scheduler.next_action

    def counting(self: _scheduler.Scheduler) -> _scheduler.Action:
        nonlocal calls
        calls += 1
        return real(self)

    monkeypatch.setattr(_scheduler.Scheduler, "next_action", counting)
    n = 3000
    batches = simulate_batched([float(i) for i in range(n)], [0.0] * n, 0.1, [True] * (n - 1) + [False])
    assert [(b.first, b.last) for b in batches] == [(0, n - 1)]
    assert calls <= 2 * n + 2


def test_model_modules_have_no_import_cycle() -> None:
    import ast

    import eagerexec.model

    # Every `from .x import` and `from . import name` (a name of the package: its __init__),
    # functions and TYPE_CHECKING blocks included.
    folder = Path(eagerexec.model.__file__).parent
    names = {path.stem for path in folder.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:
                    deps.update(a.name if a.name in names else "__init__" for a in node.names)
        graph[path.stem] = deps
    assert "_predict" in graph["__init__"] and "_predict" in graph["_runs"]
    left = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
    while left:
        ready = [m for m, deps in left.items() if not deps]
        assert ready, f"import cycle among {sorted(left)}"
        for m in ready:
            del left[m]
        for deps in left.values():
            deps.difference_update(ready)

def test_bounds_hand_case() -> None:
    assert upper_bound(ttft=0, tokens=15, tps=10, delta_max=0, n=3, setup=0.5, exe_sum=3) == approx(6.0)
    assert lower_bound_generation(ttft=0, tokens=15, tps=10, delta_last=0, setup=0.5, exe_last=1) == approx(
        3.0
    )
    assert lower_bound_execution(
        ttft=0, first_tokens=5, tps=10, delta_first=0, n=3, setup=0.5, exe_sum=3
    ) == approx(5.0)
    assert speedup_bound(serial=5.0, lower_generation=4.0) == approx(1.25)
    assert speedup_bound(serial=5.0, lower_generation=0.0) == math.inf


def test_predict_execution_dominated_hand_case() -> None:
    p = predict([5, 5, 5], tps=10, exe=1.0, setup=0.5)
    assert p.t_gen == approx(1.5)
    assert p.serial.end == approx(5.0)
    assert p.serial.nel == approx(3.5)
    assert p.eager.end == approx(5.0)
    assert p.eager.nel == approx(3.5)
    assert p.eager.calls == 3
    assert p.batched.end == approx(4.5)
    assert p.batched.nel == approx(3.0)
    assert p.batched.calls == 2
    assert p.e2el_saving_pct == approx(0.0)
    assert p.nel_saving_pct_batched == approx(100 * 0.5 / 3.5)
    assert p.e2el_saving_pct_batched == approx(10.0)
    assert p.upper_bound == approx(6.0)
    assert p.lower_bound_generation == approx(3.0)
    assert p.lower_bound_execution == approx(5.0)
    assert p.lower_bound == approx(5.0)
    assert p.overhead_bound == approx(1.0)
    assert p.speedup_bound == approx(5.0 / 3.0)
    assert p.alpha == approx(0.5)
    assert p.beta == approx(1.5)
    assert p.regime is Regime.EXECUTION
    assert p.critical_chunk == 0
    assert p.n_star == approx(-3.0)
    assert p.uniform
    assert p.uniform_estimate == approx(5.0)


def test_predict_uniform_generation_dominated() -> None:
    p = predict([20] * 4, tps=10, exe=0.5, setup=0.5, ttft=1.0, deltas=0.1)
    assert p.eager.end == approx(1 + 8 + 0.1 + 1)
    assert p.uniform_estimate == approx(p.eager.end)
    assert p.regime is Regime.GENERATION
    assert p.n_star == approx(12.0)
    assert p.eager.nel == approx(1.1)
    assert p.serial.nel == approx(2.5)


def test_uniform_balanced() -> None:
    t, regime = uniform_parallel_latency(ttft=0, tokens=30, tps=10, n=3, tau=0.75, setup=0.25, delta=0)
    assert regime is Regime.BALANCED
    assert t == approx(4.0)
    assert critical_chunk_count(tokens=30, tps=10, exe_full=2.25, setup=0.25) == approx(3.0)
    assert predict([10] * 3, tps=10, exe=0.75, setup=0.25).regime is Regime.BALANCED


def test_uniform_closed_forms() -> None:
    # R1: T_FT + L/v + delta + beta ; R2: T_FT + alpha + delta + N beta
    assert uniform_parallel_latency(ttft=1, tokens=40, tps=10, n=4, tau=0.1, setup=0.1, delta=0.2) == (
        approx(1 + 4 + 0.2 + 0.2),
        Regime.GENERATION,
    )
    assert uniform_parallel_latency(ttft=1, tokens=4, tps=10, n=4, tau=1, setup=0.5, delta=0.2) == (
        approx(1 + 0.1 + 0.2 + 6),
        Regime.EXECUTION,
    )
    assert uniform_regime(2.0, 1.0) is Regime.GENERATION
    assert uniform_regime(1.0, 2.0) is Regime.EXECUTION


def test_critical_chunk_count_without_setup() -> None:
    assert critical_chunk_count(tokens=100, tps=10, exe_full=1, setup=0) is None
    assert predict([10], tps=10).n_star is None


def test_classify_regime_and_single_chunk() -> None:
    assert classify_regime(2.0, 1.0) is Regime.GENERATION
    assert classify_regime(1.0, 2.0) is Regime.EXECUTION
    assert classify_regime(1.0, 1.0) is Regime.BALANCED
    assert predict([7], tps=3, exe=2, setup=1).regime is Regime.BALANCED
    assert str(Regime.GENERATION) == "R1"
    assert Regime.EXECUTION.description == "execution-dominated"


def test_tail_tokens_hide_execution() -> None:
    p = predict([10], tps=10, exe=0.5, tail_tokens=10)
    assert p.t_gen == approx(2.0)
    assert p.eager.end == approx(1.5)
    assert p.eager.nel == 0.0
    assert p.eager.e2el == approx(2.0)
    assert p.serial.e2el == approx(2.5)
    assert p.nel_saving_pct == approx(100.0)
    assert p.e2el_saving_pct == approx(20.0)
    assert p.upper_bound == approx(2.5)  # uses the tokens with the tail


def test_setup_full_and_exe_full_overrides() -> None:
    p = predict([10, 10], tps=10, exe=[0.2, 0.3], setup=0.01, setup_full=0.4, exe_full=0.6)
    assert p.serial.nel == approx(1.0)
    assert p.serial.e2el == approx(3.0)
    assert p.exe_sum == approx(0.5)
    assert p.overhead_bound == approx(0.02 - 0.4)


def test_saving_pct() -> None:
    assert saving_pct(4.0, 1.0) == approx(75.0)
    assert saving_pct(0.0, 0.0) is None
    assert predict([1], tps=1).nel_saving_pct is None


def test_to_dict_is_json() -> None:
    d = predict([5, 5], tps=10, exe=1.0).to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text)["regime"] == "R2"
    assert d["n_star"] is None
    assert d["serial"]["calls"] == 1
    assert d["regime_name"] == "execution-dominated"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"lengths": [1, -1]}, "lengths[1] must be >= 0"),
        ({"lengths": [float("nan")]}, "lengths[0] must be finite"),
        ({"tps": 0}, "tps must be > 0"),
        ({"tps": float("inf")}, "tps must be finite"),
        ({"exe": [1.0]}, "exe has 1 values for 2 chunks"),
        ({"exe": -0.5}, "exe must be >= 0"),
        ({"deltas": [0.0, float("nan")]}, "deltas[1] must be finite"),
        ({"setup": True}, "setup must be a number"),
        ({"ttft": -1}, "ttft must be >= 0"),
        ({"lengths": []}, "no chunks"),
    ],
)
def test_predict_rejects_bad_input(kwargs: dict[str, Any], needle: str) -> None:
    args: dict[str, Any] = {"lengths": [1, 2], "tps": 10.0}
    args.update(kwargs)
    lengths = args.pop("lengths")
    with pytest.raises(UsageError) as info:
        predict(lengths, **args)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


# -- properties ---------------------------------------------------------------------------------

EPS = 1e-9


@st.composite
def programs(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 12))
    pos = st.floats(0, 200, allow_nan=False)
    return {
        "lengths": draw(st.lists(pos, min_size=n, max_size=n)),
        "tps": draw(st.floats(0.5, 500)),
        "ttft": draw(st.floats(0, 3)),
        "exe": draw(st.lists(st.floats(0, 3), min_size=n, max_size=n)),
        "setup": draw(st.floats(0, 0.5)),
        "setup_full": draw(st.floats(0, 0.5)),
        "deltas": draw(st.lists(st.floats(0, 0.2), min_size=n, max_size=n)),
    }


def close_or_less(a: float, b: float) -> bool:
    return a <= b + EPS * max(1.0, abs(b))


@settings(max_examples=300)
@given(programs())
def test_bounds_hold(prog: dict[str, Any]) -> None:
    p = predict(**prog)
    assert close_or_less(p.lower_bound_generation, p.eager.end)
    assert close_or_less(p.lower_bound_execution, p.eager.end)
    assert close_or_less(p.eager.end, p.upper_bound)
    assert close_or_less(p.eager.end - p.serial.end, p.overhead_bound)
    assert close_or_less(p.speedup, p.speedup_bound)
    ready = ready_times(generation_times(prog["lengths"], tps=prog["tps"], ttft=prog["ttft"]), prog["deltas"])
    closed, _ = closed_form_parallel(ready, prog["exe"], prog["setup"])
    assert closed == approx(p.eager.end, rel=1e-9, abs=1e-9)


@settings(max_examples=300)
@given(programs())
def test_batched_never_slower_and_bounded(prog: dict[str, Any]) -> None:
    p = predict(**prog)
    assert close_or_less(p.batched.end, p.eager.end)
    assert close_or_less(p.lower_bound_generation, p.batched.end)
    batched_exec_bound = lower_bound_execution(
        ttft=prog["ttft"],
        first_tokens=prog["lengths"][0],
        tps=prog["tps"],
        delta_first=prog["deltas"][0],
        n=p.batched.calls,
        setup=prog["setup"],
        exe_sum=p.exe_sum,
    )
    assert close_or_less(batched_exec_bound, p.batched.end)
    assert 1 <= p.batched.calls <= p.n_chunks


@settings(max_examples=300)
@given(programs(), st.data())
def test_gated_batched_never_slower_when_definitions_are_free(
    prog: dict[str, Any], data: st.DataObject
) -> None:
    n = len(prog["lengths"])
    deferred = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    prog["exe"] = [0.0 if d else e for d, e in zip(deferred, prog["exe"], strict=True)]
    p = predict(**prog, deferred=deferred)
    assert close_or_less(p.batched.end, p.eager.end)
    assert close_or_less(p.lower_bound_generation, p.batched.end)
    assert p.batched.calls <= n - sum(deferred) + 1


@settings(max_examples=200)
@given(programs())
def test_batched_equals_recurrence_without_setup(prog: dict[str, Any]) -> None:
    prog["setup"] = 0.0
    p = predict(**prog)
    assert p.batched.end == approx(p.eager.end, rel=1e-9, abs=1e-9)


@settings(max_examples=200)
@given(programs())
def test_metrics_relations(prog: dict[str, Any]) -> None:
    p = predict(**prog)
    for lat in (p.eager, p.batched):
        assert lat.nel >= 0
        assert lat.e2el == approx(max(lat.end, p.t_gen))
        assert lat.e2el == approx(p.t_gen + lat.nel)
    assert p.serial.e2el == approx(p.t_gen + p.serial.nel)
    assert p.serial.e2el == approx(p.serial.end)


@settings(max_examples=300)
@given(
    n=st.integers(1, 30),
    tokens=st.floats(1, 5000),
    tps=st.floats(1, 500),
    ttft=st.floats(0, 2),
    tau=st.floats(0, 2),
    setup=st.floats(0.001, 0.5),
    delta=st.floats(0, 0.1),
)
def test_uniform_closed_form_matches_recurrence(
    n: int, tokens: float, tps: float, ttft: float, tau: float, setup: float, delta: float
) -> None:
    alpha, beta = tokens / (n * tps), setup + tau
    assume(not math.isclose(alpha, beta, rel_tol=1e-6))
    p = predict([tokens / n] * n, tps=tps, ttft=ttft, exe=tau, setup=setup, deltas=delta)
    closed, regime = uniform_parallel_latency(
        ttft=ttft, tokens=tokens, tps=tps, n=n, tau=tau, setup=setup, delta=delta
    )
    assert closed == approx(p.eager.end, rel=1e-9)
    assert p.uniform_estimate == approx(p.eager.end, rel=1e-9)
    assert regime is (Regime.GENERATION if alpha > beta else Regime.EXECUTION)
    if n > 1:
        assert p.regime is regime
    # N < N* exactly when generation-dominated
    assert p.n_star is not None
    assume(not math.isclose(n, p.n_star, rel_tol=1e-6))
    assert (n < p.n_star) == (regime is Regime.GENERATION)


# -- estimates from a recorded run --------------------------------------------------------------


def recorded_run() -> dict[str, Any]:
    def chunk(i: int, tokens: int, gen: float, ready: float, batch: int, s: float | None, e: float | None):
        return {
            "index": i,
            "start_line": i + 1,
            "end_line": i + 1,
            "kind": "statement",
            "tokens": tokens,
            "generated_at": gen,
            "ready_at": ready,
            "batch": batch,
            "exec_start": s,
            "exec_end": e,
        }

    return {
        "code": "a = 1\nb = 2\nc = 3\n",
        "stdout": "",
        "stderr": "",
        "error": None,
        "metrics": {"t_gen": 4.0, "ttft": 0.5, "nel": 0.0, "e2el": 4.0},
        "tps": 10.0,
        "timeline": {
            "stream": {"request_start": 0.0, "first_token": 0.5, "last_token": 4.0, "tokens": 40},
            "chunks": [
                chunk(2, 10, 3.5, 3.5, 1, None, None),
                chunk(0, 10, 1.5, 1.6, 0, 1.0, 1.2),
                chunk(1, 10, 2.5, 2.5, 0, 1.2, 2.0),
            ],
            "batches": [
                {"index": 0, "chunks": [0, 1], "start": 1.0, "end": 2.0, "setup": 0.2},
                {"index": 1, "chunks": [2], "start": 3.0, "end": 3.5, "setup": 0.1},
            ],
        },
    }


def test_estimate_from_run() -> None:
    est = estimate_from_run(recorded_run())
    assert est.lengths == (10, 10, 10)
    assert est.tps == 10.0
    assert est.ttft == 0.5
    assert est.setup == approx(0.15)
    assert est.exe == approx((0.16, 0.64, 0.4))
    assert est.deltas == approx((0.1, 0.0, 0.0))
    assert est.tail_tokens == 10
    assert est.calls == 2
    assert est.deferred == (False, False, False)
    assert est.notes == ()
    p = est.predict()
    assert p.n_chunks == 3
    assert p.t_gen == approx(0.5 + 4.0)


def test_estimate_from_run_even_split_and_defaults() -> None:
    run = recorded_run()
    for c in run["timeline"]["chunks"]:
        c["exec_start"] = c["exec_end"] = None
    for b in run["timeline"]["batches"]:
        del b["setup"]
    del run["tps"]
    run["error"] = {"type": "ZeroDivisionError", "message": "division by zero", "line": 3}
    run["timeline"]["batches"].pop()
    est = estimate_from_run(run)
    assert est.setup == 0.0
    assert est.exe == approx((0.5, 0.5, 0.0))
    assert est.tps == approx(39 / 3.5)
    assert len(est.notes) == 2


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda r: r.pop("timeline"), "missing 'timeline'"),
        (lambda r: r["timeline"].pop("batches"), "missing 'timeline.batches'"),
        (
            lambda r: r["timeline"]["chunks"][0].update(tokens="x"),
            "'chunks[].tokens' must be a finite number",
        ),
        (lambda r: r["timeline"].update(chunks=[]), "is empty"),
    ],
)
def test_estimate_from_run_rejects_bad_runs(mutate: Any, needle: str) -> None:
    run = recorded_run()
    mutate(run)
    with pytest.raises(UsageError, match=re.escape(needle)):
        estimate_from_run(run)


# -- source files and the CLI -------------------------------------------------------------------

SOURCE = "import math\n\nx = math.sqrt(16)\nfor i in range(3):\n    x += i\nprint(x)\n# done\n"


def test_source_profile_marks_definitions() -> None:
    profile = source_profile("import os\n\ndef f():\n    return 1\n\nclass A:\n    pass\n\nprint(f())\n")
    assert profile.deferred == (False, True, True, False)
    assert len(profile.lengths) == 4
    assert profile.tail_tokens == 0


def test_token_lengths() -> None:
    lengths, tail = token_lengths(SOURCE)
    assert len(lengths) == 4
    assert all(n > 0 for n in lengths)
    assert tail > 0  # the trailing comment
    one, no_tail = token_lengths("x = 1\n")
    assert len(one) == 1 and one[0] > 0
    assert no_tail == 0


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "prog.py"
    path.write_text(SOURCE, encoding="utf-8")
    return path


def run_cli(*args: str) -> Any:
    # Through the `eager` group: it turns click's own usage errors into the one-line shape.
    from eagerexec.cli import main

    return CliRunner().invoke(main, ["model", *args])


def test_cli_plain(program: Path) -> None:
    result = run_cli(str(program), "--tps", "20", "--exe", "0.1", "--setup", "0.01")
    assert result.exit_code == 0, result.output
    assert "chunks N (deferred by gating): 4 (0)" in result.stdout
    assert "eager batched: calls" in result.stdout
    assert "regime: R" in result.stdout


def test_cli_json_matches_predict(program: Path) -> None:
    result = run_cli(str(program), "--tps", "20", "--exe", "0.1", "--ttft", "0.3", "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)["prediction"]
    lengths, tail = token_lengths(SOURCE)
    want = predict(lengths, tps=20, exe=0.1, ttft=0.3, tail_tokens=tail, deferred=[False] * 4).to_dict()
    assert got == want


def test_cli_from_run(program: Path, tmp_path: Path) -> None:
    run = recorded_run()
    runs = tmp_path / "result.json"
    runs.write_text(json.dumps({"runs": {"eager": run, "serial": run}}), encoding="utf-8")
    result = run_cli(str(program), "--tps", "20", "--from-run", str(runs), "--mode", "serial", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["prediction"]["exe_sum"] == approx(1.2)  # 0.8 + 0.4 spread over the file's 4 chunks
    assert out["prediction"]["ttft"] == 0.5
    assert out["prediction"]["setup"] == approx(0.15)
    assert any("spread evenly" in note for note in out["notes"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["missing.py", "--tps", "10"], "missing.py"),
        (["{prog}", "--tps", "10", "--from-run", "{bad}"], "is not valid JSON"),
        (["{prog}", "--tps", "10", "--from-run", "{empty}"], "no 'runs.eager' object"),
        (["{prog}", "--tps", "10", "--from-run", "{empty}", "--exe", "1"], "not both"),
        (["{prog}", "--tps", "0"], "must be > 0"),
        (["{prog}", "--tps", "10", "--exe", "-1"], "must be >= 0"),
        (["{prog}", "--tps", "10", "--from-run", "{broken}"], "missing 'timeline'"),
    ],
)
def test_cli_bad_input(program: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    empty = tmp_path / "empty.json"
    empty.write_text("{}", encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"runs": {"eager": {}}}), encoding="utf-8")
    names = {"prog": str(program), "bad": str(bad), "empty": str(empty), "broken": str(broken)}
    result = run_cli(*(a.format(**names) for a in args))
    assert result.exit_code == 2
    assert needle in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_cli_wired_into_eager(program: Path) -> None:
    from eagerexec.cli import main

    result = CliRunner().invoke(main, ["model", str(program), "--tps", "50", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["prediction"]["n_chunks"] == 4
