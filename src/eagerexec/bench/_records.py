"""The records of a sweep: their identity, ``runs.jsonl`` read back, and serial/eager pairs.

Strategy: the lowest module of the harness (it imports nothing from ``bench``): the runner
writes records with ``json_default``, the resume logic reads them with ``load_runs`` and keys
them with ``pair_key``/``run_key``, and the report and the repair study group them back into
``Pair`` values with ``build_pairs`` (each classified once: ok, error, timeout, crash, mismatch
or incomplete).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MODES", "Pair", "build_pairs", "fmt_tps", "json_default", "load_runs", "pair_key", "run_key"]

MODES = ("serial", "eager")


def fmt_tps(tps: float) -> str:
    return f"{tps:g}"


def pair_key(corpus: str, program: str, backend: str, tps: float, repeat: int) -> str:
    """The identity of a pair in ``runs.jsonl``."""
    return f"{corpus}/{program}/{backend}/{fmt_tps(tps)}/{repeat}"


def run_key(record: dict[str, Any]) -> str:
    """The identity of one run record: its pair key plus the mode."""
    pk = pair_key(record["corpus"], record["program"], record["backend"], float(record["tps"]), record["repeat"])
    return f"{pk}/{record['mode']}"


def load_runs(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Read ``runs.jsonl``: the records (deduplicated by run key, the last one wins) and how
    many lines were unreadable (a torn last line after an interruption)."""
    if not path.exists():
        return [], 0
    records: dict[str, dict[str, Any]] = {}
    bad = 0
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                key = run_key(rec)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                bad += 1
                continue
            records.pop(key, None)
            records[key] = rec
    return list(records.values()), bad


def json_default(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")



@dataclass(frozen=True, slots=True, kw_only=True)
class Pair:
    """A serial/eager pair read back from ``runs.jsonl``."""

    corpus: str
    program: str
    backend: str
    tps: float
    repeat: int
    serial: dict[str, Any] | None
    eager: dict[str, Any] | None
    kind: str

    def cell(self) -> tuple[str, str, float]:
        return (self.corpus, self.backend, self.tps)


def _classify(serial: dict[str, Any] | None, eager: dict[str, Any] | None) -> str:
    if serial is None or eager is None:
        return "incomplete"
    st = {serial.get("status"), eager.get("status")}
    if "timeout" in st:
        return "timeout"
    if "crash" in st or None in st:
        return "crash"
    if st == {"ok"}:
        return "ok"
    if serial.get("status") == "error" and eager.get("status") == "error":
        return "error"
    return "mismatch"


def build_pairs(records: Iterable[dict[str, Any]]) -> list[Pair]:
    """Group run records into pairs, in a stable order."""
    groups: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in records:
        key = pair_key(r["corpus"], r["program"], r["backend"], float(r["tps"]), int(r["repeat"]))
        groups[key][r["mode"]] = r
    pairs = []
    for modes in groups.values():
        any_rec = next(iter(modes.values()))
        s, e = modes.get("serial"), modes.get("eager")
        pairs.append(
            Pair(
                corpus=any_rec["corpus"],
                program=any_rec["program"],
                backend=any_rec["backend"],
                tps=float(any_rec["tps"]),
                repeat=int(any_rec["repeat"]),
                serial=s,
                eager=e,
                kind=_classify(s, e),
            )
        )
    pairs.sort(key=lambda p: (p.corpus, p.backend, p.tps, p.program, p.repeat))
    return pairs
