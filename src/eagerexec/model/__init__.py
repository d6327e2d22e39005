"""The paper's closed-form latency model (section 2.2) and its metrics (section 4.4).

Strategy: every quantity is a small pure function of plain numbers, written once and named
after the paper's symbols; ``predict`` validates the inputs, calls them all and returns one frozen
``Prediction``. Two eager schedules are computed exactly:

* the paper's recurrence, one call (and one ``T_setup``) per chunk::

      t_g,i = T_FT + (l_1 + ... + l_i) / v
      t_d,i = t_g,i + delta_i
      t_e,i = max(t_d,i, t_e,i-1) + T_setup + T_exe,i          T_parallel = t_e,N

* the dynamic batching our executor runs: whenever the session is free it takes *every* chunk
  that is ready as one call and pays ``T_setup`` once for the batch. Chunks leave the chunker in
  order, so chunk i becomes dispatchable at ``r_i = max(t_d,1 .. t_d,i)``. With gating, deferred
  chunks (definitions) never open a batch: they ride with the next chunk. The simulation is event
  driven and O(N). It never ends later than the recurrence when deferred chunks take no execution
  time (proof in ``simulate_batched``).

The schedules live in ``_model_pipeline``, the readers of recorded runs and source files in
``_model_run``; this module re-exports both.

Chunks are 0-based in this API (the paper counts from 1). All times are in seconds, token counts
may be fractional. ``tail_tokens`` are tokens generated after the last chunk (trailing comments):
they lengthen generation (``T_gen``) but never delay an execution; the paper's ``L`` is the sum of
the chunk lengths, and ``T_gen = T_FT + (L + tail) / v`` is when the last token arrives.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .._exceptions import UsageError
from ._schedules import (
    Batch,
    closed_form_parallel,
    generation_times,
    parallel_times,
    ready_times,
    simulate_batched,
)
from ._runs import RunEstimate, SourceProfile, estimate_from_run, source_profile, token_lengths

__all__ = [
    "Batch",
    "Latency",
    "Prediction",
    "Regime",
    "RunEstimate",
    "SourceProfile",
    "classify_regime",
    "closed_form_parallel",
    "critical_chunk_count",
    "estimate_from_run",
    "generation_times",
    "lower_bound_execution",
    "lower_bound_generation",
    "parallel_times",
    "predict",
    "ready_times",
    "saving_pct",
    "serial_latency",
    "simulate_batched",
    "source_profile",
    "speedup_bound",
    "token_lengths",
    "uniform_parallel_latency",
    "uniform_regime",
    "upper_bound",
]


class Regime(enum.StrEnum):
    """Which stage bounds the eager pipeline (section 2.2.5)."""

    GENERATION = "R1"
    """Generation-dominated (alpha > beta): execution hides behind generation."""
    EXECUTION = "R2"
    """Execution-dominated (alpha < beta): generation hides behind execution."""
    BALANCED = "R3"
    """Balanced (alpha = beta): the pipeline is perfectly paced."""

    @property
    def description(self) -> str:
        """A short human name, e.g. ``"generation-dominated"``."""
        return _REGIME_NAMES[self]


_REGIME_NAMES = {
    Regime.GENERATION: "generation-dominated",
    Regime.EXECUTION: "execution-dominated",
    Regime.BALANCED: "balanced",
}


# -- the pipeline ------------------------------------------------------------------------------


def serial_latency(*, t_gen: float, setup_full: float, exe_full: float) -> float:
    """Serial latency ``T_serial = T_FT + L/v + T_setup(full) + T_exe(full)``.

    Args:
        t_gen: ``T_FT + L/v``, when the last token arrives.
        setup_full: ``T_setup(full)``, the one-time setup of the whole-program call.
        exe_full: ``T_exe(full)``, execution time of the whole program (``~ sum_i T_exe,i``).

    Returns:
        The completion time of the serial run, from the start of the request.
    """
    return t_gen + setup_full + exe_full


# -- bounds -----------------------------------------------------------------------------------


def upper_bound(
    *, ttft: float, tokens: float, tps: float, delta_max: float, n: int, setup: float, exe_sum: float
) -> float:
    """``T_parallel <= T_FT + L/v + delta_max + N T_setup + sum_j T_exe,j`` (zero overlap).

    Hence ``T_parallel - T_serial <= delta_max + N T_setup - T_setup(full)`` when
    ``T_exe(full) = sum_j T_exe,j``. ``tokens`` may include the tail: any ``L' >= L`` keeps it a bound.
    """
    return ttft + tokens / tps + delta_max + n * setup + exe_sum


def lower_bound_generation(
    *, ttft: float, tokens: float, tps: float, delta_last: float, setup: float, exe_last: float
) -> float:
    """Generation-side bound ``T_parallel >= T_FT + L/v + delta_N + T_setup + T_exe,N``.

    All tokens of the last chunk must exist before it can run (``tokens`` = sum of the chunk
    lengths, without the tail). It holds for the batched schedule too.
    """
    return ttft + tokens / tps + delta_last + setup + exe_last


def lower_bound_execution(
    *, ttft: float, first_tokens: float, tps: float, delta_first: float, n: int, setup: float, exe_sum: float
) -> float:
    """Execution-side bound ``T_parallel >= T_FT + l_1/v + delta_1 + N T_setup + sum_j T_exe,j``.

    Every chunk runs, in order, after the first one is ready. For the batched schedule pass
    ``n=1``: it may pay ``T_setup`` only once.
    """
    return ttft + first_tokens / tps + delta_first + n * setup + exe_sum


def speedup_bound(*, serial: float, lower_generation: float) -> float:
    """``S = T_serial / T_parallel <= T_serial / (T_FT + L/v + delta_N + T_setup + T_exe,N)``."""
    return serial / lower_generation if lower_generation > 0 else math.inf


# -- uniform chunks and regimes ---------------------------------------------------------------


def uniform_parallel_latency(
    *, ttft: float, tokens: float, tps: float, n: int, tau: float, setup: float, delta: float
) -> tuple[float, Regime]:
    """Closed form for uniform chunks (``l_i = L/N``, ``T_exe,i = tau``, ``delta_i = delta``).

    With ``alpha = L/(N v)`` (generation per chunk) and ``beta = T_setup + tau`` (execution per
    chunk) the inner term is affine in i, so the maximum sits at an end:

    * R1, ``alpha > beta``: ``T_parallel = T_FT + L/v + delta + beta`` (i = N);
    * R2, ``alpha < beta``: ``T_parallel = T_FT + alpha + delta + N beta`` (i = 1);
    * R3, ``alpha = beta``: both expressions agree.

    Returns:
        ``(T_parallel, regime)``.
    """
    alpha = tokens / (n * tps)
    beta = setup + tau
    regime = uniform_regime(alpha, beta)
    if regime is Regime.EXECUTION:
        return ttft + alpha + delta + n * beta, regime
    return ttft + tokens / tps + delta + beta, regime


def uniform_regime(alpha: float, beta: float, *, tol: float = 1e-9) -> Regime:
    """R1 if ``alpha > beta``, R2 if ``alpha < beta``, R3 when equal within relative ``tol``."""
    if math.isclose(alpha, beta, rel_tol=tol, abs_tol=1e-15):
        return Regime.BALANCED
    return Regime.GENERATION if alpha > beta else Regime.EXECUTION


def classify_regime(lower_generation: float, lower_execution: float, *, tol: float = 1e-9) -> Regime:
    """Name the regime of any program by comparing its two lower bounds.

    Generation-dominated when the generation bound is the larger one, execution-dominated when
    the execution bound is, balanced when they agree within relative ``tol``. For uniform chunks
    this is exactly the paper's rule: the two bounds differ by ``(N-1)(alpha - beta)`` (a single
    chunk is always balanced).
    """
    if math.isclose(lower_generation, lower_execution, rel_tol=tol, abs_tol=1e-15):
        return Regime.BALANCED
    return Regime.GENERATION if lower_generation > lower_execution else Regime.EXECUTION


def critical_chunk_count(*, tokens: float, tps: float, exe_full: float, setup: float) -> float | None:
    """``N* = (L/v - T_exe(full)) / T_setup``, where ``alpha = beta`` for uniform chunks.

    Below ``N*`` more chunks improve overlap (R1); above it the setup cost ``N T_setup`` dominates
    (R2). A negative value means no chunk count reaches R1. ``None`` when ``T_setup = 0`` (no
    setup cost: more chunks never hurt).
    """
    if setup <= 0:
        return None
    return (tokens / tps - exe_full) / setup


def saving_pct(serial: float, eager: float) -> float | None:
    """``(serial - eager) / serial`` in percent; ``None`` when ``serial`` is 0."""
    if serial <= 0:
        return None
    return (serial - eager) / serial * 100.0


# -- the entry point --------------------------------------------------------------------------


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
