"""smolagents + eagerexec, no key needed: a scripted model streams the bundled demo program in a
``<code>`` block at 100 tokens/s to a ``CodeAgent`` whose executor is eagerexec's; its
statements run while it streams, then the model gives its final answer.

    pip install -e '.[smolagents,data]' && python examples/smolagents_demo.py
"""

from __future__ import annotations

import time
from collections.abc import Generator
from importlib import resources
from typing import Any

from smolagents import CodeAgent
from smolagents.models import ChatMessageStreamDelta, Model, TokenUsage

from eagerexec.integrations.smolagents import EagerExecutor
from eagerexec.sources import split_tokens

TPS = 100.0
PROGRAM = resources.files("eagerexec").joinpath("examples/demo.py").read_text(encoding="utf-8")
ANSWERS = [
    f"Thought: I will analyse the sales.\n<code>\n{PROGRAM}\n</code>",
    "Thought: the analysis ran.\n<code>\nfinal_answer('The chart is in sales_trend.png')\n</code>",
]
last_token = 0.0


class ScriptedModel(Model):
    """Answers from ANSWERS, streamed token by token at TPS tokens per second."""

    def __init__(self) -> None:
        super().__init__(model_id="scripted")
        self.answers = list(ANSWERS)

    def generate_stream(self, messages: list[Any], **kwargs: Any) -> Generator[ChatMessageStreamDelta, None, None]:
        global last_token
        for token in split_tokens(self.answers.pop(0)):
            time.sleep(1 / TPS)
            yield ChatMessageStreamDelta(content=token, token_usage=TokenUsage(input_tokens=0, output_tokens=1))
        last_token = time.monotonic()


def main() -> None:
    with EagerExecutor(timeout=120) as executor:
        agent = CodeAgent(tools=[], model=executor.wrap_model(ScriptedModel()), executor=executor,
                          stream_outputs=True, verbosity_level=0)
        start = time.monotonic()
        answer = agent.run("Analyse the coffee sales.")
        done = time.monotonic()
        print(agent.memory.steps[1].observations[:600])
    print(answer)
    print(f"run {done - start:.1f}s; the model finished writing the last answer {last_token - start:.1f}s in")


if __name__ == "__main__":
    main()
