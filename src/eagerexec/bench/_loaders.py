"""Loaders for public benchmarks, reading their published files from a local path.

Strategy: each loader turns a benchmark's own layout into ``Program`` values (name, code, data
files); nothing is converted on disk. Question-only benchmarks (DABench, DSBench) ship no code,
so their programs come from a *solutions* JSONL next to the questions (``{"id": ..., "code": ...}``
or ``"response"`` with a fenced Python block, e.g. saved LLM answers); questions without a
solution are skipped. Any malformed file raises ``BenchError`` with one line naming the file and
line. ``download`` fetches the published files with urllib when asked explicitly (``--download``);
it is never used offline or in tests.

Layouts read (all UTF-8):

* PandasPlotBench: ``*.jsonl`` / ``*.json`` records (the Hugging Face rows) with ``id``,
  ``code_data``, ``code_plot``, ``data_csv``; the program is ``code_data + code_plot`` with
  ``data.csv`` written from ``data_csv``. Parquet works too when pandas and pyarrow are installed.
* DABench (InfiAgent): ``da-dev-questions.jsonl`` (``id``, ``question``, ``file_name``, ...) and
  ``da-dev-tables/<file_name>``; solutions from ``*solution*.jsonl`` / ``*response*.jsonl``.
* DSBench (data analysis): ``data.json`` (JSON lines: ``id``, ``name``, ``questions``...) and
  ``data/<id>/`` files; solutions keyed by task id or ``<id>/<question>``.
* GitChameleon: ``*.jsonl`` (or ``*.csv``) with ``library``, ``version``, ``starting_code``,
  ``solution`` and optional ``test``, ``example_id``/``id``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .._exceptions import BenchError
from ._programs import Program

__all__ = ["LOADERS", "download_benchmark", "load_dabench", "load_dsbench", "load_gitchameleon", "load_pandasplotbench"]

Loader = Callable[..., list[Program]]
_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


# -- reading ----------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"{path}: cannot read: {exc}") from exc
    stripped = text.lstrip()
    if stripped.startswith("["):  # a JSON array of records
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BenchError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
        if not all(isinstance(r, dict) for r in data):
            raise BenchError(f"{path}: expected a list of objects")
        return list(data)
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BenchError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        if not isinstance(rec, dict):
            raise BenchError(f"{path}:{n}: expected a JSON object, got {type(rec).__name__}")
        out.append(rec)
    return out


def _field(rec: dict[str, Any], names: Iterable[str], where: str, *, required: bool = True) -> Any:
    for name in names:
        if name in rec and rec[name] is not None:
            return rec[name]
    if required:
        raise BenchError(f"{where}: missing field {' or '.join(repr(n) for n in names)}")
    return None


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise BenchError(f"{where}: expected text, got {type(value).__name__}")
    return value


def _safe_name(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(value)).strip("_") or "program"


def _code_of(rec: dict[str, Any], where: str) -> str | None:
    code = rec.get("code")
    if isinstance(code, str) and code.strip():
        return code
    resp = rec.get("response") or rec.get("answer_code")
    if isinstance(resp, str):
        blocks = _FENCE.findall(resp)
        if blocks:
            return "\n".join(b.rstrip() for b in blocks) + "\n"
    if code is not None and not isinstance(code, str):
        raise BenchError(f"{where}: 'code' must be text")
    return None


def _solutions(directory: Path, exclude: set[Path]) -> dict[str, str]:
    """``id -> code`` from every solutions-like JSONL in ``directory``."""
    found: dict[str, str] = {}
    for path in sorted(directory.glob("*.jsonl")):
        if path in exclude or not re.search(r"solution|response|answer|gold", path.name, re.I):
            continue
        for n, rec in enumerate(_read_jsonl(path), 1):
            where = f"{path}:{n}"
            key = _field(rec, ("id", "task_id", "question_id"), where)
            code = _code_of(rec, where)
            if code is not None:
                found[str(key)] = code
    return found


def _must_exist(path: Path, what: str) -> None:
    if not path.exists():
        raise BenchError(f"{what}: {path} does not exist (use --download to fetch it)")


# -- PandasPlotBench --------------------------------------------------------------------------


def _pandasplotbench_records(path: Path) -> list[dict[str, Any]]:
    files = [path] if path.is_file() else sorted([*path.glob("*.jsonl"), *path.glob("*.json"), *path.glob("*.parquet")])
    if not files:
        raise BenchError(f"pandasplotbench: no .jsonl/.json/.parquet file in {path}")
    records: list[dict[str, Any]] = []
    for f in files:
        if f.suffix == ".parquet":
            try:
                import pandas as pd  # type: ignore[import-untyped]

                records += pd.read_parquet(f).to_dict(orient="records")
            except ImportError as exc:
                raise BenchError(f"{f}: reading parquet needs pandas and pyarrow") from exc
            except Exception as exc:  # pyarrow raises its own errors for corrupt files
                raise BenchError(f"{f}: not a readable parquet file: {exc}") from exc
        else:
            for rec in _read_jsonl(f):
                # the datasets-server API wraps each row as {"row_idx": .., "row": {...}}
                records.append(rec["row"] if isinstance(rec.get("row"), dict) else rec)
    return records


_TASK_FIELDS = ("question", "task__plot_description", "task", "instruction", "problem", "prompt", "description")


def _task_of(rec: dict[str, Any]) -> str:
    """A record's request text (the first task-like string field), or ``""``."""
    for key in _TASK_FIELDS:
        value = rec.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def load_pandasplotbench(path: Path, *, download: bool = False) -> list[Program]:
    """PandasPlotBench programs (gold plotting code with its ``data.csv``)."""
    if download and not path.exists():
        download_benchmark("pandasplotbench", path)
    _must_exist(path, "pandasplotbench")
    out = []
    for n, rec in enumerate(_pandasplotbench_records(path), 1):
        where = f"pandasplotbench {path} record {n}"
        pid = _field(rec, ("id",), where)
        code_data = _text(_field(rec, ("code_data",), where), where)
        code_plot = _text(_field(rec, ("code_plot",), where), where)
        csv_text = _text(_field(rec, ("data_csv",), where), where)
        out.append(
            Program(
                name=f"ppb_{_safe_name(pid)}",
                corpus="pandasplotbench",
                code=code_data.rstrip("\n") + "\n\n" + code_plot.lstrip("\n"),
                files=(("data.csv", csv_text.encode("utf-8")),),
                task=_task_of(rec),
            )
        )
    if not out:
        raise BenchError(f"pandasplotbench: {path} holds no record")
    return out


