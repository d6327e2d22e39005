# expect: ok
# Context managers: class-based, contextlib.contextmanager, suppress and ExitStack.
import contextlib

events = []


class Tracker:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        events.append(f"enter {self.name}")
        return self

    def __exit__(self, exc_type, exc, tb):
        events.append(f"exit {self.name} ({exc_type.__name__ if exc_type else 'clean'})")
        return exc_type is KeyError


@contextlib.contextmanager
def tagged(tag):
    events.append(f"<{tag}>")
    try:
        yield tag.upper()
    finally:
        events.append(f"</{tag}>")


with Tracker("a") as t, tagged("b") as upper:
    events.append(f"body {t.name} {upper}")
with Tracker("swallow"):
    {}["missing"]
with contextlib.suppress(ZeroDivisionError):
    1 / 0
with contextlib.ExitStack() as stack:
    for name in ["x", "y"]:
        stack.enter_context(tagged(name))
print("\n".join(events))
