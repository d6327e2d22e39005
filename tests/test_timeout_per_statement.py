"""``timeout`` is per statement (issue 14) on the worker backends, through a whole run: a program
whose statements each fit the timeout completes however long it runs in all (serial mode sends
it as one call; eager mode batches several statements per call), and the one statement that runs
too long is stopped and reported, the output of the statements before it kept.

No test asserts a duration: the bounds only catch a hang.
"""

from __future__ import annotations

import time

import pytest

from eagerexec import run

# each statement sleeps 0.6 s: 1.8 s in all, each well within the 1 s timeout
SLEEPY = "import time\nprint('a', flush=True)\ntime.sleep(0.6)\ntime.sleep(0.6)\ntime.sleep(0.6)\nprint('b')\n"
STUCK = "import time\nprint('before', flush=True)\ntime.sleep(0.3)\ntime.sleep(5)\nprint('never')\n"


@pytest.mark.parametrize("backend", ["local", "sandbox", "jupyter"])
@pytest.mark.parametrize("mode", ["serial", "eager"])
def test_statements_within_the_timeout_complete(backend: str, mode: str) -> None:
    result = run(SLEEPY, backend=backend, mode=mode, timeout=1.0)
    assert result.error is None, result.error
    assert result.stdout == "a\nb\n"
    assert not result.state_lost


@pytest.mark.parametrize("backend", ["local", "sandbox", "jupyter"])
@pytest.mark.parametrize("mode", ["serial", "eager"])
def test_a_statement_over_the_timeout_is_stopped_and_reported(backend: str, mode: str) -> None:
    started = time.monotonic()
    result = run(STUCK, backend=backend, mode=mode, timeout=1.0)
    assert time.monotonic() - started < 30  # a bound against a hang, not a timing
    assert result.error is not None and result.error.type == "TimeoutError"
    assert "timeout" in result.error.message
    assert result.error.statement_line == 4  # the statement that ran too long
    assert result.stdout == "before\n"  # what ran before it is kept; nothing after it ran
