"""``predict``: the whole model on one program, as one frozen ``Prediction``.

Strategy: validate the inputs (one clear ``UsageError`` per bad value), compute the schedules
(``_schedules``: the paper's recurrence and the executor's dynamic batching, driven by the
pipeline's own ``Scheduler``) and the closed forms (``_bounds``), and gather them. Imports only
``_schedules`` and ``_bounds``; ``_runs`` imports this module, never the reverse.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .._exceptions import UsageError
from ._bounds import (
    Regime,
    classify_regime,
    critical_chunk_count,
    lower_bound_execution,
    lower_bound_generation,
    saving_pct,
    serial_latency,
    speedup_bound,
    uniform_parallel_latency,
    upper_bound,
)
from ._schedules import closed_form_parallel, generation_times, parallel_times, ready_times, simulate_batched

__all__ = ["Latency", "Prediction", "predict"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Latency:
    """One mode's latencies, from the start of the request (section 4.4).

    Attributes:
        end: when the last execution ends.
        nel: non-overlapped execution latency, the execution after the last token:
            ``T_setup(full) + T_exe(full)`` for serial, ``max(0, end - T_gen)`` for eager.
        e2el: end-to-end latency ``T_gen + NEL``.
        calls: execution calls, each paying a setup cost.
    """

    end: float
    nel: float
    e2el: float
    calls: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Prediction:
    """Everything the model says about one program; see ``predict``.

    Attributes:
        n_chunks: ``N``.
        tokens: ``L``, the sum of the chunk lengths (the tail excluded).
        tail_tokens: tokens after the last chunk.
        tps: ``v``.
        ttft: ``T_FT``.
        setup: ``T_setup`` per call.
        setup_full: ``T_setup(full)`` of the serial call.
        exe_sum: ``sum_i T_exe,i``.
        exe_full: ``T_exe(full)`` of the serial call.
        t_gen: ``T_FT + (L + tail) / v``, when the last token arrives.
        serial: the serial run.
        eager: the paper's recurrence (one call per chunk).
        batched: the dynamic-batching schedule.
        upper_bound: ``T_FT + L/v + delta_max + N T_setup + sum T_exe``.
        lower_bound_generation: ``T_FT + L/v + delta_N + T_setup + T_exe,N``.
        lower_bound_execution: ``T_FT + l_1/v + delta_1 + N T_setup + sum T_exe``.
        lower_bound: the larger of the two.
        overhead_bound: ``delta_max + N T_setup - T_setup(full)``, the worst regression vs serial.
        speedup: ``serial.e2el / eager.e2el``.
        speedup_batched: ``serial.e2el / batched.e2el``.
        speedup_bound: ``T_serial / lower_bound_generation``.
        nel_saving_pct, e2el_saving_pct: eager vs serial, percent (``None`` if serial is 0).
        nel_saving_pct_batched, e2el_saving_pct_batched: batched vs serial, percent.
        alpha: ``L/(N v)``, mean generation time per chunk.
        beta: ``T_setup + mean T_exe,i``, mean execution time per call of one chunk.
        regime: from the two lower bounds (``classify_regime``).
        critical_chunk: the 0-based chunk starting the critical path of the recurrence.
        n_star: ``N*`` (``critical_chunk_count``), ``None`` when ``T_setup = 0``.
        uniform: whether all chunks have the same length, execution time and delay.
        uniform_estimate: the uniform closed form evaluated with the means (exact if uniform).
        deferred: how many chunks gating defers in the batched schedule.
    """

    n_chunks: int
    tokens: float
    tail_tokens: float
    tps: float
    ttft: float
    setup: float
    setup_full: float
    exe_sum: float
    exe_full: float
    t_gen: float
    serial: Latency
    eager: Latency
    batched: Latency
    upper_bound: float
    lower_bound_generation: float
    lower_bound_execution: float
    lower_bound: float
    overhead_bound: float
    speedup: float
    speedup_batched: float
    speedup_bound: float
    nel_saving_pct: float | None
    e2el_saving_pct: float | None
    nel_saving_pct_batched: float | None
    e2el_saving_pct_batched: float | None
    alpha: float
    beta: float
    regime: Regime
    critical_chunk: int
    n_star: float | None
    uniform: bool
    uniform_estimate: float
    deferred: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the regime as ``"R1"``..``"R3"``, infinities as ``None``)."""
        raw = asdict(self)
        raw["regime"] = self.regime.value
        raw["regime_name"] = self.regime.description
        return {k: _finite(v) for k, v in raw.items()}


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _number(name: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{name} must be a number, got {value!r}")
    x = float(value)
    if math.isnan(x) or math.isinf(x):
        raise UsageError(f"{name} must be finite, got {x}")
    if positive and x <= 0:
        raise UsageError(f"{name} must be > 0, got {x:g}")
    if x < 0:
        raise UsageError(f"{name} must be >= 0, got {x:g}")
    return x


def _per_chunk(name: str, value: float | Iterable[float], n: int) -> tuple[float, ...]:
    if isinstance(value, int | float):
        x = _number(name, value)
        return (x,) * n
    values = tuple(_number(f"{name}[{i}]", v) for i, v in enumerate(value))
    if len(values) != n:
        raise UsageError(f"{name} has {len(values)} values for {n} chunks")
    return values


def predict(
    lengths: Iterable[float],
    *,
    tps: float,
    exe: float | Iterable[float] = 0.0,
    ttft: float = 0.0,
    setup: float = 0.0,
    setup_full: float | None = None,
    exe_full: float | None = None,
    deltas: float | Iterable[float] = 0.0,
    tail_tokens: float = 0.0,
    deferred: Iterable[bool] | None = None,
    tol: float = 1e-9,
) -> Prediction:
    """Predict serial and eager latency of one program with the section 2.2 model.

    Args:
        lengths: tokens of each chunk, ``l_i`` (at least one chunk).
        tps: generation rate ``v``, tokens per second (> 0).
        exe: ``T_exe,i`` per chunk, or one value for every chunk (seconds).
        ttft: time to first token ``T_FT``.
        setup: per-call execution overhead ``T_setup``.
        setup_full: ``T_setup(full)`` of the serial call (default: ``setup``).
        exe_full: ``T_exe(full)`` of the serial call (default: ``sum_i T_exe,i``).
        deltas: residual detection delay ``delta_i`` per chunk, or one value for all.
        tail_tokens: tokens generated after the last chunk (only lengthen generation).
        deferred: per chunk, whether the executor's gating defers it (definitions); only the
            batched schedule uses it (see ``simulate_batched``).
        tol: relative tolerance under which the regime is called balanced.

    Returns:
        A ``Prediction``.

    Raises:
        UsageError: a value is negative, NaN or infinite, ``tps`` is not positive, there are no
            chunks, or a per-chunk sequence has the wrong length.
    """
    ls = tuple(_number(f"lengths[{i}]", v) for i, v in enumerate(lengths))
    n = len(ls)
    if n == 0:
        raise UsageError("the program has no chunks to model")
    v = _number("tps", tps, positive=True)
    t_ft = _number("ttft", ttft)
    s = _number("setup", setup)
    s_full = s if setup_full is None else _number("setup_full", setup_full)
    tail = _number("tail_tokens", tail_tokens)
    tol = _number("tol", tol)
    ex = _per_chunk("exe", exe, n)
    ds = _per_chunk("deltas", deltas, n)
    exe_sum = math.fsum(ex)
    e_full = exe_sum if exe_full is None else _number("exe_full", exe_full)
    total = math.fsum(ls)

    t_gen = t_ft + (total + tail) / v
    gen = generation_times(ls, tps=v, ttft=t_ft)
    ready = ready_times(gen, ds)
    t_parallel = parallel_times(ready, ex, s)[-1]
    _, critical = closed_form_parallel(ready, ex, s)
    gating = None if deferred is None else tuple(bool(d) for d in deferred)
    if gating is not None and len(gating) != n:
        raise UsageError(f"deferred has {len(gating)} values for {n} chunks")
    batches = simulate_batched(ready, ex, s, gating)
    t_batched = batches[-1].end

    serial_end = serial_latency(t_gen=t_gen, setup_full=s_full, exe_full=e_full)
    serial = Latency(end=serial_end, nel=s_full + e_full, e2el=serial_end, calls=1)
    eager = _eager_latency(t_parallel, t_gen, n)
    batched = _eager_latency(t_batched, t_gen, len(batches))

    upper = upper_bound(
        ttft=t_ft, tokens=total + tail, tps=v, delta_max=max(ds), n=n, setup=s, exe_sum=exe_sum
    )
    low_gen = lower_bound_generation(
        ttft=t_ft, tokens=total, tps=v, delta_last=ds[-1], setup=s, exe_last=ex[-1]
    )
    low_exe = lower_bound_execution(
        ttft=t_ft, first_tokens=ls[0], tps=v, delta_first=ds[0], n=n, setup=s, exe_sum=exe_sum
    )
    alpha = total / (n * v)
    beta = s + exe_sum / n
    uniform = _all_equal(ls) and _all_equal(ex) and _all_equal(ds)
    uniform_estimate, _ = uniform_parallel_latency(
        ttft=t_ft, tokens=total, tps=v, n=n, tau=exe_sum / n, setup=s, delta=math.fsum(ds) / n
    )
    return Prediction(
        n_chunks=n,
        tokens=total,
        tail_tokens=tail,
        tps=v,
        ttft=t_ft,
        setup=s,
        setup_full=s_full,
        exe_sum=exe_sum,
        exe_full=e_full,
        t_gen=t_gen,
        serial=serial,
        eager=eager,
        batched=batched,
        upper_bound=upper,
        lower_bound_generation=low_gen,
        lower_bound_execution=low_exe,
        lower_bound=max(low_gen, low_exe),
        overhead_bound=max(ds) + n * s - s_full,
        speedup=_ratio(serial.e2el, eager.e2el),
        speedup_batched=_ratio(serial.e2el, batched.e2el),
        speedup_bound=speedup_bound(serial=serial_end, lower_generation=low_gen),
        nel_saving_pct=saving_pct(serial.nel, eager.nel),
        e2el_saving_pct=saving_pct(serial.e2el, eager.e2el),
        nel_saving_pct_batched=saving_pct(serial.nel, batched.nel),
        e2el_saving_pct_batched=saving_pct(serial.e2el, batched.e2el),
        alpha=alpha,
        beta=beta,
        regime=classify_regime(low_gen, low_exe, tol=tol),
        critical_chunk=critical,
        n_star=critical_chunk_count(tokens=total, tps=v, exe_full=e_full, setup=s),
        uniform=uniform,
        uniform_estimate=uniform_estimate,
        deferred=0 if gating is None else sum(gating),
    )


def _eager_latency(end: float, t_gen: float, calls: int) -> Latency:
    nel = max(0.0, end - t_gen)
    return Latency(end=end, nel=nel, e2el=t_gen + nel, calls=calls)


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


def _all_equal(values: Sequence[float]) -> bool:
    return all(math.isclose(x, values[0], rel_tol=1e-12, abs_tol=1e-15) for x in values)
