import sys

print("out 1")
print("err 1", file=sys.stderr)
sys.stdout.write("out no newline")
sys.stderr.write("err no newline")
