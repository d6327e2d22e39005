"""pydantic-ai-harness's eager ``CodeMode`` (Monty) against eagerexec's pydantic-ai adapter.

Usage (pydantic-ai-harness pins ``pydantic-ai-slim`` to its own release, so use a separate venv)::

    python -m venv .venv-codemode && . .venv-codemode/bin/activate
    pip install -e '.[pydantic-ai]' 'pydantic-ai-harness[code-mode]'
    python bench/bench_codemode.py [--tps 100] [--check-timeout 30] [--programs a,b] [--json out.json]

Two phases, in one run:

1. **Which programs Monty runs.** Every bundled corpus program is sent whole, as one ``run_code``
   call, to ``Agent(FunctionModel, capabilities=[CodeMode(mount=...)])`` (a fresh temporary
   directory mounted read-write at ``/``, as the other arm gets a fresh workdir); the tool result says whether
   Monty ran it, and if not, why (the error's class, e.g. ``ModuleNotFoundError`` for
   ``import numpy``). A program that fails on Monty with the error the corpus expects (the
   failing programs) counts as run.
2. **Latency.** The programs Monty runs, plus a failing variant of each one that ran cleanly
   (``1 / 0`` inserted before the top-level statement at 40 % of the program), are streamed as a
   ``run_code`` tool call (JSON arguments, one cl100k token every 1/TPS s on a fixed schedule)
   by a pydantic-ai ``FunctionModel``, then a final text answer. Arms, alternating, same stream:

   * ``codemode``: ``CodeMode()``, the code runs on Monty after the call has streamed;
   * ``codemode-eager``: ``CodeMode(eager=True)``, statements run on Monty as they stream;
   * ``eagerexec``: ``eagerexec.integrations.pydantic_ai.EagerPython(tool_name="run_code")``,
     statements run on CPython (the ``--backend``) as they stream, the response ends at the
     first failing statement.

Measured per run: NEL (last generated token to the next model request, i.e. the tool result),
E2EL (request start to that moment), the argument tokens generated out of the total.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench_frameworks import scripted_tool_call

from eagerexec.bench._corpus import load_corpus
from eagerexec.bench._programs import Program

TOOL = "run_code"
ARMS = ("codemode", "codemode-eager", "eagerexec")


def _tool_result(messages: list[Any]) -> str:
    from pydantic_ai.messages import RetryPromptPart, ToolReturnPart

    for message in messages:
        for part in getattr(message, "parts", ()):
            if (
                isinstance(part, ToolReturnPart | RetryPromptPart)
                and getattr(part, "tool_name", TOOL) == TOOL
            ):
                return (
                    part.content if isinstance(part.content, str) else json.dumps(part.content, default=str)
                )
    return ""


def _error_class(result: str) -> str:
    """The exception class named on the last ``Name: message`` line of a Monty error, or ``""``."""
    if (
        not result.startswith(("Runtime error", "Syntax error", "Error", "Type error"))
        and "Traceback" not in result
    ):
        return ""
    for line in reversed(result.strip().splitlines()):
        head = line.split(":", 1)[0].strip()
        if head.isidentifier() and (
            head.endswith(("Error", "Exception")) or head in {"StopIteration", "KeyboardInterrupt"}
        ):
            return head
    return result.splitlines()[0][:60]


async def _drain(ctx: Any, events: Any) -> None:
    async for _ in events:
        pass


def _mount() -> Any:
    """A fresh temporary directory mounted read-write at ``/``: the programs read and write relative paths."""
    from pydantic_monty import MountDir  # type: ignore[import-not-found]

    return MountDir(virtual_path="/", host_path=tempfile.mkdtemp(prefix="bench-cm-"), mode="read-write")


# -- phase 1 ------------------------------------------------------------------------------------
async def monty_check(program: Program, timeout: float) -> dict[str, Any]:
    """Run one program whole on CodeMode; say whether Monty ran it and why not."""
    from pydantic_ai import Agent
    from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel
    from pydantic_ai_harness import CodeMode  # type: ignore[import-not-found]

    async def model(messages: list[Any], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
        if len(messages) > 1:
            yield "done"
            return
        yield {0: DeltaToolCall(name=TOOL, json_args=json.dumps({"code": program.code}), tool_call_id="c1")}

    agent: Any = Agent(FunctionModel(stream_function=model), capabilities=[CodeMode(mount=_mount())])
    t0 = time.monotonic()
    try:
        run = await asyncio.wait_for(agent.run("go", event_stream_handler=_drain), timeout)
    except TimeoutError:
        return {
            "program": program.name,
            "expect": program.expect,
            "runs": False,
            "error": "Timeout",
            "detail": f">{timeout:.0f}s",
        }
    result = _tool_result(run.all_messages())
    error = _error_class(result)
    expected = program.expect.removeprefix("error").strip()
    runs = not error or (bool(expected) and error == expected)
    named = [ln for ln in result.splitlines() if error and ln.startswith(error + ":")]
    last = named[-1:] or [ln for ln in result.strip().splitlines() if ln.strip()][-1:] or [""]
    return {
        "program": program.name,
        "expect": program.expect,
        "runs": runs,
        "error": error,
        "detail": last[0][:160] if error else "",
        "seconds": time.monotonic() - t0,
    }


# -- phase 2 ------------------------------------------------------------------------------------
def inject_failure(program: Program) -> Program:
    """The program with ``1 / 0`` before its top-level statement at 40 % (a failing variant)."""
    body = ast.parse(program.code).body
    at = body[max(1, int(len(body) * 0.4))].lineno if len(body) > 1 else len(program.code.splitlines()) + 1
    lines = program.code.splitlines(keepends=True)
    lines.insert(at - 1, "_injected = 1 / 0\n")
    return replace(
        program, name=program.name + "+fail", code="".join(lines), expect="error ZeroDivisionError"
    )


async def stream_once(program: Program, tps: float, arm: str, backend: str) -> dict[str, Any]:
    """One agent run of ``program`` streamed at ``tps`` on ``arm``."""
    from pydantic_ai import Agent
    from pydantic_ai.models.function import FunctionModel

    clock, model = scripted_tool_call(program, tps, TOOL)

    if arm == "eagerexec":
        from eagerexec.integrations.pydantic_ai import EagerPython

        workdir = tempfile.mkdtemp(prefix="bench-cm-")
        for rel, data in program.files:
            (Path(workdir) / rel).parent.mkdir(parents=True, exist_ok=True)
            (Path(workdir) / rel).write_bytes(data)
        capability: Any = EagerPython(backend, tool_name=TOOL, workdir=workdir, timeout=300)
    else:
        from pydantic_ai_harness import CodeMode

        capability = CodeMode(eager=arm == "codemode-eager", mount=_mount())
    agent: Any = Agent(FunctionModel(stream_function=model), capabilities=[capability])

    clock.start = time.monotonic()
    run = await agent.run("go", event_stream_handler=_drain)
    result = _tool_result(run.all_messages())
    return {
        "program": program.name,
        "arm": arm,
        "failing": program.expect.startswith("error"),
        **clock.row(),
        "result_head": result[:120],
    }


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows) if rows else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--tps", type=float, default=100.0)
    parser.add_argument("--check-timeout", type=float, default=30.0)
    parser.add_argument("--programs", default="", help="comma-separated program names (default: all bundled)")
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--backend", default="sandbox", help="eagerexec backend for the eagerexec arm")
    parser.add_argument("--no-variants", action="store_true", help="skip the injected-failure variants")
    parser.add_argument("--repeat", type=int, default=1, help="runs per program and arm (medians over all)")
    parser.add_argument("--json", default=None)
    opts = parser.parse_args()
    programs = load_corpus("bundled")
    if opts.programs:
        wanted = set(opts.programs.split(","))
        programs = [p for p in programs if p.name in wanted]
    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    try:
        print(f"load average: {os.getloadavg()[0]:.1f}")
    except OSError:
        pass

    checks = []
    for program in programs:
        row = asyncio.run(monty_check(program, opts.check_timeout))
        checks.append(row)
        print(
            f"monty {program.name:28} {'runs' if row['runs'] else 'FAILS':5} {row['error']:22} {row['detail'][:80]}",
            flush=True,
        )
    runnable = [p for p, c in zip(programs, checks, strict=True) if c["runs"]]
    print(f"\nMonty runs {len(runnable)}/{len(programs)} programs")

    todo = list(runnable)
    if not opts.no_variants:
        todo += [inject_failure(p) for p in runnable if p.expect == "ok"]
    rows: list[dict[str, Any]] = []
    arms = opts.arms.split(",")
    for program in [p for p in todo for _ in range(opts.repeat)]:
        for arm in arms:
            row = asyncio.run(stream_once(program, opts.tps, arm, opts.backend))
            rows.append(row)
            print(
                f"{program.name:32} {arm:15} NEL {row['nel']:7.3f}s  E2EL {row['e2el']:7.2f}s  "
                f"tokens {row['tokens_sent']}/{row['tokens_total']}  | {row['result_head'][:50]!r}",
                flush=True,
            )
    summary = []
    for kind, pick in (("ok", lambda r: not r["failing"]), ("failing", lambda r: r["failing"])):
        for arm in arms:
            sel = [r for r in rows if r["arm"] == arm and pick(r)]
            if not sel:
                continue
            s = {
                "kind": kind,
                "arm": arm,
                "runs": len(sel),
                "nel_median": _median(sel, "nel"),
                "e2el_median": _median(sel, "e2el"),
                "tokens_saved": sum(r["tokens_saved"] for r in sel),
                "tokens_total": sum(r["tokens_total"] for r in sel),
            }
            summary.append(s)
            print(
                f"  {kind:8} {arm:15} n={s['runs']} NEL {s['nel_median']:.3f}s E2EL {s['e2el_median']:.2f}s "
                f"tokens not generated {s['tokens_saved']}/{s['tokens_total']}"
            )
    if opts.json:
        out = {
            "tps": opts.tps,
            "repeat": opts.repeat,
            "backend": opts.backend,
            "monty": checks,
            "runs": rows,
            "summary": summary,
        }
        with open(opts.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
