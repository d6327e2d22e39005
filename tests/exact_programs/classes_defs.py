class Base:
    registry = []

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        Base.registry.append(cls.__name__)


class A(Base):
    pass


@staticmethod
def helper():
    return "h"


def deco(f):
    def wrapped(*a):
        return ("deco", f(*a))
    return wrapped


@deco
def g(x):
    return x + 1


print(Base.registry, A.__module__, A.__qualname__, g(1), repr(A())[:18])
