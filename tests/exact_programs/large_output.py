import sys

for i in range(30000):
    print(i, "x" * 10)
print("err tail", file=sys.stderr)
