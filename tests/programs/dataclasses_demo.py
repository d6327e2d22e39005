# expect: ok
# Dataclasses: defaults, field(default_factory), ordering, frozen, asdict, replace.
from dataclasses import asdict, dataclass, field, replace


@dataclass(order=True)
class Version:
    major: int
    minor: int = 0
    patch: int = 0

    def __str__(self):
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass
class Inventory:
    owner: str
    items: list[str] = field(default_factory=list)

    def add(self, item):
        self.items.append(item)
        return self


versions = [Version(1, 2), Version(1, 10, 3), Version(0, 9), Version(1, 2, 1)]
print("sorted:", [str(v) for v in sorted(versions)])
print("newest:", max(versions))
p = Point(1.0, 2.0)
print(p, replace(p, y=5.0), asdict(p))
try:
    p.x = 3.0
except Exception as err:
    print("frozen:", type(err).__name__)
inv = Inventory("sam").add("rope").add("lamp")
print(inv)
print(Inventory("kim"), Inventory("kim") == Inventory("kim"))
