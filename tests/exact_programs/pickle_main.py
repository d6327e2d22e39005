import pickle
from dataclasses import dataclass


@dataclass
class Point:
    x: int
    y: int


def double(v):
    return 2 * v


p = pickle.loads(pickle.dumps(Point(1, 2)))
print(p, type(p).__module__, type(p).__qualname__)
print(pickle.loads(pickle.dumps(double))(21))
print(double.__module__, Point.__module__)
