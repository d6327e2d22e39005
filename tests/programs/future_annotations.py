# expect: ok
# Under `from __future__ import annotations` annotations are never evaluated, so a
# forward reference and a name that does not exist at all both work.
from __future__ import annotations

from dataclasses import dataclass


def build(values: list[Node]) -> Tree:
    return Tree([Node(v) for v in values])


budget: NotDefinedAnywhere = 12


@dataclass
class Node:
    value: int
    parent: Node | None = None


@dataclass
class Tree:
    nodes: list[Node]

    def total(self) -> int:
        return sum(n.value for n in self.nodes)


tree = build([3, 4, 5])
print(tree.total(), budget)
print(build.__annotations__)
print(Node.__annotations__["parent"])
