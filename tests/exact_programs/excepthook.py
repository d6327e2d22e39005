import sys


def hook(etype, value, tb):
    print("custom hook:", etype.__name__, value)


sys.excepthook = hook
print("set")
raise RuntimeError("handled by the hook")
