import sys

print(sys.stdout.isatty(), sys.stderr.isatty(), sys.stdin.isatty())
print(sys.stdout.fileno(), sys.stderr.fileno(), sys.stdin.fileno())
print(sys.stdout is sys.__stdout__, sys.stderr is sys.__stderr__, sys.stdin is sys.__stdin__)
print(sys.stdout.line_buffering, sys.stdout.errors, sys.stderr.errors)
print(type(sys.stdout).__name__, type(sys.stdout.buffer).__name__)
