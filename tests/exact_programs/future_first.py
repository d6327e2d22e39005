"""Docstring, then the future import: allowed."""
from __future__ import annotations


def f(a: Undefined) -> AlsoUndefined:
    return a


print(f.__annotations__)
print(f(3))
