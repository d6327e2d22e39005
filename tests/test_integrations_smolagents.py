"""eagerexec.integrations.smolagents: a real ``CodeAgent`` with the ``EagerExecutor`` and a
smolagents ``Model`` subclass streaming scripted answers (``<code>`` tags and markdown fences),
fed whole, by character and in random pieces."""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections.abc import Generator, Iterator
from typing import Any

import pytest

pytest.importorskip("smolagents")

from smolagents import CodeAgent, Tool
from smolagents.models import ChatMessage, ChatMessageStreamDelta, MessageRole, Model, TokenUsage
from streams import SPLITS
from streams import split as pieces

from eagerexec import MissingExtraError, UsageError
from eagerexec.integrations.smolagents import EagerExecutor, TagExtractor


class ScriptedModel(Model):
    """A smolagents model answering from a script, streamed in pieces (a delay between pieces
    plays a model still generating). Records what it was asked and how much it sent."""

    def __init__(self, answers: list[str], split: str = "random", delay: float = 0.0) -> None:
        super().__init__(model_id="scripted")
        self.answers = list(answers)
        self.split = split
        self.delay = delay
        self.sent = 0
        self.total = 0
        self.seen: list[list[Any]] = []

    def generate(self, messages: list[Any], stop_sequences: list[str] | None = None, **kw: Any) -> ChatMessage:
        self.seen.append(list(messages))
        return ChatMessage(role=MessageRole.ASSISTANT, content=self.answers.pop(0))

    def generate_stream(
        self, messages: list[Any], stop_sequences: list[str] | None = None, **kw: Any
    ) -> Generator[ChatMessageStreamDelta, None, None]:
        self.seen.append(list(messages))
        parts = pieces(self.answers.pop(0), self.split)
        self.total += len(parts)
        for part in parts:
            self.sent += 1
            if self.delay:
                time.sleep(self.delay)
            yield ChatMessageStreamDelta(content=part, token_usage=TokenUsage(input_tokens=0, output_tokens=1))


def seen_text(messages: list[Any]) -> str:
    return "\n".join(str(m.content if hasattr(m, "content") else m) for m in messages)


@pytest.fixture
def executor() -> Iterator[EagerExecutor]:
    with EagerExecutor(timeout=30) as ex:
        yield ex


def agent_for(executor: EagerExecutor, model: Model, **kw: Any) -> CodeAgent:
    return CodeAgent(tools=kw.pop("tools", []), model=executor.wrap_model(model), executor=executor,
                     max_steps=6, verbosity_level=0, **kw)


@pytest.mark.parametrize("split", SPLITS)
def test_multi_step_state_and_final_answer(executor: EagerExecutor, split: str) -> None:
    model = ScriptedModel(
        [
            "Thought: set up.\n<code>\nimport statistics\nxs = [3, 1, 2]\nprint('n =', len(xs))\n</code>",
            "Thought: use it.\n<code>\nm = statistics.mean(xs)\nprint('mean', m)\n</code>",
            "Thought: answer.\n<code>\nfinal_answer({'mean': m, 'sorted': sorted(xs)})\n</code>",
        ],
        split=split,
    )
    agent = agent_for(executor, model, stream_outputs=True)

    answer = agent.run("mean of xs")

    assert answer == {"mean": 2, "sorted": [1, 2, 3]}
    observations = [step.observations for step in agent.memory.steps[1:]]
    assert "n = 3" in observations[0] and "mean 2" in observations[1]
    assert "n = 3" in seen_text(model.seen[1])  # the logs reached the model
    steps = [r for r in executor.results if "class FinalAnswerException" not in r.code]  # not the set-up run
    assert len(steps) == 3  # each step's code ran once


def test_markdown_fences_and_generate_without_stream_outputs(executor: EagerExecutor) -> None:
    model = ScriptedModel(
        [
            "I'll compute it.\n```python\ntotal = sum(range(10))\nprint(total)\n```\n",
            "```py\nfinal_answer(total * 2)\n```",
        ]
    )
    agent = agent_for(executor, model, stream_outputs=False)

    assert agent.run("sum") == 90
    assert "45" in agent.memory.steps[1].observations
    assert len(executor.results) == 3, [r.code for r in executor.results]  # final_answer's definition, then the two steps, once each


@pytest.mark.parametrize("split", SPLITS)
def test_structured_outputs_stream_the_code_field(executor: EagerExecutor, split: str) -> None:
    answers = [
        json.dumps({"thought": "start", "code": "word = 'caf\u00e9'\nprint(word.upper())"}),
        json.dumps({"thought": "done", "code": "final_answer(len(word))"}),
    ]
    model = ScriptedModel(answers, split=split)
    agent = agent_for(executor, model, stream_outputs=True, use_structured_outputs_internally=True)

    assert agent.run("shout") == 4
    assert "CAFÉ" in agent.memory.steps[1].observations
    assert [r.code for r in executor.results[1:]] == ["word = 'café'\nprint(word.upper())", "final_answer(len(word))"]


