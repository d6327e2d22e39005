import sys

print(repr(sys.stdin.read()))
print(sys.stdin.isatty())
line = input("prompt> ")
print("never", line)
