x: int = 1
y: "list[str]"
z: dict = {}
print(__annotations__)


def f(a: int, b: str = "b") -> float:
    return 1.0


print(f.__annotations__)
