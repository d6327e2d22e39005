"""The model's closed forms (section 2.2): serial latency, bounds, uniform chunks and regimes.

Strategy: each quantity is a small pure function of plain numbers, named after the paper's
symbols; ``_predict`` calls them all and ``eagerexec.model`` re-exports them.
"""

from __future__ import annotations

import enum
import math

__all__ = [
    "Regime",
    "classify_regime",
    "critical_chunk_count",
    "lower_bound_execution",
    "lower_bound_generation",
    "saving_pct",
    "serial_latency",
    "speedup_bound",
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
