"""The benchmark harness behind ``eager bench``: sweeps, resume, report, figures, loaders, Ray.

Strategy: ``load_corpus`` resolves corpus names into ``Program`` values; ``run_sweep`` runs every
(program, backend, rate, repeat) serial/eager pair not yet in ``OUT/runs.jsonl`` (one flushed
line per run, so a sweep resumes); ``write_report`` turns ``runs.jsonl`` into ``report.md``,
``report.csv`` and ``saving_vs_rate.png``. Nothing here imports ray unless ``use_ray`` is set.
"""

from ._corpus import load_corpus
from ._loaders import LOADERS, download_benchmark
from ._pair import SweepConfig
from ._programs import Program
from ._records import build_pairs, load_runs
from ._report import write_report
from ._runner import SweepSummary, run_sweep

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
