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
  order, so chunk i becomes dispatchable at ``r_i = max(t_d,1 .. t_d,i)``. With gating, trailing
  deferred chunks (definitions) are held back while the stream goes on: they ride with the next
  chunk. The simulation is event driven, O(N), and drives the pipeline's own sans-IO
  ``Scheduler``, so the rule is the executor's. It never ends later than the recurrence when
  deferred chunks take no execution time (proof in ``simulate_batched``).

Modules: ``_schedules`` (the recurrence and the batched simulation), ``_bounds`` (closed forms,
bounds, regimes), ``_predict`` (``predict`` and ``Prediction``), ``_runs`` (the inputs read from a
recorded run or a source file). They import one another in one direction only (``_runs`` ->
``_predict`` -> ``_schedules``, ``_bounds``); this module re-exports them all.

Chunks are 0-based in this API (the paper counts from 1). All times are in seconds, token counts
may be fractional. ``tail_tokens`` are tokens generated after the last chunk (trailing comments):
they lengthen generation (``T_gen``) but never delay an execution; the paper's ``L`` is the sum of
the chunk lengths, and ``T_gen = T_FT + (L + tail) / v`` is when the last token arrives.
"""

from __future__ import annotations

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
    uniform_regime,
    upper_bound,
)
from ._predict import Latency, Prediction, predict
from ._runs import RunEstimate, SourceProfile, estimate_from_run, source_profile, token_lengths
from ._schedules import (
    Batch,
    closed_form_parallel,
    generation_times,
    parallel_times,
    ready_times,
    simulate_batched,
)

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
