import contextlib

total = 0
for i in range(5):
    if i % 2:
        continue
    total += i
else:
    print("for-else", total)
try:
    {}["k"]
except KeyError as e:
    print("caught", repr(e))
else:
    print("no")
finally:
    print("finally")
with contextlib.suppress(ZeroDivisionError):
    1 / 0
print("suppressed")
while total:
    total -= 1
print(total)
