"""``--ray`` scale-out against a small local Ray started by the test (in a subprocess)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec("ray") is None:
    # CI installs the ``ray`` extra: there (``ray`` in EAGEREXEC_REQUIRE_BACKENDS) its absence fails.
    _required = {b.strip() for b in os.environ.get("EAGEREXEC_REQUIRE_BACKENDS", "").split(",")}
    if "ray" in _required:
        raise RuntimeError("ray is required here (EAGEREXEC_REQUIRE_BACKENDS) but not installed")
    pytest.skip("ray is not installed", allow_module_level=True)

SCRIPT = """
import json, sys
from pathlib import Path
import ray
from eagerexec.bench import SweepConfig, load_corpus, run_sweep, write_report

corpus, out = sys.argv[1], Path(sys.argv[2])
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
cfg = SweepConfig(out=out, tps=(500.0,), timeout=5.0, cpus_per_run=1, progress=False)
summary = run_sweep(load_corpus(corpus), cfg, use_ray=True)
write_report(out)
print(json.dumps({"executed": summary.executed, "statuses": summary.statuses,
                  "initialized_after": ray.is_initialized()}))
ray.shutdown()
"""


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_ray_sweep_streams_pairs_into_runs_and_report(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ok.py").write_text("total = sum(range(1000))\nprint(total)\n")
    (corpus / "boom.py").write_text("x = 1\ny = x / 0\nprint(y)\n")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(corpus), str(out)], capture_output=True, text=True, timeout=200
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["executed"] == 2
    assert summary["statuses"] == {"ok": 2, "error": 2}
    assert summary["initialized_after"] is True  # a Ray the caller started is left running
    lines = (out / "runs.jsonl").read_text().splitlines()
    recs = {(r["program"], r["mode"]): r for r in map(json.loads, lines)}
    assert set(recs) == {(p, m) for p in ("ok", "boom") for m in ("serial", "eager")}
    assert recs[("ok", "eager")]["stdout"].strip() == "499500"
    assert recs[("boom", "eager")]["error"]["type"] == "ZeroDivisionError"
    assert recs[("ok", "serial")]["prediction"]["batched_e2el"] > 0
    md = (out / "report.md").read_text()
    assert "| corpus | local | 500 | 1 |" in md.split("## Table 2")[0]
    assert "| corpus | local | 500 | 1 |" in md.split("## Table 2")[1]


def test_a_failed_task_becomes_two_crash_records() -> None:
    from eagerexec.bench._pair import PairSpec
    from eagerexec.bench._programs import Program
    from eagerexec.bench._ray import _failed

    spec = PairSpec(program=Program(name="p", corpus="c", code="x = 1\n"), backend="local", tps=50.0, repeat=2)
    recs = _failed(spec, RuntimeError("worker died\nlong traceback"))
    assert [r["mode"] for r in recs] == ["serial", "eager"]
    assert all(r["status"] == "crash" and r["error"]["message"] == "worker died" for r in recs)
    assert all(r["repeat"] == 2 and r["tps"] == 50.0 for r in recs)