# -- DABench ----------------------------------------------------------------------------------


def load_dabench(path: Path, *, download: bool = False) -> list[Program]:
    """DABench programs: each question with a solution, its CSV table in the working dir."""
    if download and not path.exists():
        download_benchmark("dabench", path)
    _must_exist(path, "dabench")
    qfile = path / "da-dev-questions.jsonl" if path.is_dir() else path
    directory = qfile.parent
    _must_exist(qfile, "dabench")
    tables = directory / "da-dev-tables"
    questions = _read_jsonl(qfile)
    solutions = _solutions(directory, {qfile})
    out = []
    for n, rec in enumerate(questions, 1):
        where = f"{qfile}:{n}"
        qid = str(_field(rec, ("id",), where))
        file_name = _text(_field(rec, ("file_name",), where), where)
        code = _code_of(rec, where) or solutions.get(qid)
        if code is None:
            continue
        table = tables / file_name
        if not table.is_file():
            raise BenchError(f"{where}: table {file_name} not found in {tables}")
        out.append(
            Program(name=f"dabench_{_safe_name(qid)}", corpus="dabench", code=code,
                    files=((file_name, table.read_bytes()),), task=_task_of(rec))
        )
    if not out:
        raise BenchError(f"dabench: no question in {qfile} has a solution (add a *solutions*.jsonl with id and code)")
    return out


# -- DSBench ----------------------------------------------------------------------------------


def load_dsbench(path: Path, *, download: bool = False) -> list[Program]:
    """DSBench data-analysis programs: one per (task, question) with a solution, the task's
    files in the working dir."""
    if download and not path.exists():
        download_benchmark("dsbench", path)
    _must_exist(path, "dsbench")
    index = path / "data.json" if path.is_dir() else path
    directory = index.parent
    _must_exist(index, "dsbench")
    tasks = _read_jsonl(index)
    solutions = _solutions(directory, {index})
    out = []
    for n, rec in enumerate(tasks, 1):
        where = f"{index}:{n}"
        tid = str(_field(rec, ("id",), where))
        questions = _field(rec, ("questions",), where, required=False) or [None]
        if not isinstance(questions, list):
            raise BenchError(f"{where}: 'questions' must be a list")
        task_dir = directory / "data" / tid
        files = tuple(
            (f.relative_to(task_dir).as_posix(), f.read_bytes())
            for f in sorted(task_dir.rglob("*"))
            if f.is_file()
        ) if task_dir.is_dir() else ()
        for q in questions:
            key = tid if q is None else f"{tid}/{q}"
            code = solutions.get(key) or (solutions.get(tid) if len(questions) == 1 else None)
            if code is None:
                continue
            name = f"dsbench_{_safe_name(tid)}" + ("" if q is None else f"_{_safe_name(q)}")
            question = task_dir / f"{q}.txt" if q is not None else None
            task = question.read_text(encoding="utf-8", errors="replace").strip() if question and question.is_file() else ""
            out.append(Program(name=name, corpus="dsbench", code=code, files=files, task=task or _task_of(rec)))
    if not out:
        raise BenchError(f"dsbench: no task in {index} has a solution (add a *solutions*.jsonl with id and code)")
    return out


