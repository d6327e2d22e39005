"""The module's docstring."""
import os
import sys

print(__name__)
print(os.path.basename(__file__))
print(__doc__)
print(type(__builtins__).__name__)
print(__spec__, __package__)
print(sorted(k for k in globals() if k.startswith("__")))
print(os.path.basename(sys.argv[0]), sys.argv[1:])
print(sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
print(os.getcwd() == os.path.dirname(os.path.abspath(__file__)))
