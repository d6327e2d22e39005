# expect: ok
# Enum, IntEnum, Flag, NamedTuple and typing helpers.
from enum import Enum, Flag, IntEnum, auto
from typing import NamedTuple


class Color(Enum):
    RED = "r"
    GREEN = "g"
    BLUE = "b"


class Priority(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3


class Perm(Flag):
    READ = auto()
    WRITE = auto()
    EXEC = auto()


class Task(NamedTuple):
    title: str
    priority: Priority = Priority.LOW
    done: bool = False


print([c.name for c in Color], Color("g"), Color.BLUE.value)
tasks = [Task("write", Priority.HIGH), Task("read"), Task("test", Priority.MEDIUM, True)]
for task in sorted(tasks, key=lambda t: t.priority, reverse=True):
    print(f"{task.title:<6} {task.priority.name:<6} {'x' if task.done else ' '}")
print(Priority.HIGH > Priority.LOW, Priority(2), int(Priority.MEDIUM) + 1)
rw = Perm.READ | Perm.WRITE
print(Perm.WRITE in rw, Perm.EXEC in rw, rw.value)
print(tasks[0]._replace(done=True), tasks[1]._asdict())
