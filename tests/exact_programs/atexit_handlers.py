import atexit
import sys


def first():
    print("atexit: registered first, runs last")


def second(name):
    print("atexit: second,", name)
    print("atexit on stderr", file=sys.stderr)


atexit.register(first)
atexit.register(second, "with an argument")
print("main code done")
