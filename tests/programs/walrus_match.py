# expect: ok
# Assignment expressions and structural pattern matching.
import re


def describe(command):
    match command.split():
        case ["go", direction] if direction in {"north", "south"}:
            return f"walking {direction}"
        case ["go", _]:
            return "cannot go that way"
        case ["take", *items] if items:
            return "taking " + ", ".join(items)
        case ["quit" | "exit"]:
            return "bye"
        case []:
            return "say something"
        case _:
            return f"unknown: {command!r}"


for cmd in ["go north", "go west", "take lamp key", "exit", "", "dance"]:
    print(describe(cmd))


def shape_area(shape):
    match shape:
        case {"kind": "circle", "r": r}:
            return round(3.14159 * r * r, 2)
        case {"kind": "rect", "w": w, "h": h}:
            return w * h
        case (x, y):
            return f"point at {x},{y}"
    return None


print([shape_area(s) for s in [{"kind": "circle", "r": 2}, {"kind": "rect", "w": 3, "h": 4}, (1, 2), 7]])

data = [4, 8, 15, 16, 23, 42]
if (n := len(data)) > 5:
    print(f"long list ({n} items)")
print([y for x in data if (y := x * 2) > 30])
lines = iter(["id=7", "junk", "id=12"])
while (line := next(lines, None)) is not None:
    if m := re.match(r"id=(\d+)", line):
        print("found id", m.group(1))
