"""The benchmark harness behind ``eager bench``: sweeps, resume, report, figures, loaders, Ray.

Strategy: ``load_corpus`` resolves corpus names into ``Program`` values; ``run_sweep`` runs every
(program, backend, rate, repeat) serial/eager pair not yet in ``OUT/runs.jsonl`` (one flushed
line per run, so a sweep resumes); ``write_report`` turns ``runs.jsonl`` into ``report.md``,
``report.csv`` and ``saving_vs_rate.png``. Nothing here imports ray unless ``use_ray`` is set.
"""

from ._loaders import LOADERS, download_benchmark
from ._programs import Program, load_corpus
from ._report import build_pairs, write_report
from ._runner import SweepConfig, SweepSummary, load_runs, run_sweep

__all__ = [
    "LOADERS",
    "Program",
    "SweepConfig",
    "SweepSummary",
    "build_pairs",
    "download_benchmark",
    "load_corpus",
    "load_runs",
    "run_sweep",
    "write_report",
]
