# expect: ok
# Statements joined with semicolons, also in one-line compound statements.
import math; import json; x = 3; y = 4
print(x, y); print(math.hypot(x, y))
a = []; a.append(1); a.append(2); a += [3]; print(a)
total = 0
for i in range(4): total += i; print("partial", total)
if total > 5: print("big"); total = 0
print("reset", total)
def sq(n): return n * n
print(json.dumps([sq(k) for k in a])); del a; print("a" in dir())
