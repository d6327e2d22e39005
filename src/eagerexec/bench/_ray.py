"""Scale a sweep out over a Ray cluster: one task per serial/eager pair.

Strategy: each pair becomes a Ray task that reserves ``cpus_per_run`` CPUs (so two pairs never
share the cores they were given) and runs ``run_pair_sync`` on the worker; the driver collects
results with a ``ray.wait`` loop as they finish and hands each to the same sink as the
single-machine path (``runs.jsonl``, progress bar). A task that dies (worker crash, node lost)
becomes two error records, so the sweep goes on. This module is the only one that imports ray,
and only ``--ray`` imports it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from .._exceptions import BenchError
from ._pair import PairSpec, SweepConfig, run_pair_sync
from ._records import MODES

__all__ = ["run_pairs_ray"]


def _task(spec: PairSpec, timeout: float) -> list[dict[str, Any]]:
    return run_pair_sync(spec, timeout)


def _failed(spec: PairSpec, exc: BaseException) -> list[dict[str, Any]]:
    first = str(exc).strip().splitlines()
    message = first[0] if first else type(exc).__name__
    return [
        {
            "program": spec.program.name,
            "corpus": spec.program.corpus,
            "backend": spec.backend,
            "tps": spec.tps,
            "mode": mode,
            "repeat": spec.repeat,
            "expect": spec.program.expect,
            "error": {"type": type(exc).__name__, "message": message, "line": None, "origin": "harness",
                      "traceback": ""},
            "status": "crash",
            "prediction": None,
            "finished": time.time(),
        }
        for mode in MODES
    ]


def run_pairs_ray(
    pairs: Sequence[PairSpec],
    cfg: SweepConfig,
    *,
    address: str | None,
    sink: Callable[[PairSpec, list[dict[str, Any]]], None],
) -> None:
    """Run ``pairs`` as Ray tasks and feed each finished pair to ``sink`` (in completion order).

    Args:
        pairs: the pairs to run.
        cfg: the sweep settings (``cpus_per_run``, ``timeout``).
        address: a cluster address (``auto``, ``ray://host:10001``...) or None for a local Ray.
        sink: receives ``(pair, [serial_record, eager_record])``.

    Raises:
        BenchError: ray is not installed or the cluster cannot be reached.
    """
    try:
        import ray
    except ImportError as exc:
        raise BenchError("--ray needs the ray package: pip install 'eagerexec[ray]'") from exc
    started_here = False
    if not ray.is_initialized():
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=max(os.cpu_count() or 1, cfg.cpus_per_run), include_dashboard=False,
                         log_to_driver=False)
        except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError...
            raise BenchError(f"cannot start or reach Ray ({address or 'local'}): {exc}") from exc
        started_here = True
    try:
        remote = ray.remote(_task).options(num_cpus=cfg.cpus_per_run, max_retries=0)
        pending: dict[Any, PairSpec] = {remote.remote(spec, cfg.timeout): spec for spec in pairs}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                spec = pending.pop(ref)
                try:
                    recs = ray.get(ref)
                except Exception as exc:  # RayTaskError, WorkerCrashedError...
                    recs = _failed(spec, exc)
                sink(spec, recs)
    finally:
        if started_here:
            ray.shutdown()