# -- GitChameleon -----------------------------------------------------------------------------


def _gitchameleon_records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    files = [path] if path.is_file() else sorted([*path.glob("*.jsonl"), *path.glob("*.csv")])
    if not files:
        raise BenchError(f"gitchameleon: no .jsonl/.csv file in {path}")
    out: list[tuple[str, dict[str, Any]]] = []
    for f in files:
        if f.suffix == ".csv":
            try:
                rows = list(csv.DictReader(io.StringIO(f.read_text(encoding="utf-8"))))
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                raise BenchError(f"{f}: not a readable CSV file: {exc}") from exc
            out += [(f"{f}:{i + 2}", dict(r)) for i, r in enumerate(rows)]
        else:
            out += [(f"{f}:{i + 1}", r) for i, r in enumerate(_read_jsonl(f))]
    return out


def load_gitchameleon(path: Path, *, download: bool = False) -> list[Program]:
    """GitChameleon programs: ``starting_code`` + ``solution`` (+ ``test``) per problem."""
    if download and not path.exists():
        download_benchmark("gitchameleon", path)
    _must_exist(path, "gitchameleon")
    out = []
    for n, (where, rec) in enumerate(_gitchameleon_records(path), 1):
        library = _text(_field(rec, ("library",), where), where)
        version = str(_field(rec, ("version",), where))
        start = _text(_field(rec, ("starting_code",), where), where)
        solution = _text(_field(rec, ("solution",), where), where)
        test = _field(rec, ("test",), where, required=False) or ""
        pid = _field(rec, ("example_id", "id"), where, required=False)
        code = start.rstrip("\n") + "\n" + solution.strip("\n") + "\n"
        if isinstance(test, str) and test.strip():
            code += "\n" + test.strip("\n") + "\n"
        name = f"gitchameleon_{_safe_name(pid if pid is not None else n)}_{_safe_name(library)}_{_safe_name(version)}"
        out.append(Program(name=name, corpus="gitchameleon", code=code, task=_task_of(rec)))
    if not out:
        raise BenchError(f"gitchameleon: {path} holds no record")
    return out


LOADERS: dict[str, Loader] = {
    "pandasplotbench": load_pandasplotbench,
    "dabench": load_dabench,
    "dsbench": load_dsbench,
    "gitchameleon": load_gitchameleon,
}


# -- download (explicit, needs internet) -----------------------------------------------------

_PPB_ROWS = (
    "https://datasets-server.huggingface.co/rows?dataset=JetBrains-Research/PandasPlotBench"
    "&config=default&split=test&offset={offset}&length=100"
)
_DABENCH = "https://raw.githubusercontent.com/InfiAgent/InfiAgent/main/examples/DA-Agent/data/"
_DABENCH_TABLES = "https://api.github.com/repos/InfiAgent/InfiAgent/contents/examples/DA-Agent/data/da-dev-tables"
_DSBENCH = "https://huggingface.co/datasets/liqiang888/DSBench/resolve/main/data_analysis/data.json"
_GITCHAMELEON = "https://raw.githubusercontent.com/NizarIslah/GitChameleon/main/data/combined_dataset.csv"


def _fetch(url: str) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": "eagerexec-bench"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            data: bytes = resp.read()
            return data
    except OSError as exc:
        raise BenchError(f"download failed: {url}: {exc}") from exc


def download_benchmark(name: str, dest: Path) -> Path:
    """Fetch a benchmark's published files into ``dest`` (a directory), with urllib.

    DABench and DSBench ship questions only: add a solutions JSONL before running them.

    Raises:
        BenchError: unknown benchmark, or the network failed.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if name == "pandasplotbench":
        lines, offset = [], 0
        while True:
            page = json.loads(_fetch(_PPB_ROWS.format(offset=offset)))
            rows = page.get("rows") or []
            lines += [json.dumps(r.get("row", r)) for r in rows]
            offset += len(rows)
            if not rows or offset >= int(page.get("num_rows_total", 0)):
                break
        (dest / "pandasplotbench.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif name == "dabench":
        (dest / "da-dev-questions.jsonl").write_bytes(_fetch(_DABENCH + "da-dev-questions.jsonl"))
        tables = dest / "da-dev-tables"
        tables.mkdir(exist_ok=True)
        for entry in json.loads(_fetch(_DABENCH_TABLES)):
            if entry.get("download_url"):
                (tables / _safe_name(entry["name"])).write_bytes(_fetch(entry["download_url"]))
    elif name == "dsbench":
        (dest / "data.json").write_bytes(_fetch(_DSBENCH))
    elif name == "gitchameleon":
        (dest / "combined_dataset.csv").write_bytes(_fetch(_GITCHAMELEON))
    else:
        raise BenchError(f"download: unknown benchmark {name!r}")
    return dest
