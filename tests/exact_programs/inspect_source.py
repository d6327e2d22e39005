import inspect


def greet(name):
    """Say hello."""
    return f"hello {name}"


class Box:
    size = 3

    def area(self):
        return self.size ** 2


print(inspect.getsource(greet), end="")
print(inspect.getsource(Box), end="")
print(inspect.getsourcelines(Box.area)[1])
print(inspect.getmodule(greet).__name__)
print(inspect.getfile(greet).endswith("program.py"))
