# expect: ok
# Decorator-heavy class: register, total_ordering, class/static methods, (cached_)property.
import functools

REGISTRY = {}


def register(cls):
    REGISTRY[cls.__name__.lower()] = cls
    return cls


def audited(method):
    @functools.wraps(method)
    def wrapper(self, *args):
        self.audit.append(method.__name__)
        return method(self, *args)

    return wrapper


@register
@functools.total_ordering
class Money:
    def __init__(self, cents):
        self.cents = cents
        self.audit = []

    @classmethod
    def from_str(cls, text):
        units, _, cents = text.partition(".")
        return cls(int(units) * 100 + int(cents or 0))

    @staticmethod
    def fmt(cents):
        return f"${cents // 100}.{cents % 100:02d}"

    @property
    def dollars(self):
        return self.cents / 100

    @functools.cached_property
    def label(self):
        return self.fmt(self.cents)

    @audited
    def add(self, other):
        return Money(self.cents + other.cents)

    def __eq__(self, other):
        return self.cents == other.cents

    def __lt__(self, other):
        return self.cents < other.cents


a, b = Money.from_str("3.50"), Money(275)
c = a.add(b)
print(c.label, a.audit, a > b, a >= b, sorted([a, b, c])[0].label)
print(b.dollars, Money.fmt(999), list(REGISTRY))