@pytest.mark.parametrize("split", SPLITS)
def test_error_stops_the_stream_and_reaches_the_model(executor: EagerExecutor, split: str) -> None:
    failing = "Thought: go.\n<code>\nprint('before')\nratio = 1 / 0\n" + "print('AFTER-MARK')\n" * 1500 + "</code>"
    model = ScriptedModel([failing, "<code>\nfinal_answer('recovered')\n</code>"], split=split, delay=0.001)
    agent = agent_for(executor, model, stream_outputs=True)

    assert agent.run("divide") == "recovered"

    step = agent.memory.steps[1]
    assert step.error is not None
    message = str(step.error)
    assert "ZeroDivisionError: division by zero" in message and "ratio = 1 / 0" in message
    assert "before" in step.observations and "AFTER-MARK" not in step.observations
    if split != "whole":  # (one piece: nothing left to stop)
        assert model.sent < len(pieces(failing, split)) / 2  # the model's stream was closed early
    assert "ZeroDivisionError" in seen_text(model.seen[1])  # the error reached the model


@pytest.mark.parametrize("form", ["fences", "json"])
def test_a_cut_answer_still_parses(executor: EagerExecutor, form: str) -> None:
    code = "print('before')\nratio = 1 / 0\n" + "print('AFTER-MARK')\n" * 1500
    if form == "fences":
        answers = [f"Thought: go.\n```python\n{code}```\n", "```python\nfinal_answer('recovered')\n```"]
    else:
        answers = [json.dumps({"thought": "go", "code": code}), json.dumps({"thought": "ok", "code": "final_answer('recovered')"})]
    model = ScriptedModel(answers, delay=0.001)
    agent = agent_for(executor, model, stream_outputs=True, use_structured_outputs_internally=form == "json")

    assert agent.run("divide") == "recovered"

    step = agent.memory.steps[1]
    assert "ZeroDivisionError: division by zero" in str(step.error)  # not a parsing error
    assert model.sent < len(pieces(answers[0], "random")) / 2
    assert "AFTER-MARK" not in step.observations


def test_tools_and_variables_are_sent(executor: EagerExecutor) -> None:
    class Double(Tool):
        name = "double"
        description = "Doubles a number."
        inputs = {"x": {"type": "number", "description": "the number"}}
        output_type = "number"

        def forward(self, x: float) -> float:
            return x * 2

    model = ScriptedModel(["<code>\nfinal_answer(double(base))\n</code>"])
    agent = agent_for(executor, model, tools=[Double()], stream_outputs=True)

    assert agent.run("double it", additional_args={"base": 21}) == 42


def test_executor_alone_runs_code_it_did_not_see_stream(executor: EagerExecutor) -> None:
    executor.send_tools({})
    out = executor("x = 2\nprint(x ** 10)")
    assert (out.logs, out.output, out.is_final_answer) == ("1024\n", None, False)
    final = executor("final_answer(f'x={x}')")
    assert (final.output, final.is_final_answer) == ("x=2", True)
    with pytest.raises(Exception, match="NameError: name 'nope' is not defined"):
        executor("print('partial')\nnope")
    assert executor.state["_print_outputs"] == "partial\n"


def test_planning_calls_run_no_code(executor: EagerExecutor) -> None:
    model = ScriptedModel(["Plan:\n<code>\nraise SystemExit('must not run')\n</code>\n<end_plan>"])
    deltas = list(executor.wrap_model(model).generate_stream([], stop_sequences=["<end_plan>"]))
    assert "".join(d.content or "" for d in deltas).startswith("Plan:")
    assert executor.results == []


def test_send_variables_rejects_what_json_cannot_carry(executor: EagerExecutor) -> None:
    with pytest.raises(UsageError, match="JSON"):
        executor.send_variables({"f": object()})


@pytest.mark.parametrize("split", SPLITS)
def test_tag_extractor(split: str) -> None:
    text = "Thought: <co\n<code>\n  a = 1\nb = '<code>'\n</code> between <code>c = 3</code> tail <code>\nd = 4\n</c"
    ex = TagExtractor()
    got = "".join(ex.feed(p) for p in pieces(text, split)) + ex.close()
    assert got == "a = 1\nb = '<code>'\n\n\nc = 3\n\nd = 4\n"  # a partial closing tag dropped


def test_missing_framework_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "eagerexec.integrations.smolagents")
    monkeypatch.setitem(sys.modules, "smolagents", None)
    with pytest.raises(MissingExtraError, match=r"'smolagents' extra"):
        importlib.import_module("eagerexec.integrations.smolagents")
